// What the web bundles' pages share (the image app.js and the text app's app.js import it).

// fetch() that has read the whole body when it resolves. tf.loadGraphModel requests every weight shard at
// once and reads no body until all have answered: over HTTP/1.1 (six connections per host) seven or more
// shards of the converter's default 4 MiB (a model over 24 MB) deadlock. Reading each as it arrives frees
// its connection for the next.
export async function fetchWhole(url, init) {
  const resp = await fetch(url, init);
  if (!resp.ok) return resp;
  const body = await resp.arrayBuffer();
  return new Response(body, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
}

export function topK(scores, cfg, k = 5) {
  const idx = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, k);
  return idx.map((i) => ({ index: i, label: cfg.labels ? cfg.labels[i] : `class ${i}`, score: scores[i] }));
}

// Show the best label in #prediction (text, data-label, data-index) and the top scores in #scores.
export function show(top, el) {
  const best = top[0];
  el.prediction.textContent = `${best.label} (${(best.score * 100).toFixed(1)}%)`;
  el.prediction.dataset.label = best.label;
  el.prediction.dataset.index = String(best.index);
  el.scores.replaceChildren(...top.map((t) => {
    const tr = document.createElement('tr');
    for (const v of [t.label, t.score.toFixed(4)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
}

// TF.js on its wasm backend (wasm files from vendorUrl), else the pure-JS cpu backend every browser runs.
export async function startTfjs(tf, vendorUrl) {
  tf.wasm.setWasmPaths(vendorUrl);
  let backend = 'wasm';
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm unavailable');
  } catch (e) {
    backend = 'cpu';
    await tf.setBackend('cpu');
  }
  await tf.ready();
  return backend;
}
