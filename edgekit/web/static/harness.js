// edgekit's in-browser validation harness. The Python side (edgekit/web/browser.py) serves this page,
// the model and the vendored libraries from one 127.0.0.1 server, then calls `window.edgekit.start(job)`
// and polls `window.edgekit.poll(seen)` until the job is done; everything measured here uses performance.now().
// Every step of the job marks progress (stage, detail): a page that stops making progress while
// Chromium sits idle is reported by the Python side as a stall naming the stage, never waited on forever.
//
// job = {engine: 'tfjs'|'onnx'|'litert', backend: 'wasm'|'webgl'|'webgpu', threads, model_url, vendor,
//        inputs: [{name, dtype: 'float32'|'int32'|'int8'|'uint8', shape: [N, ...], url}], output_names: [...],
//        requires_state_reset (litert),
//        runs, warmup, min_time, max_time, warmup_min_time}          (times in seconds)
// result = {outputs: [{name, dtype, shape: [N, ...], b64}], latency: [ms...], warmup: {...}, ...}

const loaded = new Map();
// The wire dtypes of inputs and outputs (int8/uint8: quantized models' own I/O, LiteRT.js only).
const WIRE = { float32: Float32Array, int32: Int32Array, int8: Int8Array, uint8: Uint8Array };

// What the job is doing now. `progress` counts marks: the poller returns whenever it changes.
const state = { stage: 'idle', detail: '', progress: 0, done: false, error: null, result: null, page_errors: [] };

function mark(stage, detail = '') {
  state.stage = stage;
  state.detail = detail;
  state.progress += 1;
}

// Errors raised outside the job's promise chain (a library's stray callback, an unhandled rejection):
// the job may then never settle, so the poller reports them with the stall.
self.addEventListener('error', (e) => state.page_errors.push(String(e.message || e.error || e)));
self.addEventListener('unhandledrejection', (e) => {
  const r = e.reason;
  state.page_errors.push(`unhandled rejection: ${r && r.message ? r.message : String(r)}`);
});

// fetch() that reads the whole body before it resolves. tf.loadGraphModel asks for every weight shard
// at once and reads no body until all responses have started; over HTTP/1.1 Chromium opens at most six
// connections per host, so with seven or more shards larger than what the sockets buffer (~2 MB each:
// the converter's default shard is 4 MiB, i.e. any model over 24 MiB) the first six stall half-read and
// the seventh never starts: a deadlock with Chromium idle. Draining each body as it arrives frees its
// connection, and each chunk is progress.
async function fetchDrained(url, init) {
  const name = String(url).split('/').pop();
  mark(state.stage, `requesting ${name}`);
  const resp = await fetch(url, init);
  if (!resp.ok || !resp.body) return resp;
  const reader = resp.body.getReader();
  const chunks = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.byteLength;
    mark(state.stage, `${name}: ${bytes} bytes received`);
  }
  return new Response(new Blob(chunks), { status: resp.status, statusText: resp.statusText, headers: resp.headers });
}

function loadScript(url) {
  // The libraries are UMD builds that define globals (tf, ort): plain script tags, loaded once each.
  if (!loaded.has(url)) {
    loaded.set(url, new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = url;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`could not load ${url}`));
      document.head.appendChild(s);
    }));
  }
  return loaded.get(url);
}

async function fetchTyped(spec) {
  const resp = await fetch(spec.url);
  if (!resp.ok) throw new Error(`input ${spec.name}: HTTP ${resp.status} for ${spec.url}`);
  const buf = await resp.arrayBuffer();
  const Typed = WIRE[spec.dtype] || Float32Array;
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== count * Typed.BYTES_PER_ELEMENT) {
    throw new Error(`input ${spec.name}: ${buf.byteLength} bytes for shape ${JSON.stringify(spec.shape)}`);
  }
  return new Typed(buf);
}

function toBase64(typed) {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// TFLite benchmark_model's rule: keep running while (runs < N or elapsed < min_time) and elapsed <= max_time.
function runLoop(step, minRuns, minTime, maxTime) {
  const times = [];
  const start = performance.now();
  let elapsed = 0;
  while ((times.length < minRuns || elapsed < minTime) && elapsed <= maxTime) {
    times.push(step());
    mark(state.stage, `${times.length} runs`);
    elapsed = (performance.now() - start) / 1e3;
  }
  return { times, elapsed };
}

async function runLoopAsync(step, minRuns, minTime, maxTime) {
  const times = [];
  const start = performance.now();
  let elapsed = 0;
  while ((times.length < minRuns || elapsed < minTime) && elapsed <= maxTime) {
    times.push(await step());
    mark(state.stage, `${times.length} runs`);
    elapsed = (performance.now() - start) / 1e3;
  }
  return { times, elapsed };
}

function median(values) {
  const s = Float64Array.from(values).sort();
  if (!s.length) return null;
  const pos = (s.length - 1) / 2;
  return s[Math.floor(pos)] + (s[Math.ceil(pos)] - s[Math.floor(pos)]) * (pos - Math.floor(pos));
}

function stackOutputs(perSample, names, nSamples) {
  return names.map((name, k) => {
    const first = perSample[0][k];
    const sampleShape = first.shape.length >= 1 && first.shape[0] === 1 ? first.shape.slice(1) : first.shape;
    const dtype = first.dtype in WIRE ? first.dtype : 'float32';
    const Typed = WIRE[dtype];
    const per = first.data.length;
    const all = new Typed(per * nSamples);
    perSample.forEach((s, i) => {
      if (s[k].data.length !== per) throw new Error(`output ${name} changed size between samples`);
      all.set(s[k].data, i * per);
    });
    return { name, dtype, shape: [nSamples, ...sampleShape], b64: toBase64(all) };
  });
}

function summaryOf(warm, measured, perSample, names, nSamples, inferTimes) {
  const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : null);
  return {
    warmup: { count: warm.times.length, mean_ms: mean(warm.times), elapsed_s: warm.elapsed },
    latency: measured.times,
    elapsed_s: measured.elapsed,
    infer_ms: median(inferTimes),
    outputs: stackOutputs(perSample, names, nSamples),
    cross_origin_isolated: self.crossOriginIsolated === true,
  };
}

async function probe() {
  // What this browser offers, without loading any library.
  const out = { webgl: null, webgpu: null, cross_origin_isolated: self.crossOriginIsolated === true,
                user_agent: navigator.userAgent, cores: navigator.hardwareConcurrency };
  const gl = document.createElement('canvas').getContext('webgl2');
  if (gl) {
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    out.webgl = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  }
  if (navigator.gpu) {
    try {
      // A GPU process that never answers must not hang the probe (and with it every GPU row): 5 s is ample.
      const timeout = new Promise((resolve) => { setTimeout(() => resolve(null), 5000); });
      const adapter = await Promise.race([navigator.gpu.requestAdapter(), timeout]);
      if (adapter) {
        const info = adapter.info || {};
        out.webgpu = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'adapter';
      }
    } catch (e) {
      out.webgpu = null;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// TF.js

async function runTfjs(job) {
  const notes = [];
  const v = job.vendor;
  const t0 = performance.now();
  mark('starting the TF.js backend', job.backend);
  await loadScript(v + 'tf-core.min.js');
  await loadScript(v + 'tf-backend-cpu.min.js');
  await loadScript(v + 'tf-converter.min.js');
  const tf = self.tf;
  if (job.backend === 'wasm') {
    await loadScript(v + 'tf-backend-wasm.min.js');
    tf.wasm.setWasmPaths(v);
    tf.wasm.setThreadsCount(job.threads);
  } else if (job.backend === 'webgl') {
    await loadScript(v + 'tf-backend-webgl.min.js');
  } else if (job.backend === 'webgpu') {
    await loadScript(v + 'tf-backend-webgpu.min.js');
  }
  if (!(await tf.setBackend(job.backend))) throw new Error(`the ${job.backend} backend failed to initialize`);
  await tf.ready();
  const backendMs = performance.now() - t0;
  let threads = 1;
  let device = null;
  if (job.backend === 'wasm') {
    threads = tf.wasm.getThreadsCount();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    notes.push(`wasm: simd ${simd}, multithread build ${mt}`);
    if (threads < job.threads) notes.push(`asked for ${job.threads} wasm threads; tfjs runs ${threads}`);
  } else if (job.backend === 'webgl') {
    const gl = tf.backend().gpgpu.gl;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    device = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    notes.push(`webgl: float32 render targets ${tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')}`);
  }

  mark('reading the inputs');
  const inputs = [];
  for (const spec of job.inputs) inputs.push({ ...spec, data: await fetchTyped(spec) });
  const nSamples = inputs[0].shape[0];

  mark('loading the model', job.model_url);
  const tLoad = performance.now();
  const model = await tf.loadGraphModel(job.model_url, { fetchFunc: fetchDrained });
  const loadMs = performance.now() - tLoad;

  const sig = (model.modelSignature || {});
  const resolve = (requested, side, nodes) => {
    const entries = Object.entries(sig[side] || {});
    for (const [key, info] of entries) if (key === requested) return info.name;
    const strip = (n) => n.replace(/:0$/, '');
    for (const [, info] of entries) if (strip(info.name) === strip(requested)) return info.name;
    if (nodes.map(strip).includes(strip(requested))) return requested;
    throw new Error(`${side} name ${requested} is not in the model; it has ${entries.map(([k]) => k).join(', ') || nodes.join(', ')}`);
  };
  for (const inp of inputs) inp.tensorName = resolve(inp.name, 'inputs', model.inputNodes);
  const outNames = job.output_names.map((n) => resolve(n, 'outputs', model.outputNodes));

  const feedsFor = (i) => {
    const feeds = {};
    for (const inp of inputs) {
      const per = inp.data.length / nSamples;
      feeds[inp.tensorName] = tf.tensor(inp.data.subarray(i * per, (i + 1) * per), [1, ...inp.shape.slice(1)], inp.dtype);
    }
    return feeds;
  };
  const dispose = (feeds) => Object.values(feeds).forEach((t) => t.dispose());
  const asList = (r) => (Array.isArray(r) ? r : [r]);
  // execute + reading the data back: tfjs computes lazily (and on GPUs asynchronously), so the clock
  // stops only once the numbers are in JS memory, as an app would need them.
  const stepSync = (feeds, keep) => {
    const t = performance.now();
    const outs = asList(model.execute(feeds, outNames));
    const data = outs.map((o) => o.dataSync());
    const ms = performance.now() - t;
    if (keep) keep.push(outs.map((o, k) => ({ shape: o.shape, dtype: o.dtype, data: data[k] })));
    outs.forEach((o) => o.dispose());
    return ms;
  };
  const stepAsync = async (feeds, keep) => {
    const t = performance.now();
    const outs = asList(await model.executeAsync(feeds, outNames));
    const data = await Promise.all(outs.map((o) => o.data()));
    const ms = performance.now() - t;
    if (keep) keep.push(outs.map((o, k) => ({ shape: o.shape, dtype: o.dtype, data: data[k] })));
    outs.forEach((o) => o.dispose());
    return ms;
  };
  // WebGPU has no synchronous read-back worth timing: it runs the async path, like an app would.
  let useAsync = job.backend === 'webgpu';
  mark('first inference');
  const feeds0 = feedsFor(0);
  let firstMs;
  if (!useAsync) {
    try {
      firstMs = stepSync(feeds0);
    } catch (e) {
      if (!/executeAsync/.test(e.message)) throw e;
      useAsync = true;
      notes.push('the graph has dynamic ops: timed model.executeAsync');
    }
  }
  if (useAsync) firstMs = await stepAsync(feeds0);
  const step = useAsync ? () => stepAsync(feeds0) : () => stepSync(feeds0);
  const loop = useAsync ? runLoopAsync : runLoop;
  mark('warm-up');
  const warm = await loop(step, job.warmup, job.warmup_min_time, job.max_time);
  mark('timed runs');
  const measured = await loop(step, job.runs, job.min_time, job.max_time);
  dispose(feeds0);

  const perSample = [];
  const inferTimes = [];
  for (let i = 0; i < nSamples; i++) {
    mark('golden samples', `${i} of ${nSamples}`);
    const t = performance.now();
    const feeds = feedsFor(i);
    if (useAsync) await stepAsync(feeds, perSample);
    else stepSync(feeds, perSample);
    dispose(feeds);
    inferTimes.push(performance.now() - t);
  }
  model.dispose();
  return {
    ...summaryOf(warm, measured, perSample, job.output_names, nSamples, inferTimes),
    backend: tf.getBackend(), threads, device, backend_init_ms: backendMs, load_ms: loadMs, first_ms: firstMs,
    versions: { 'tfjs-core': tf.version_core, 'tfjs-converter': tf.version_converter }, notes,
  };
}

// ------------------------------------------------------------------------------------------------
// ONNX through onnxruntime-web (wasm)

async function runOnnx(job) {
  const notes = [];
  const t0 = performance.now();
  mark('starting onnxruntime-web');
  await loadScript(job.vendor + 'ort.wasm.min.js');
  const ort = self.ort;
  ort.env.wasm.wasmPaths = job.vendor;
  ort.env.wasm.numThreads = job.threads;
  const backendMs = performance.now() - t0;

  mark('reading the inputs');
  const inputs = [];
  for (const spec of job.inputs) inputs.push({ ...spec, data: await fetchTyped(spec) });
  const nSamples = inputs[0].shape[0];

  mark('loading the model', job.model_url);
  const tLoad = performance.now();
  const session = await ort.InferenceSession.create(job.model_url, { executionProviders: ['wasm'] });
  const loadMs = performance.now() - tLoad;
  for (const inp of inputs) {
    if (!session.inputNames.includes(inp.name)) {
      throw new Error(`input ${inp.name} is not in the model; it has ${session.inputNames.join(', ')}`);
    }
  }
  for (const name of job.output_names) {
    if (!session.outputNames.includes(name)) {
      throw new Error(`output ${name} is not in the model; it has ${session.outputNames.join(', ')}`);
    }
  }
  const feedsFor = (i) => {
    const feeds = {};
    for (const inp of inputs) {
      const per = inp.data.length / nSamples;
      feeds[inp.name] = new ort.Tensor(inp.dtype, inp.data.slice(i * per, (i + 1) * per), [1, ...inp.shape.slice(1)]);
    }
    return feeds;
  };
  const step = async (feeds, keep) => {
    const t = performance.now();
    const res = await session.run(feeds, job.output_names);
    const ms = performance.now() - t;
    if (keep) {
      keep.push(job.output_names.map((n) => ({ shape: res[n].dims.slice(), dtype: res[n].type === 'int32' ? 'int32' : 'float32',
        data: res[n].type === 'float32' || res[n].type === 'int32' ? res[n].data : Float32Array.from(res[n].data, Number) })));
    }
    Object.values(res).forEach((t2) => t2.dispose && t2.dispose());
    return ms;
  };
  mark('first inference');
  const feeds0 = feedsFor(0);
  const firstMs = await step(feeds0);
  mark('warm-up');
  const warm = await runLoopAsync(() => step(feeds0), job.warmup, job.warmup_min_time, job.max_time);
  mark('timed runs');
  const measured = await runLoopAsync(() => step(feeds0), job.runs, job.min_time, job.max_time);
  const perSample = [];
  const inferTimes = [];
  for (let i = 0; i < nSamples; i++) {
    mark('golden samples', `${i} of ${nSamples}`);
    const t = performance.now();
    await step(feedsFor(i), perSample);
    inferTimes.push(performance.now() - t);
  }
  await session.release();
  if (!self.crossOriginIsolated && job.threads > 1) notes.push('not cross-origin isolated: onnxruntime-web ran 1 thread');
  return {
    ...summaryOf(warm, measured, perSample, job.output_names, nSamples, inferTimes),
    backend: 'wasm', threads: self.crossOriginIsolated ? job.threads : 1, device: null,
    backend_init_ms: backendMs, load_ms: loadMs, first_ms: firstMs,
    versions: { 'onnxruntime-web': (ort.env.versions && ort.env.versions.web) || 'unknown' }, notes,
  };
}

async function run(job) {
  document.getElementById('status').textContent = `running ${job.engine} (${job.backend})`;
  let result;
  if (job.engine === 'litert') {
    const { runLiteRt } = await import('./harness_litert.js');
    result = await runLiteRt(job, { mark, fetchTyped, runLoopAsync, summaryOf });
  } else {
    result = job.engine === 'onnx' ? await runOnnx(job) : await runTfjs(job);
  }
  // What the page downloaded (bytes on the wire per URL path): the model, the runtime, the inputs.
  result.resources = performance.getEntriesByType('resource').map((e) => ({
    path: new URL(e.name).pathname, bytes: e.encodedBodySize || e.transferSize || 0 }));
  document.getElementById('status').textContent = 'done';
  return result;
}

// Start the job without awaiting it: the caller polls, so a job that never settles cannot hang it.
function start(job) {
  run(job).then((result) => {
    state.result = result;
  }, (e) => {
    state.error = e && e.message ? e.message : String(e);
  }).finally(() => {
    state.done = true;
    mark('done');
  });
}

// The state once it differs from what the caller saw (`seen` progress marks) or the job is done; else null.
function poll(seen) {
  if (state.progress === seen && !state.done) return null;
  const { result, ...rest } = state;
  return state.done ? { ...rest, result } : rest;
}

window.edgekit = { run, start, poll, probe, ready: true };
