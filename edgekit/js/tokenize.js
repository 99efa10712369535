// edgekit's tokenizer in Node: the same file the web page loads (edgekit/web/static/tokenizer.js).
//
//   node tokenize.js JOB.json
//
// JOB.json (written by edgekit/web/tokenizer.py): {"spec": "/abs/tokenizer.json", "inputs": [...],
// "out": "/abs/rows.json"}. Writes {"rows": [[...], ...], "node": "20.x"} to "out": one row per input, as
// in tokenizer_test_vectors.json. Any failure: one JSON line {"error": ...} on stderr, exit 2 (bad job or
// spec) or 1 (anything else).

import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { fromSpec, TokenizerError } = require('../web/static/tokenizer.js');

function fail(err, code) {
  process.stderr.write(JSON.stringify({ error: String(err && err.message ? err.message : err).split('\n')[0] }) + '\n');
  process.exit(code);
}

let job;
try {
  job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  fail(`cannot read the job file ${process.argv[2]}: ${e.message}`, 2);
}
try {
  const tok = fromSpec(JSON.parse(fs.readFileSync(job.spec, 'utf8')));
  const rows = job.inputs.map((x) => tok.encode(x));
  fs.writeFileSync(job.out, JSON.stringify({ rows, node: process.versions.node }));
} catch (e) {
  fail(e, e instanceof TokenizerError || e instanceof SyntaxError ? 2 : 1);
}
