// edgekit's TF.js-in-Node runner: load a tfjs graph model from disk, run golden inputs, time a loop.
//
//   node runner.js JOB.json
//
// JOB.json (written by edgekit/runtimes/tfjs_node.py):
//   { "model_dir": "/abs/tfjs",               model.json + weight shards
//     "backend": "wasm" | "cpu",
//     "threads": 1,                            wasm only; the count actually used is reported
//     "inputs": [{"name", "dtype": "float32"|"int32", "shape": [N, ...], "file": "/abs/in0.bin"}],
//     "output_names": ["Identity:0"],          signature keys or tensor names, fetched in this order
//     "runs": 50, "warmup": 5, "min_time": 1.0, "max_time": 30.0, "warmup_min_time": 0.25,
//     "out_dir": "/abs/out",                   must exist; outputs + result.json go here
//     "deadline_s": 300,                       give up (exit non-zero) after this long
//     "check_backends": ["wasm", "cpu"] }      optional: run the job on each in turn (convert's run check)
//
// Tensors cross the process boundary as raw little-endian float32/int32 files plus a JSON header
// because Node has no .npz reader. Each input's leading axis is the golden sample axis: sample i is
// fed as a batch of 1. Outputs are stacked the same way.
//
// Writes OUT/output_K.bin, OUT/latency_ms.bin (float64 per measured run) and OUT/result.json, prints
// one summary line on stdout. Any failure: exit 2 (bad job/model/input) or 1 (runtime failure) with
// exactly one JSON line {"error": ..., "kind": ...} on stderr; the runner never waits for input.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';

class RunnerError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

const BAD_INPUT_KINDS = new Set(['bad_job', 'bad_model', 'bad_input']);

function fail(err) {
  const kind = err instanceof RunnerError ? err.kind : 'runtime';
  const message = err && err.message ? err.message : String(err);
  process.stderr.write(JSON.stringify({ error: message.split('\n')[0], kind }) + '\n');
  // process.exit, not exitCode: a half-initialized wasm module must not keep the process alive.
  process.exit(BAD_INPUT_KINDS.has(kind) ? 2 : 1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// ------------------------------------------------------------------------------------------------
// Job

function readJson(file, kind, what) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunnerError(kind, `cannot read ${what} ${file}: ${e.code || e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunnerError(kind, `${what} ${file} is not valid JSON: ${e.message}`);
  }
}

function readJob(file) {
  if (!file) throw new RunnerError('bad_job', 'usage: node runner.js JOB.json');
  const job = readJson(file, 'bad_job', 'job file');
  for (const key of ['model_dir', 'backend', 'inputs', 'output_names', 'out_dir']) {
    if (job[key] == null) throw new RunnerError('bad_job', `job file ${file} has no "${key}"`);
  }
  if (!['wasm', 'cpu'].includes(job.backend)) {
    throw new RunnerError('bad_job', `backend must be "wasm" or "cpu"; received ${JSON.stringify(job.backend)}`);
  }
  const num = (key, dflt) => {
    const v = job[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RunnerError('bad_job', `"${key}" must be a non-negative number; received ${JSON.stringify(v)}`);
    }
    return v;
  };
  return {
    ...job,
    threads: Math.max(1, Math.floor(num('threads', 1))),
    runs: Math.floor(num('runs', 50)),
    warmup: Math.floor(num('warmup', 5)),
    min_time: num('min_time', 1.0),
    max_time: num('max_time', 30.0),
    warmup_min_time: num('warmup_min_time', 0.25),
    deadline_s: num('deadline_s', 600),
  };
}

// ------------------------------------------------------------------------------------------------
// Model loading: a custom IOHandler reading model.json and its shards with fs

const BYTES_PER_ELEMENT = {
  float32: 4, int32: 4, bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, complex64: 8,
};

function specBytes(spec) {
  const dtype = spec.quantization ? spec.quantization.dtype : spec.dtype;
  const size = BYTES_PER_ELEMENT[dtype];
  if (size == null) return null; // string weights: variable length, cannot be checked up front
  return (spec.shape || []).reduce((a, b) => a * b, 1) * size;
}

function insideDir(dir, rel) {
  // Shard paths come from model.json: never follow one out of the model folder.
  if (typeof rel !== 'string' || rel === '' || path.isAbsolute(rel)) return null;
  const full = path.resolve(dir, rel);
  return full.startsWith(path.resolve(dir) + path.sep) ? full : null;
}

function readModelArtifacts(modelDir) {
  const modelJsonPath = path.join(modelDir, 'model.json');
  if (!fs.existsSync(modelJsonPath)) {
    throw new RunnerError('bad_model', `no model.json in ${modelDir}`);
  }
  const modelJson = readJson(modelJsonPath, 'bad_model', 'model file');
  if (modelJson === null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
    throw new RunnerError('bad_model', `${modelJsonPath} has no "modelTopology": not a TF.js graph model`);
  }
  const manifest = modelJson.weightsManifest;
  if (!Array.isArray(manifest)) {
    throw new RunnerError('bad_model', `${modelJsonPath} has no "weightsManifest" list`);
  }
  const weightSpecs = [];
  const buffers = [];
  let expected = 0;
  let checkable = true;
  for (const group of manifest) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new RunnerError('bad_model', `${modelJsonPath}: a weightsManifest entry lacks "paths"/"weights"`);
    }
    // Shards of a group are one byte stream cut into files; groups follow each other in order.
    for (const rel of group.paths) {
      const full = insideDir(modelDir, rel);
      if (full == null) {
        throw new RunnerError('bad_model', `${modelJsonPath}: shard path ${JSON.stringify(rel)} is outside ${modelDir}`);
      }
      try {
        buffers.push(fs.readFileSync(full));
      } catch (e) {
        throw new RunnerError('bad_model', `cannot read weight shard ${full}: ${e.code || e.message}`);
      }
    }
    for (const spec of group.weights) {
      const n = specBytes(spec);
      if (n == null) checkable = false;
      else expected += n;
      weightSpecs.push(spec);
    }
  }
  const total = buffers.reduce((a, b) => a + b.length, 0);
  if (checkable && total !== expected) {
    // tfjs would otherwise fail later with a RangeError, or silently read zeros past the end.
    throw new RunnerError('bad_model',
      `weight shards in ${modelDir} hold ${total} bytes but weightsManifest describes ${expected}: ` +
      'a shard is truncated, extra or from another model');
  }
  const joined = Buffer.concat(buffers, total);
  // A Buffer may be a view into a larger pool: hand tfjs an ArrayBuffer that is exactly the weights.
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  return {
    modelJson,
    artifacts: {
      modelTopology: modelJson.modelTopology,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      signature: modelJson.signature,
      userDefinedMetadata: modelJson.userDefinedMetadata,
      modelInitializer: modelJson.modelInitializer,
      initializerSignature: modelJson.initializerSignature,
      trainingConfig: modelJson.trainingConfig,
      weightSpecs,
      weightData,
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Names: accept a signature key ("keras_tensor", "output_0") or a tensor name ("keras_tensor:0",
// "Identity:0", "Identity") and resolve it to the graph tensor name tfjs executes with.

const TF_DTYPES = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_INT64: 'int32', DT_BOOL: 'bool' };

function stripPort(name) {
  return name.endsWith(':0') ? name.slice(0, -2) : name;
}

function sigDims(info) {
  // [-1, 8] for a TensorShapeProto with a free batch axis; null when the rank is unknown.
  const shape = info.tensorShape;
  if (!shape || shape.unknownRank || !Array.isArray(shape.dim)) return null;
  return shape.dim.map((d) => Number(d.size));
}

function resolveName(requested, sigSide, graphNodes, side) {
  const entries = Object.entries(sigSide || {});
  for (const [key, info] of entries) {
    if (key === requested) return { tensor: info.name, dtype: TF_DTYPES[info.dtype], dims: sigDims(info) };
  }
  for (const [, info] of entries) {
    if (info.name === requested || stripPort(info.name) === stripPort(requested)) {
      return { tensor: info.name, dtype: TF_DTYPES[info.dtype], dims: sigDims(info) };
    }
  }
  if (graphNodes.map(stripPort).includes(stripPort(requested))) return { tensor: requested, dtype: undefined, dims: null };
  const known = entries.map(([k, info]) => `${k} (${info.name})`).concat(entries.length ? [] : graphNodes);
  throw new RunnerError('bad_input',
    `${side} name ${JSON.stringify(requested)} is not in the model; it has: ${known.join(', ') || 'none'}`);
}

// ------------------------------------------------------------------------------------------------
// Tensor files

const TYPED = { float32: Float32Array, int32: Int32Array };

function readInput(spec) {
  const Typed = TYPED[spec.dtype];
  if (!Typed) throw new RunnerError('bad_input', `input ${spec.name}: dtype must be float32 or int32; received ${spec.dtype}`);
  if (!Array.isArray(spec.shape) || spec.shape.length < 1) {
    throw new RunnerError('bad_input', `input ${spec.name}: shape must start with the sample axis; received ${JSON.stringify(spec.shape)}`);
  }
  let buf;
  try {
    buf = fs.readFileSync(spec.file);
  } catch (e) {
    throw new RunnerError('bad_input', `cannot read input file ${spec.file}: ${e.code || e.message}`);
  }
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== count * 4) {
    throw new RunnerError('bad_input',
      `input file ${spec.file} has ${buf.length} bytes; shape ${JSON.stringify(spec.shape)} ${spec.dtype} needs ${count * 4}`);
  }
  // Copy into an aligned buffer: a pooled Buffer's offset need not be a multiple of 4.
  const data = new Typed(count);
  new Uint8Array(data.buffer).set(buf);
  return data;
}

function castTo(data, dtype) {
  if (dtype === 'float32' && !(data instanceof Float32Array)) return Float32Array.from(data);
  if ((dtype === 'int32' || dtype === 'bool') && !(data instanceof Int32Array)) return Int32Array.from(data, Math.round);
  return data;
}

function writeBinary(file, typed) {
  fs.writeFileSync(file, Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));
}

// ------------------------------------------------------------------------------------------------
// Timing: TFLite benchmark_model's rule

function nowNs() {
  return process.hrtime.bigint();
}

// Set in main(); the timers that enforce it cannot fire while a synchronous loop runs, so loops check it.
let deadlineNs = null;

function checkDeadline(t) {
  if (deadlineNs !== null && t > deadlineNs) {
    throw new RunnerError('timeout', 'runner passed its deadline inside the timing loop; lower max_time or raise the timeout');
  }
}

function runLoop(step, minRuns, minTime, maxTime) {
  // Keep running while (runs < N or elapsed < min_time) and elapsed <= max_time.
  const times = [];
  const start = nowNs();
  let elapsed = 0;
  while ((times.length < minRuns || elapsed < minTime) && elapsed <= maxTime) {
    times.push(step());
    const t = nowNs();
    checkDeadline(t);
    elapsed = Number(t - start) / 1e9;
  }
  return { times, elapsed };
}

async function runLoopAsync(step, minRuns, minTime, maxTime) {
  const times = [];
  const start = nowNs();
  let elapsed = 0;
  while ((times.length < minRuns || elapsed < minTime) && elapsed <= maxTime) {
    times.push(await step());
    const t = nowNs();
    checkDeadline(t);
    elapsed = Number(t - start) / 1e9;
  }
  return { times, elapsed };
}

function percentile(sorted, q) {
  // Linear interpolation between closest ranks, as numpy.percentile's default.
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summarize(times) {
  if (times.length === 0) return { count: 0 };
  const sorted = Float64Array.from(times).sort();
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const variance = times.reduce((a, b) => a + (b - mean) ** 2, 0) / times.length;
  return {
    count: times.length,
    min_ms: sorted[0],
    max_ms: sorted[sorted.length - 1],
    mean_ms: mean,
    std_ms: Math.sqrt(variance),
    p50_ms: percentile(sorted, 0.5),
    p90_ms: percentile(sorted, 0.9),
    p99_ms: percentile(sorted, 0.99),
  };
}

function peakRssMb() {
  // On Linux ru_maxrss survives execve: a node started by a 1 GB Python (vfork + exec) would report
  // the parent's 1 GB. VmHWM belongs to this process's own address space, so prefer it.
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch (e) {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024; // KiB
}

// ------------------------------------------------------------------------------------------------
// Main

async function initBackend(backend, threads, notes) {
  const t0 = nowNs();
  let versionBackend;
  let threadsUsed = 1;
  let simd = null;
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new RunnerError('runtime', 'the wasm backend failed to initialize');
    threadsUsed = wasm.getThreadsCount();
    versionBackend = wasm.version_wasm;
    simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    // tfjs-backend-wasm 4.22 turns its threaded build off whenever IS_NODE (tfjs issue #3830).
    if (threadsUsed < threads) {
      notes.push(`asked for ${threads} wasm threads; tfjs-backend-wasm in Node runs ${threadsUsed}`);
    }
  } else {
    const cpu = await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new RunnerError('runtime', 'the cpu backend failed to initialize');
    versionBackend = cpu.version_cpu;
    if (threads > 1) notes.push(`asked for ${threads} threads; the tfjs cpu backend is single-threaded`);
  }
  await tf.ready();
  return { ms: Number(nowNs() - t0) / 1e6, threadsUsed, simd, versionBackend };
}

async function main() {
  const job = readJob(process.argv[2]);
  deadlineNs = nowNs() + BigInt(Math.round(job.deadline_s * 1e9));
  setTimeout(() => fail(new RunnerError('timeout', `runner passed its deadline of ${job.deadline_s} s`)),
    job.deadline_s * 1000).unref();
  if (os.endianness() !== 'LE') throw new RunnerError('runtime', 'the tensor exchange format is little-endian only');
  if (!fs.existsSync(job.out_dir)) throw new RunnerError('bad_job', `out_dir ${job.out_dir} does not exist`);
  if (job.check_backends != null) {
    await checkBackends(job);
  } else {
    const { result, resultPath } = await runJob(job);
    process.stdout.write(JSON.stringify({ ok: true, result: resultPath, p50_ms: result.latency.p50_ms ?? null }) + '\n');
  }
  process.exit(0);
}

// edgekit convert's TF.js run check (edgekit/formats/tfjs_check.py): the job on each backend in turn, in this one
// process (one Node start per conversion). A backend that cannot run the model is recorded, not fatal; a model
// or input that cannot be used at all still exits 2. Writes OUT/BACKEND/ as a plain job would, and OUT/check.json.
async function checkBackends(job) {
  const backends = job.check_backends;
  if (!Array.isArray(backends) || !backends.length || backends.some((b) => !['wasm', 'cpu'].includes(b))) {
    throw new RunnerError('bad_job', `"check_backends" must list "wasm"/"cpu"; received ${JSON.stringify(backends)}`);
  }
  const outcome = {};
  for (const backend of backends) {
    const out = path.join(job.out_dir, backend);
    fs.mkdirSync(out, { recursive: true });
    try {
      await runJob({ ...job, backend, out_dir: out });
      outcome[backend] = { ok: true };
    } catch (e) {
      if (e instanceof RunnerError && BAD_INPUT_KINDS.has(e.kind)) throw e;
      const message = e && e.message ? e.message : String(e);
      outcome[backend] = { ok: false, kind: e instanceof RunnerError ? e.kind : 'runtime', error: message.split('\n')[0] };
    }
  }
  fs.writeFileSync(path.join(job.out_dir, 'check.json'), JSON.stringify(outcome));
  process.stdout.write(JSON.stringify({ ok: true, check: outcome }) + '\n');
}

async function runJob(job) {
  const notes = [];

  const inputs = job.inputs.map((spec) => ({ ...spec, data: readInput(spec) }));
  const nSamples = inputs.length ? inputs[0].shape[0] : 0;
  if (nSamples < 1) throw new RunnerError('bad_input', 'no golden samples: inputs must have a leading sample axis >= 1');
  for (const inp of inputs) {
    if (inp.shape[0] !== nSamples) {
      throw new RunnerError('bad_input', `input ${inp.name} has ${inp.shape[0]} samples; ${inputs[0].name} has ${nSamples}`);
    }
  }

  const backend = await initBackend(job.backend, job.threads, notes);

  const tLoad = nowNs();
  const { modelJson, artifacts } = readModelArtifacts(job.model_dir);
  const handler = { load: async () => artifacts };
  let model;
  try {
    model = await tfconv.loadGraphModel(handler);
  } catch (e) {
    throw new RunnerError('bad_model', `tfjs could not build the graph from ${job.model_dir}: ${e.message}`);
  }
  const loadMs = Number(nowNs() - tLoad) / 1e6;

  const sig = modelJson.signature || {};
  for (const inp of inputs) {
    const r = resolveName(inp.name, sig.inputs, model.inputNodes, 'input');
    inp.tensorName = r.tensor;
    inp.modelDtype = r.dtype || inp.dtype;
    const fedShape = [1, ...inp.shape.slice(1)];
    if (r.dims && (r.dims.length !== fedShape.length || r.dims.some((d, j) => d >= 0 && d !== fedShape[j]))) {
      throw new RunnerError('bad_input',
        `input ${inp.name}: one sample has shape ${JSON.stringify(fedShape)}; the model expects ${JSON.stringify(r.dims)}`);
    }
    if (inp.modelDtype !== inp.dtype) {
      inp.data = castTo(inp.data, inp.modelDtype);
      notes.push(`input ${inp.name}: cast ${inp.dtype} -> ${inp.modelDtype} as the model expects`);
    }
  }
  const fed = new Set(inputs.map((i) => stripPort(i.tensorName)));
  const missing = model.inputNodes.filter((n) => !fed.has(stripPort(n)));
  if (missing.length) {
    throw new RunnerError('bad_input', `model inputs not fed: ${missing.join(', ')}; fed: ${inputs.map((i) => i.name).join(', ')}`);
  }
  const outNames = job.output_names.map((n) => resolveName(n, sig.outputs, model.outputNodes, 'output').tensor);

  const sampleFeeds = (i) => {
    const feeds = {};
    for (const inp of inputs) {
      const per = inp.data.length / nSamples;
      feeds[inp.tensorName] = tf.tensor(inp.data.subarray(i * per, (i + 1) * per), [1, ...inp.shape.slice(1)], inp.modelDtype);
    }
    return feeds;
  };
  const disposeFeeds = (feeds) => Object.values(feeds).forEach((t) => t.dispose());
  const asList = (r) => (Array.isArray(r) ? r : [r]);

  // Time execute + dataSync: tfjs may compute lazily, so the data must be materialized to be fair.
  const stepSync = (feeds, keep) => {
    const t0 = nowNs();
    const outs = asList(model.execute(feeds, outNames));
    const data = outs.map((t) => t.dataSync());
    const ms = Number(nowNs() - t0) / 1e6;
    if (keep) keep.push(outs.map((t, k) => ({ shape: t.shape, dtype: t.dtype, data: data[k] })));
    outs.forEach((t) => t.dispose());
    return ms;
  };
  const stepAsync = async (feeds, keep) => {
    const t0 = nowNs();
    const outs = asList(await model.executeAsync(feeds, outNames));
    const data = outs.map((t) => t.dataSync());
    const ms = Number(nowNs() - t0) / 1e6;
    if (keep) keep.push(outs.map((t, k) => ({ shape: t.shape, dtype: t.dtype, data: data[k] })));
    outs.forEach((t) => t.dispose());
    return ms;
  };

  // First inference decides the mode: graphs with control flow (while/if) only run via executeAsync.
  const feeds0 = sampleFeeds(0);
  let mode = 'execute';
  let firstMs;
  const firstOut = [];
  try {
    firstMs = stepSync(feeds0, firstOut);
  } catch (e) {
    if (!/executeAsync/.test(e.message)) throw new RunnerError('runtime', `inference failed: ${e.message}`);
    mode = 'executeAsync';
    firstMs = await stepAsync(feeds0, firstOut);
    notes.push('the graph has dynamic ops: timed model.executeAsync');
  }

  let warm;
  let measured;
  if (mode === 'execute') {
    warm = runLoop(() => stepSync(feeds0), job.warmup, job.warmup_min_time, job.max_time);
    measured = runLoop(() => stepSync(feeds0), job.runs, job.min_time, job.max_time);
  } else {
    warm = await runLoopAsync(() => stepAsync(feeds0), job.warmup, job.warmup_min_time, job.max_time);
    measured = await runLoopAsync(() => stepAsync(feeds0), job.runs, job.min_time, job.max_time);
  }
  disposeFeeds(feeds0);

  // Golden samples, one per call, batch 1.
  // Also time each whole call (tensor creation and disposal included): what an app pays per sample.
  const perSample = [];
  const inferTimes = [];
  for (let i = 0; i < nSamples; i++) {
    const t0 = nowNs();
    const feeds = sampleFeeds(i);
    if (mode === 'execute') stepSync(feeds, perSample);
    else await stepAsync(feeds, perSample);
    disposeFeeds(feeds);
    inferTimes.push(Number(nowNs() - t0) / 1e6);
  }

  const outputs = job.output_names.map((name, k) => {
    const first = perSample[0][k];
    // A batch-1 output [1, ...] stacks to [N, ...]; an output without a batch axis stacks as is.
    const sampleShape = first.shape.length >= 1 && first.shape[0] === 1 ? first.shape.slice(1) : first.shape;
    const dtype = first.dtype === 'float32' ? 'float32' : 'int32';
    const per = first.data.length;
    const all = new TYPED[dtype](per * nSamples);
    perSample.forEach((sample, i) => {
      if (sample[k].data.length !== per) {
        throw new RunnerError('runtime', `output ${name} changed size between samples (${per} vs ${sample[k].data.length})`);
      }
      all.set(sample[k].data, i * per);
    });
    const file = path.join(job.out_dir, `output_${k}.bin`);
    writeBinary(file, all);
    return { name, tensor: outNames[k], dtype, shape: [nSamples, ...sampleShape], file };
  });
  const samplesFile = path.join(job.out_dir, 'latency_ms.bin');
  writeBinary(samplesFile, Float64Array.from(measured.times));

  const warmMean = warm.times.length ? warm.times.reduce((a, b) => a + b, 0) / warm.times.length : null;
  const result = {
    ok: true,
    backend: job.backend,
    execute_mode: mode,
    threads_requested: job.threads,
    threads: backend.threadsUsed,
    wasm_simd: backend.simd,
    backend_init_ms: backend.ms,
    load_ms: loadMs,
    first_ms: firstMs,
    warmup: { count: warm.times.length, mean_ms: warmMean, elapsed_s: warm.elapsed },
    latency: summarize(measured.times),
    infer_ms: percentile(Float64Array.from(inferTimes).sort(), 0.5),
    elapsed_s: measured.elapsed,
    samples_file: samplesFile,
    outputs,
    peak_rss_mb: peakRssMb(),
    versions: {
      node: process.versions.node,
      v8: process.versions.v8,
      'tfjs-core': tf.version_core,
      'tfjs-converter': tfconv.version_converter,
      [`tfjs-backend-${job.backend}`]: backend.versionBackend,
    },
    notes,
  };
  const resultPath = path.join(job.out_dir, 'result.json');
  fs.writeFileSync(resultPath, JSON.stringify(result, null, 1));
  return { result, resultPath };
}

main().catch(fail);
