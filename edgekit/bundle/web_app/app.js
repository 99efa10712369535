// edgekit web bundle: classify a picture with the bundled model, in the browser, offline.
// app.json (written by `edgekit bundle`) says which tensors to feed and read, the input size, the
// preprocessing (x = ((invert ? 255 - p : p) * scale - mean[c]) / std[c]) and the labels.

import { fetchWhole, show, startTfjs, topK } from './common.js';

const here = new URL('.', import.meta.url);

async function loadConfig() {
  const resp = await fetch(new URL('app.json', here));
  if (!resp.ok) throw new Error(`app.json: HTTP ${resp.status}`);
  return resp.json();
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = url;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(s);
  });
}

// Picture (img, canvas, ImageBitmap) -> Float32Array [H, W, C] laid out as the model wants it.
export function toInput(source, cfg) {
  const [, h, w, c] = cfg.input.shape;
  const p = cfg.preprocessing;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const sw = source.naturalWidth || source.width;
  const sh = source.naturalHeight || source.height;
  let sx = 0, sy = 0, side_w = sw, side_h = sh;
  if (p.resize === 'crop') { // centre square crop, then scale
    const side = Math.min(sw, sh);
    sx = (sw - side) / 2; sy = (sh - side) / 2; side_w = side; side_h = side;
  }
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, sx, sy, side_w, side_h, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const out = new Float32Array(h * w * c);
  const order = p.color === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < c; k++) {
      let v;
      if (c === 1) v = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
      else v = rgba[4 * i + order[k]];
      if (c === 1 && rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i + 1] === rgba[4 * i + 2]) v = rgba[4 * i]; // grey stays exact
      if (p.invert) v = 255 - v;
      out[i * c + k] = (v * p.scale - p.mean[k]) / p.std[k];
    }
  }
  return out;
}

// LiteRT.js: one library instance per page (loadLiteRt may run once), then the .tflite through
// litert_run.js (the same module edgekit validate ran it with). int8/uint8 I/O: quantized with app.json's
// scale and zero point (q = clamp(round(x / scale) + zero_point)), outputs dequantized back.
let liteRtLoading = null;
const RANGE = { int8: [-128, 127], uint8: [0, 255] };

function quantize(x, q) {
  const [lo, hi] = RANGE[q.dtype];
  const out = q.dtype === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.min(hi, Math.max(lo, Math.round(x[i] / q.scale) + q.zero_point));
  return out;
}

async function loadLiteRtClassifier(cfg) {
  const lrt = await import(new URL('vendor/index.js', here).href);
  const { open } = await import(new URL('litert_run.js', here).href);
  liteRtLoading = liteRtLoading || lrt.loadLiteRt(new URL('vendor/', here).href);
  await liteRtLoading;
  const runner = await open(lrt, new URL(cfg.models.litert, here).href, { accelerator: 'wasm', threads: 1 });
  const j = runner.outputs.findIndex((t) => t.name === cfg.output.litert_name);
  if (runner.inputs.length !== 1 || j < 0) throw new Error('the .tflite does not have the input/output app.json names');
  const qi = cfg.input.quantization;
  const qo = cfg.output.quantization;
  return {
    cfg, backend: 'LiteRT.js (wasm)',
    async classify(picture) {
      const x = toInput(picture, cfg);
      const y = (await runner.run([qi ? quantize(x, qi) : x]))[j];
      const scores = qo ? Array.from(y, (v) => qo.scale * (v - qo.zero_point)) : Array.from(y);
      return topK(scores, cfg);
    },
  };
}

// Load the model with one engine ('tfjs' or 'litert', whichever was bundled, or 'onnx' when bundled)
// and return {classify(picture)}.
export async function loadClassifier(engine = null, cfg = null) {
  cfg = cfg || (await loadConfig());
  engine = engine || cfg.engine || 'tfjs';
  const shape = cfg.input.shape;
  if (engine === 'litert') return loadLiteRtClassifier(cfg);
  if (engine === 'onnx') {
    if (!self.ort) await loadScript(new URL('vendor/ort.wasm.min.js', here));
    self.ort.env.wasm.wasmPaths = new URL('vendor/', here).href;
    const session = await self.ort.InferenceSession.create(new URL(cfg.models.onnx, here).href,
      { executionProviders: ['wasm'] });
    return {
      cfg, backend: 'onnxruntime-web (wasm)',
      async classify(picture) {
        const feeds = { [cfg.input.onnx_name]: new self.ort.Tensor('float32', toInput(picture, cfg), shape) };
        const res = await session.run(feeds);
        const scores = Array.from(res[cfg.output.onnx_name].data);
        return topK(scores, cfg);
      },
    };
  }
  const tf = self.tf;
  const backend = await startTfjs(tf, new URL('vendor/', here).href);
  const model = await tf.loadGraphModel(new URL(cfg.models.tfjs, here).href, { fetchFunc: fetchWhole });
  return {
    cfg, backend: `TF.js (${backend})`,
    async classify(picture) {
      const x = tf.tensor(toInput(picture, cfg), shape, 'float32');
      const y = model.execute({ [cfg.input.tfjs_name]: x }, cfg.output.tfjs_name);
      const scores = Array.from(await y.data());
      x.dispose();
      y.dispose();
      return topK(scores, cfg);
    },
  };
}

async function pictureFrom(file) {
  const img = new Image();
  img.src = URL.createObjectURL(file);
  await img.decode();
  return img;
}

async function main() {
  const el = Object.fromEntries(['prediction', 'scores', 'error', 'engine', 'backend', 'file', 'drop', 'preview']
    .map((id) => [id, document.getElementById(id)]));
  const cfg = await loadConfig();
  const main = cfg.engine || 'tfjs';
  el.engine.add(new Option(main === 'litert' ? 'LiteRT.js (wasm)' : 'TF.js (wasm)', main));
  if (cfg.models.onnx) el.engine.add(new Option('ONNX (onnxruntime-web, wasm)', 'onnx'));
  let current = null;
  const use = async (engine) => {
    current = await loadClassifier(engine, cfg);
    el.backend.textContent = current.backend;
  };
  const classify = async (picture) => {
    el.preview.src = picture.src;
    el.prediction.textContent = '...';
    show(await current.classify(picture), el);
    document.body.dataset.state = 'ready';
  };
  const sample = new Image();
  sample.src = new URL(cfg.sample.file, here).href;
  await sample.decode();
  let last = sample;
  await use(main);
  await classify(sample);
  el.engine.onchange = async () => { await use(el.engine.value); await classify(last); };
  el.file.onchange = async () => { if (el.file.files[0]) { last = await pictureFrom(el.file.files[0]); await classify(last); } };
  el.drop.ondragover = (e) => { e.preventDefault(); el.drop.classList.add('over'); };
  el.drop.ondragleave = () => el.drop.classList.remove('over');
  el.drop.ondrop = async (e) => {
    e.preventDefault();
    el.drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) { last = await pictureFrom(f); await classify(last); }
  };
}

if (document.getElementById('prediction')) {
  main().catch((e) => {
    document.getElementById('error').textContent = String(e && e.message ? e.message : e);
    document.body.dataset.state = 'error';
  });
}
