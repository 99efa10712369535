// Run a .tflite file with LiteRT.js (@litertjs/core), in the validation harness and in web bundles alike.
//
// LiteRT.js 2.5.3's public Tensor/CompiledModel API cannot run the .tflite files edgekit (and most
// converters) write, for two reasons measured here:
// - a dynamic batch dimension (shape signature [-1, ...]): a Tensor cannot have shape -1, and run() rejects
//   a [1, ...] tensor ("does not match expected ranked tensor type Float32[-1, ...]");
// - int8 inputs or outputs (full-integer models): its Tensor API knows float32, int32 and uint8 only, and
//   the CompiledModel constructor throws "Element type INT8 is not supported".
// So this module makes the calls loadAndCompile makes (loadModel, compileModel, run) through the library's
// own wasm bindings, with host-memory tensor buffers of the concrete shape (batch 1) filled and read here.
//
// open(lrt, url or bytes, {accelerator: 'wasm'|'webgpu', threads}) -> runner with
//   inputs/outputs: [{name, dtype, shape}], run(typed arrays) -> Promise<[typed arrays]>, close().

const TYPED = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array };
const ELEMENT_NAMES = { 1: 'float32', 2: 'int32', 3: 'uint8', 9: 'int8', 7: 'int16', 10: 'float16', 4: 'int64', 6: 'bool' };

function vec(v) {
  const out = [];
  for (let i = 0; i < v.size(); i++) out.push(v.get(i));
  v.delete();
  return out;
}

function tensorTypeInfo(t) {
  const layout = t.layout();
  const shape = vec(layout.dimensions());
  layout.delete();
  const code = t.elementType().value;
  t.delete();
  // A dynamic dimension (-1: the converter keeps the batch dynamic) is run as 1: one sample per call.
  return { dtype: ELEMENT_NAMES[code] || `element type ${code}`, code, shape: shape.map((d) => (d < 0 ? 1 : d)) };
}

// The model's first signature, read without the Tensor API (so int8 does not throw).
function describe(wasmModel) {
  const sig = wasmModel.getSignature(0);
  const inNames = vec(sig.inputNames());
  const outNames = vec(sig.outputNames());
  sig.delete();
  const inputs = inNames.map((name, i) => ({ name, ...tensorTypeInfo(wasmModel.getInputTensorType(0, i)) }));
  const outputs = outNames.map((name, i) => ({ name, ...tensorTypeInfo(wasmModel.getOutputTensorType(0, i)) }));
  return { inputs, outputs };
}

async function fetchBytes(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`HTTP ${resp.status} for ${url}`);
  return new Uint8Array(await resp.arrayBuffer());
}

async function compile(lrt, liteRt, opts, io, wasmModel, ptr) {
  const wasm = liteRt.liteRtWasm;
  const env = liteRt.getDefaultEnvironment();
  const compiled = await wasm.compileModel(env.liteRtEnvironment, wasmModel, {
    environment: env, accelerator: opts.accelerator, cpuOptions: { numThreads: opts.threads }, gpuOptions: {}, webNNOptions: {},
  });
  const makeBuffer = (a, i) => {
    const dims = new wasm.VectorInt32();
    io.inputs[i].shape.forEach((d) => dims.push_back(d));
    const layout = wasm.LiteRtLayout.create(dims);
    dims.delete();
    const type = wasm.LiteRtRankedTensorType.create({ value: io.inputs[i].code }, layout);
    layout.delete();
    const buf = wasm.LiteRtTensorBuffer.createManaged(env.liteRtEnvironment, wasm.LiteRtTensorBufferType.HOST_MEMORY,
      type, a.byteLength);
    type.delete();
    const p = buf.lock(wasm.LiteRtTensorBufferLockMode.WRITE);
    try {
      wasm.HEAPU8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
    } finally {
      buf.unlock();
    }
    return buf;
  };
  const read = async (buf, k) => {
    if (buf.isWebGpuMemory()) {
      // Reading GPU memory back suspends (JSPI): the library's own async copy does it; the Tensor owns buf.
      const t = new lrt.Tensor(buf);
      try {
        return await t.data();
      } finally {
        t.delete();
      }
    }
    const p = buf.lock(wasm.LiteRtTensorBufferLockMode.READ);
    try {
      const bytesOut = wasm.HEAPU8.slice(p, p + buf.packedSize());
      const Typed = TYPED[io.outputs[k].dtype];
      return new Typed(bytesOut.buffer, 0, bytesOut.byteLength / Typed.BYTES_PER_ELEMENT);
    } finally {
      buf.unlock();
    }
  };
  return {
    ...io, fullyAccelerated: compiled.isFullyAccelerated(),
    async run(arrays) {
      const ins = arrays.map(makeBuffer);
      let outs = [];
      try {
        outs = await compiled.run(0, ins);
        const data = [];
        for (let k = 0; k < outs.length; k++) data.push(await read(outs[k], k));
        return data;
      } finally {
        ins.forEach((b) => b.delete());
        outs.forEach((b) => { if (!b.isDeleted || !b.isDeleted()) b.delete(); });
      }
    },
    close() {
      compiled.delete();
      wasmModel.delete();
      wasm._free(ptr);
    },
  };
}

export async function open(lrt, url, opts) {
  const bytes = url instanceof Uint8Array ? url : await fetchBytes(url);
  const liteRt = lrt.getGlobalLiteRt();
  const wasm = liteRt.liteRtWasm;
  const ptr = wasm._malloc(bytes.byteLength);
  wasm.HEAPU8.set(bytes, ptr);
  const wasmModel = wasm.loadModel(liteRt.getDefaultEnvironment().liteRtEnvironment, ptr, bytes.byteLength);
  const io = describe(wasmModel);
  const unsupported = [...io.inputs, ...io.outputs].filter((t) => !(t.dtype in TYPED));
  if (unsupported.length) {
    wasmModel.delete();
    wasm._free(ptr);
    throw new Error(`LiteRT.js cannot feed or read ${unsupported.map((t) => `${t.name} (${t.dtype})`).join(', ')}`);
  }
  return compile(lrt, liteRt, opts, io, wasmModel, ptr);
}

export { TYPED };
