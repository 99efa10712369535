// edgekit web bundle for a text model: tokenize in the page (tokenizer.js + tokenizer.json, the same
// algorithm edgekit validated against the Keras layer), run the numeric model with TF.js, offline.
// app.json (written by `edgekit bundle`) names the tensors, the tokenizer files, the labels and the sample.

import { fetchWhole, show as showScores, startTfjs, topK } from './common.js';

const here = new URL('.', import.meta.url);

async function fetchJson(name) {
  const resp = await fetch(new URL(name, here));
  if (!resp.ok) throw new Error(`${name}: HTTP ${resp.status}`);
  return resp.json();
}

// One sigmoid output: the probability of the second label.
const scoresOf = (y) => (y.length === 1 ? [1 - y[0], y[0]] : y);

// Load the tokenizer and the model; returns {classify(text) -> [{index, label, score}, ...], tokenizer}.
export async function loadTextClassifier(cfg = null) {
  cfg = cfg || (await fetchJson('app.json'));
  const tokenizer = self.EdgekitTokenizer.fromSpec(await fetchJson(cfg.tokenizer));
  const tf = self.tf;
  const backend = await startTfjs(tf, new URL('vendor/', here).href);
  const model = await tf.loadGraphModel(new URL(cfg.models.tfjs, here).href, { fetchFunc: fetchWhole });
  return {
    cfg, tokenizer, backend: `TF.js (${backend})`,
    async classify(text) {
      const row = tokenizer.encode(text);
      const x = tf.tensor(row, [1, row.length], cfg.input.dtype);
      const y = model.execute({ [cfg.input.tfjs_name]: x }, cfg.output.tfjs_name);
      const scores = Array.from(await y.data());
      x.dispose();
      y.dispose();
      return { ids: row, top: topK(scoresOf(scores), cfg) };
    },
  };
}

function show(result, el) {
  showScores(result.top, el);
  el.ids.textContent = `token ids: [${result.ids.join(', ')}]`;
}

async function main() {
  const el = Object.fromEntries(['prediction', 'scores', 'error', 'backend', 'text', 'classify', 'ids']
    .map((id) => [id, document.getElementById(id)]));
  const clf = await loadTextClassifier();
  el.backend.textContent = clf.backend;
  const classify = async () => {
    el.prediction.textContent = '...';
    show(await clf.classify(el.text.value), el);
    document.body.dataset.state = 'ready';
  };
  el.text.value = clf.cfg.sample.text;
  await classify();
  el.classify.onclick = classify;
  let timer = null;
  el.text.oninput = () => { clearTimeout(timer); timer = setTimeout(classify, 250); };
}

if (document.getElementById('prediction')) {
  main().catch((e) => {
    document.getElementById('error').textContent = String(e && e.message ? e.message : e);
    document.body.dataset.state = 'error';
  });
}
