// The harness's LiteRT.js engine: the .tflite artifact on LiteRT.js's wasm (XNNPACK) or WebGPU accelerator.
// Loaded by harness.js only for engine 'litert'; `h` carries the harness's helpers (mark, fetchTyped,
// runLoopAsync, summaryOf) so both pages share one progress, timing and output contract.
import { open } from './litert_run.js';

const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i] || (Number.isNaN(v) && Number.isNaN(b[i])));

async function start(job, gpu) {
  const lrt = await import(job.vendor + 'index.js');
  const jspi = 'Suspending' in WebAssembly;
  const threaded = !gpu && job.threads > 1 && self.crossOriginIsolated === true;
  // WebGPU needs JSPI to hand the ops it cannot run back to wasm; threads and JSPI are exclusive builds.
  await lrt.loadLiteRt(job.vendor, gpu ? { jspi } : (threaded ? { threads: true } : {}));
  const liteRt = lrt.getGlobalLiteRt();
  let device = null;
  if (gpu) {
    const dev = liteRt.getWebGpuDevice();
    if (!dev) throw new Error('LiteRT.js found no WebGPU device in this browser (no adapter)');
    const info = dev.adapterInfo || {};
    device = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  }
  const wasmFile = performance.getEntriesByType('resource').map((e) => e.name.split('/').pop())
    .find((n) => n.startsWith('litert_wasm') && n.endsWith('.wasm')) || 'unknown';
  return { lrt, jspi, threads: threaded ? job.threads : 1, device, wasmFile };
}

function pairInputs(job, runner, inputs) {
  const byName = new Map(runner.inputs.map((t, i) => [t.name, i]));
  const order = inputs.map((inp) => byName.get(inp.name));
  if (order.some((i) => i === undefined) || runner.inputs.length !== inputs.length) {
    throw new Error(`inputs ${inputs.map((i) => i.name).join(', ')} do not match the .tflite signature's ` +
      `${runner.inputs.map((t) => `${t.name} (${t.dtype})`).join(', ')}`);
  }
  inputs.forEach((inp, k) => {
    const want = runner.inputs[order[k]].dtype;
    if (want !== inp.dtype) throw new Error(`input ${inp.name}: the model takes ${want}, the job sent ${inp.dtype}`);
  });
  const outIdx = job.output_names.map((n) => runner.outputs.findIndex((t) => t.name === n));
  if (outIdx.some((i) => i < 0)) {
    throw new Error(`outputs ${job.output_names.join(', ')} are not all in the .tflite signature's ` +
      `${runner.outputs.map((t) => t.name).join(', ')}`);
  }
  return { order, outIdx };
}

export async function runLiteRt(job, h) {
  const notes = [];
  const gpu = job.backend === 'webgpu';
  const t0 = performance.now();
  h.mark('starting LiteRT.js', job.backend);
  const env = await start(job, gpu);
  const backendMs = performance.now() - t0;
  notes.push(`LiteRT.js wasm build ${env.wasmFile}` + (gpu ? `, JSPI ${env.jspi}` : ''));

  h.mark('reading the inputs');
  const inputs = [];
  for (const spec of job.inputs) inputs.push({ ...spec, data: await h.fetchTyped(spec) });
  const nSamples = inputs[0].shape[0];

  h.mark('loading the model', job.model_url);
  const tLoad = performance.now();
  const runner = await open(env.lrt, job.model_url, { accelerator: gpu ? 'webgpu' : 'wasm', threads: env.threads });
  const loadMs = performance.now() - tLoad;

  if (gpu) notes.push(runner.fullyAccelerated ? 'every op on WebGPU' : 'not fully on WebGPU: some ops ran on wasm (JSPI)');
  const { order, outIdx } = pairInputs(job, runner, inputs);

  const feedsFor = (i) => {
    const arr = new Array(inputs.length);
    inputs.forEach((inp, k) => {
      const per = inp.data.length / nSamples;
      arr[order[k]] = inp.data.slice(i * per, (i + 1) * per);
    });
    return arr;
  };
  // One call = tensors in, run, data back in JS memory and every tensor deleted: what an app does per inference.
  const step = async (feeds, keep) => {
    const t = performance.now();
    const outs = await runner.run(feeds);
    const ms = performance.now() - t;
    if (keep) keep.push(outIdx.map((j) => ({ shape: runner.outputs[j].shape, dtype: runner.outputs[j].dtype, data: outs[j] })));
    return ms;
  };
  h.mark('first inference');
  const feeds0 = feedsFor(0);
  const firstOut = [];
  const firstMs = await step(feeds0, firstOut);
  if (job.requires_state_reset) {
    // The fused LSTM keeps its state in variable tensors; LiteRT.js has no reset_all_variables().
    const again = [];
    await step(feeds0, again);
    if (!firstOut[0].every((o, k) => same(o.data, again[0][k].data))) {
      runner.close();
      throw new Error('the fused LSTM op keeps its state between runs and LiteRT.js has no reset ' +
        '(reset_all_variables): a second run on the same input differs; convert with --lstm unroll for the web');
    }
    notes.push('fused LSTM state: a second run on the same input matched the first');
  }
  h.mark('warm-up');
  const warm = await h.runLoopAsync(() => step(feeds0), job.warmup, job.warmup_min_time, job.max_time);
  h.mark('timed runs');
  const measured = await h.runLoopAsync(() => step(feeds0), job.runs, job.min_time, job.max_time);
  const perSample = [];
  const inferTimes = [];
  for (let i = 0; i < nSamples; i++) {
    h.mark('golden samples', `${i} of ${nSamples}`);
    const t = performance.now();
    await step(feedsFor(i), perSample);
    inferTimes.push(performance.now() - t);
  }
  runner.close();
  return {
    ...h.summaryOf(warm, measured, perSample, job.output_names, nSamples, inferTimes),
    backend: gpu ? 'webgpu' : 'wasm', threads: env.threads, device: env.device,
    backend_init_ms: backendMs, load_ms: loadMs, first_ms: firstMs,
    versions: { 'litert-wasm': env.wasmFile }, notes,
  };
}
