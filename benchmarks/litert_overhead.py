"""How much does edgekit's LiteRT harness add to what the runtime itself does?

On one float32 MobileNetV2 (alpha 0.35, 96x96, weights=None trained one step) and one thread count,
measured in one run and interleaved over several rounds (the median of each method's p50 is kept):

- edgekit: the real path of `edgekit validate`: a worker subprocess through the local CPU device,
  LiteRTRunner, the benchmark_model loop rule; p50 of its steady state.
- bare: a fresh process running `interpreter.invoke()` in a loop, timed around each call.
- litert-tool: ai_edge_litert/tools/benchmark_litert_model.py (CompiledModel API) as a subprocess;
  its JSON rounds to 0.01 ms, so read its ratio with that resolution in mind.

Usage: python benchmarks/litert_overhead.py [--threads 2] [--runs 300] [--rounds 3] [--write BENCHMARKS.md]
Target: edgekit p50 within 5% of the bare loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## LiteRT harness overhead (benchmarks/litert_overhead.py)"

BARE = r"""
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter
path, threads, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
it = Interpreter(model_path=path, num_threads=threads)
it.allocate_tensors()
d = it.get_input_details()[0]
it.set_tensor(d["index"], np.random.default_rng(0).uniform(0, 255, d["shape"]).astype(np.float32))
for _ in range(warmup):
    it.invoke()
t = []
for _ in range(runs):
    t0 = time.perf_counter_ns()
    it.invoke()
    t.append((time.perf_counter_ns() - t0) / 1e6)
print(json.dumps({"p50": float(np.percentile(t, 50)), "mean": float(np.mean(t)), "n": len(t)}))
"""


def build_model(work: Path) -> Path:
    """MobileNetV2 a0.35 96x96, trained one step (so outputs are not constant), exported to float32 .tflite."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    inp = keras.Input((96, 96, 3), name="image")
    out = keras.layers.Dense(5, activation="softmax")(keras.layers.GlobalAveragePooling2D()(base(inp)))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 96, 96, 3)).astype(np.float32)
    model.train_on_batch(x, rng.integers(0, 5, 16))
    model.export(work / "sm", format="tf_saved_model", verbose=False)
    path = work / "mobilenet_v2_035_96.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(work / "sm")).convert())
    np.savez(work / "feeds.npz", image=x[:1])
    return path


def run_edgekit(model: Path, work: Path, threads: int, runs: int, warmup: int, k: int) -> float:
    from edgekit.devices.local import LocalCPU
    from edgekit.manifest import Artifact
    from edgekit.protocol import BenchSettings, Job

    art = Artifact(id="tflite-float32", format="tflite", variant="float32", path=model.name)
    spec_in = [{"name": "image", "shape": [None, 96, 96, 3], "dtype": "float32"}]
    spec_out = [{"name": "output_0", "shape": [None, 5], "dtype": "float32"}]
    job = Job(runtime="litert", artifact=art.to_dict(), artifact_path=str(model), inputs=spec_in, outputs=spec_out,
              feeds_path=str(work / "feeds.npz"), outputs_path=str(work / f"out{k}.npz"),
              result_path=str(work / f"result{k}.json"), threads=threads,
              bench=BenchSettings(runs=runs, warmup=warmup, min_time=0.0, max_time=60.0, warmup_min_time=0.0))
    outcome = LocalCPU().run(job, timeout_s=300)
    if outcome.result is None or outcome.error:
        raise SystemExit(f"edgekit worker failed: {outcome.error} {outcome.stderr_tail[-3:]}")
    return float(outcome.result.latency["p50"])


def run_bare(model: Path, threads: int, runs: int, warmup: int) -> float:
    proc = subprocess.run([sys.executable, "-c", BARE, str(model), str(threads), str(runs), str(warmup)],
                          capture_output=True, text=True, timeout=300, check=True)
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["p50"])


def run_tool(model: Path, work: Path, threads: int, runs: int, warmup: int) -> float:
    import ai_edge_litert

    tool = Path(ai_edge_litert.__file__).parent / "tools" / "benchmark_litert_model.py"
    out = work / "tool.json"
    subprocess.run([sys.executable, str(tool), "--model", str(model), "--num_runs", str(runs), "--warmup_runs",
                    str(warmup), "--num_threads", str(threads), "--result_json", str(out)],
                   capture_output=True, text=True, timeout=300, check=True)
    return float(json.loads(out.read_text())["latency"]["median_ms"])


def write_section(md: Path, body: str, section: str = SECTION) -> None:
    """Replace (or append) one script's section of BENCHMARKS.md; other sections stay as they are."""
    text = md.read_text(encoding="utf-8") if md.exists() else "# edgekit benchmarks\n"
    start = text.find(section)
    if start >= 0:
        nxt = text.find("\n## ", start + len(section))
        text = text[:start] + body + (text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    md.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", type=Path, default=None, help="BENCHMARKS.md to update")
    a = ap.parse_args()

    from edgekit.bench import cpu_model

    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        work = Path(tmp)
        model = build_model(work)
        res: dict[str, list[float]] = {"edgekit": [], "bare": [], "litert-tool": []}
        for k in range(a.rounds):  # interleaved so drift (thermal, neighbours) hits every method alike
            res["edgekit"].append(run_edgekit(model, work, a.threads, a.runs, a.warmup, k))
            res["bare"].append(run_bare(model, a.threads, a.runs, a.warmup))
            res["litert-tool"].append(run_tool(model, work, a.threads, a.runs, a.warmup))
        size = model.stat().st_size
    p50 = {k: statistics.median(v) for k, v in res.items()}
    ratio_bare = p50["edgekit"] / p50["bare"]
    ratio_tool = p50["edgekit"] / p50["litert-tool"]
    lines = [
        SECTION, "",
        f"MobileNetV2 alpha 0.35, 96x96, float32 .tflite ({size / 1e6:.2f} MB), {a.threads} threads, "
        f"{a.runs} runs after {a.warmup} warm-up, median of {a.rounds} interleaved rounds; {cpu_model()}, "
        f"{os.cpu_count()} cores.", "",
        "| method | p50 ms (per round) | p50 ms |", "|---|---|---|",
        *[f"| {k} | {', '.join(f'{x:.4f}' for x in v)} | {p50[k]:.4f} |" for k, v in res.items()], "",
        f"- edgekit / bare invoke loop: **{ratio_bare:.3f}** (target <= 1.05)",
        f"- edgekit / benchmark_litert_model.py: **{ratio_tool:.3f}** (the tool rounds to 0.01 ms and uses the "
        "CompiledModel API)", "",
        "Reproduce: `.venv/bin/python benchmarks/litert_overhead.py --write BENCHMARKS.md` (about 90 s on 2 "
        "cores, most of it building the model and starting processes).",
    ]
    body = "\n".join(lines)
    print(body)
    if a.write:
        write_section(a.write, body)


if __name__ == "__main__":
    main()
