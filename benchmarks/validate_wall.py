"""Total wall time of `edgekit validate` on every artifact of MobileNetV2 (alpha 0.35, 96x96) with 64
golden inputs, and the share of it spent outside the timed inference loops.

Builds the model (weights=None, trained one epoch on generated quadrant images so outputs vary),
converts it with `edgekit convert` (all formats), then runs `edgekit validate OUT --json` in a fresh
process with the default latency settings and reads the summary.

Usage: python benchmarks/validate_wall.py [--threads 2] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## validate wall time (benchmarks/validate_wall.py)"


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """96x96 images with one bright quadrant; the label is the quadrant (a learnable 4-class task)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (n, 96, 96, 3)).astype(np.float32)
    y = rng.integers(0, 4, n)
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, r * 48:(r + 1) * 48, c * 48:(c + 1) * 48] += 150
    return x, y


def build(work: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((96, 96, 3), name="image")
    h = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    out = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(base(h)))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = images(192, 1)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(work / "mobilenet.keras")
    cx, cy = images(264, 2)
    np.savez(work / "calib.npz", image=cx, labels=cy)
    return work / "mobilenet.keras"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write", type=Path, default=None)
    a = ap.parse_args()
    from edgekit.convert import ConvertOptions, convert

    with tempfile.TemporaryDirectory(prefix="edgekit-wall-") as tmp:
        work = Path(tmp)
        model = build(work)
        convert(model, work / "out", ConvertOptions(calibration=str(work / "calib.npz"), golden_samples=64))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "edgekit", "validate", str(work / "out"), "--json",
                               "--threads", str(a.threads)], capture_output=True, text=True, timeout=1200,
                              check=False, cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            raise SystemExit(f"validate failed ({proc.returncode}): {proc.stderr[-800:]}")
        rep = json.loads(proc.stdout)
    s = rep["summary"]
    st = rep["settings"]
    nan = float("nan")
    rows = [f"| {r['artifact']} | {r['runtime']} | {r['status']} | {r['wall_s'] or 0:.2f} | "
            f"{(r['latency_ms'] or {}).get('p50', nan):.3f} | {(r['latency_ms'] or {}).get('mean', nan):.3f} | "
            f"{(r['latency_ms'] or {}).get('count', 0)} |"
            for r in rep["results"]]
    lines = [
        SECTION, "",
        f"MobileNetV2 alpha 0.35, 96x96, 4 classes, {rep['golden']['samples']} golden inputs, every artifact "
        f"({s['total']} artifact x runtime rows: {s['pass']} pass, {s['fail']} fail, {s['error']} error, "
        f"{s['unavailable']} unavailable), default settings (runs {st['runs']}, warm-up {st['warmup']}, "
        f"min time {st['min_time']} s), {st['threads']} threads; {rep['device']['environment']['cpu']}, "
        f"{rep['device']['environment']['cores']} cores.", "",
        f"- wall time of `edgekit validate` (process start to exit): **{wall:.1f} s** "
        f"(validate's own measure: {s['wall_s']:.1f} s)",
        f"- inside the timed loops (warm-up + steady state): {s['timed_s']:.1f} s; outside: "
        f"**{1 - s['timed_s'] / wall:.0%}** of the wall time (worker start-up and imports, model loading, the "
        "golden pass, hashing, reports)", "",
        "| artifact | runtime | status | worker wall s | p50 ms | mean ms | timed runs |",
        "|---|---|---|---|---|---|---|",
        *rows, "",
        f"Load average while measuring (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a mean far "
        "above p50 means the run shared the cores with other work).", "",
        "Reproduce: `.venv/bin/python benchmarks/validate_wall.py --write BENCHMARKS.md`.",
    ]
    body = "\n".join(lines)
    print(body)
    if a.write:
        from benchmarks.litert_overhead import write_section

        write_section(a.write, body, SECTION)


if __name__ == "__main__":
    main()
