"""edgekit's TF.js-in-Node runner against a bare tfjs predict loop, on the same model, in one run.

    .venv/bin/python benchmarks/tfjs_overhead.py [--rounds 3] [--runs 300] [--min-time 2]

Builds MobileNetV2 alpha 0.35 at 96x96 (weights=None, trained one step so it is a real graph with real
weights), exports it, converts it with tensorflowjs into a temp folder, then alternates:
- edgekit: TfjsNodeRunner.run (wasm backend), which times model.execute + dataSync per run;
- bare: a ten-line CommonJS loop that loads the same model.json and times model.predict + dataSync.
Rounds alternate, each pair back to back, so that load on a shared machine hits both sides alike; the
median of the per-pair p50 ratios is the figure. Target: edgekit within 10% of the bare loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgekit.runtimes import tfjs_node  # noqa: E402
from edgekit.runtimes.tfjs_node import TfjsNodeRunner  # noqa: E402

# The simplest loop a TF.js user would write: no name mapping, no stats, no result files.
BARE_LOOP_JS = r"""
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
const tfconv = require('@tensorflow/tfjs-converter');
require('@tensorflow/tfjs-backend-wasm');

async function main() {
  const [dir, runs, warmup] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  await tf.setBackend('wasm');
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const shards = mj.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
  const buf = Buffer.concat(shards);
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest.flatMap((g) => g.weights),
    weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
  }));
  const x = tf.randomUniform([1, 96, 96, 3], 0, 255);
  for (let i = 0; i < warmup; i++) { const y = model.predict(x); y.dataSync(); y.dispose(); }
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const y = model.predict(x);
    y.dataSync();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    y.dispose();
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ p50_ms: times[Math.floor(times.length / 2)], count: times.length }));
}
main();
"""


def build_model(work: Path) -> Path:
    """MobileNetV2 a0.35 96x96, 5 classes, one training step, as a TF.js graph model."""
    import keras
    from tensorflowjs.converters import convert_tf_saved_model

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.uniform(0, 1, (8, 96, 96, 3)).astype(np.float32), rng.integers(0, 5, 8), batch_size=8,
              epochs=1, verbose=0)
    model.export(str(work / "saved_model"), verbose=False)
    convert_tf_saved_model(str(work / "saved_model"), str(work / "tfjs"))
    return work / "tfjs"


def model_io(tfjs_dir: Path) -> tuple[str, str]:
    sig = json.loads((tfjs_dir / "model.json").read_text())["signature"]
    return next(iter(sig["inputs"].values()))["name"], sig["outputs"]["output_0"]["name"]


def bare_p50(script: Path, tfjs_dir: Path, runs: int, warmup: int) -> float:
    env = {**os.environ, "NODE_PATH": str(tfjs_node.JS_DIR / "node_modules")}
    proc = subprocess.run([tfjs_node.node_binary() or "node", str(script), str(tfjs_dir), str(runs), str(warmup)],
                          capture_output=True, text=True, env=env, timeout=600, check=True)
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["p50_ms"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()

    reason = tfjs_node.unavailable_reason()
    if reason:
        print(f"TF.js in Node unavailable: {reason}", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-tfjs-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        tfjs_dir = build_model(work)
        print(f"model built and converted in {time.perf_counter() - t0:.1f} s")
        script = work / "bare_loop.cjs"
        script.write_text(BARE_LOOP_JS)
        in_name, out_name = model_io(tfjs_dir)
        x = np.random.default_rng(1).uniform(0, 255, (4, 96, 96, 3)).astype(np.float32)
        runner = TfjsNodeRunner()

        ours, bare, results = [], [], []
        for i in range(args.rounds):
            r = runner.run(tfjs_dir, {in_name: x}, [in_name], [out_name], backend="wasm", threads=1,
                           runs=args.runs, warmup=args.warmup, min_time=args.min_time, max_time=60.0,
                           warmup_min_time=0.0, timeout=600.0)
            results.append(r)
            ours.append(r.stats["p50_ms"])
            # The bare loop gets edgekit's run count so both sides run about as long.
            bare.append(bare_p50(script, tfjs_dir, r.stats["count"], args.warmup))
            print(f"round {i + 1}: edgekit p50 {ours[-1]:.3f} ms ({r.stats['count']} runs)   "
                  f"bare p50 {bare[-1]:.3f} ms")
        cpu = runner.run(tfjs_dir, {in_name: x[:1]}, [in_name], [out_name], backend="cpu", runs=20, warmup=3,
                         min_time=1.0, max_time=60.0, warmup_min_time=0.0, timeout=600.0)

    last = results[-1]
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    print()
    print(f"node {last.versions['node']}, tfjs {last.versions['tfjs-core']}, wasm threads used {last.threads}")
    print(f"wasm  edgekit p50 (median of {args.rounds} rounds): {statistics.median(ours):.3f} ms")
    print(f"wasm  bare predict loop p50:                  {statistics.median(bare):.3f} ms")
    print(f"ratio edgekit / bare, median of per-round ratios: {ratio:.3f}  (target <= 1.10); "
          f"min p50s {min(ours):.3f} / {min(bare):.3f} ms")
    print(f"wasm  edgekit whole call per golden sample (tensor in, execute, dataSync, dispose): "
          f"{last.infer_ms:.3f} ms")
    print(f"wasm  backend init {last.backend_init_ms:.1f} ms, model load {last.load_ms:.1f} ms, "
          f"first inference {last.first_ms:.1f} ms, peak RSS {last.peak_rss_mb:.0f} MB")
    print(f"cpu   edgekit p50: {cpu.stats['p50_ms']:.2f} ms ({cpu.stats['count']} runs), "
          f"peak RSS {cpu.peak_rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
