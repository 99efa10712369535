"""TFLite Micro: flash bytes, arena bytes, and TFLM's host latency against LiteRT's int8 latency on the same file.

Models: the digits recipe (MobileNetV2 alpha 0.35 at 64x64, 10 classes; a trained folder from `edgekit train
digits`, given with --digits, else trained here) and a keyword-spotting-sized CNN (DS-CNN-S shaped: 49x10 MFCC
input, a 10x4 conv then four depthwise-separable blocks of 64 channels, 12 classes; trained a few steps on noise,
which is enough for sizes and timings, not for accuracy). Each converts with `--formats tflm`; then, in fresh
processes, a bare invoke loop (1 thread: a microcontroller has one core) times the same `tflm/model.tflite` in
TFLM's interpreter (reference kernels) and in LiteRT (XNNPACK). Host timings: they rank kernels, not boards.

Usage: python benchmarks/tflm.py [--digits DIR] [--runs 200] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## TFLite Micro (benchmarks/tflm.py)"

LOOP = r"""
import json, sys, time
import numpy as np
path, engine, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
if engine == "tflm":
    from tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[4]))
    d = it.get_input_details(0)
    it.set_input(np.zeros(tuple(d["shape"]), d["dtype"]), 0)
    call = it.invoke
else:
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=data, num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    call = it.invoke
for _ in range(max(3, runs // 10)):
    call()
t = []
for _ in range(runs):
    t0 = time.perf_counter_ns()
    call()
    t.append((time.perf_counter_ns() - t0) / 1e6)
print(json.dumps({"p50": float(np.percentile(t, 50)), "mean": float(np.mean(t)), "n": len(t)}))
"""


def build_kws(path: Path) -> tuple[Path, Path]:
    """A DS-CNN-S-sized keyword spotter (49x10x1 -> 12), trained 2 epochs on noise; returns (model, calibration)."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inp = keras.Input((49, 10, 1), name="mfcc")
    x = keras.layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", activation="relu")(inp)
    for _ in range(4):
        x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(64, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(12, activation="softmax")(x))
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(256, 49, 10, 1)).astype("float32")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(xs, rng.integers(0, 12, 256), epochs=2, verbose=0)
    model.save(path)
    calib = path.with_suffix(".npz")
    np.savez(calib, mfcc=xs[:200])
    return path, calib


def convert(model: Path, out: Path, calibration: Path | None) -> dict:
    from edgekit.convert import ConvertOptions, convert

    opts = ConvertOptions(formats="tflm", golden_samples=16, force=True,
                          calibration=str(calibration) if calibration else None)
    art = convert(model, out, opts).manifest.artifact("tflm")
    if not art.ok:
        raise SystemExit(f"tflm failed for {model}: {art.reason}")
    return {"path": out / art.path / "model.tflite", "record": art.extra["tflm"]}


def loop(path: Path, engine: str, runs: int, arena: int) -> dict:
    out = subprocess.run([sys.executable, "-c", LOOP, str(path), engine, str(runs), str(arena)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(name: str, conv: dict, runs: int) -> dict:
    rec = conv["record"]
    arena = rec["arena"]["recommended_bytes"]
    tflm, litert = loop(conv["path"], "tflm", runs, arena), loop(conv["path"], "litert", runs, arena)
    return {"model": name, "flash_bytes": rec["flash_bytes"], "arena_bytes": rec["arena"]["bytes"],
            "arena_recommended": arena, "ops": len(rec["ops"]), "tflm_p50": tflm["p50"],
            "litert_p50": litert["p50"], "ratio": tflm["p50"] / litert["p50"], "n": tflm["n"]}


def table(rows: list[dict], runs: int) -> str:
    lines = [SECTION, "",
             f"Host timings (AMD EPYC, 2 cores, shared machine), 1 thread, p50 of {runs} invokes after warm-up, "
             "each in a fresh process, on the same `tflm/model.tflite`: TFLM's reference kernels vs LiteRT (XNNPACK). "
             "Board latency differs (CMSIS-NN / ESP-NN kernels on a far slower CPU); these figures rank, they do not "
             "predict.", "",
             "| model | flash (model) B | arena measured B | arena declared B | ops | TFLM p50 ms | LiteRT int8 p50 ms "
             "| TFLM / LiteRT |", "|" + "---|" * 8]
    lines += [f"| {r['model']} | {r['flash_bytes']:,} | {r['arena_bytes']:,} | {r['arena_recommended']:,} | "
              f"{r['ops']} | {r['tflm_p50']:.3f} | {r['litert_p50']:.3f} | {r['ratio']:.1f}x |" for r in rows]
    lines += ["", "Reproduce: `.venv/bin/python benchmarks/tflm.py --digits DIGITS_TRAIN_DIR --write BENCHMARKS.md`.",
              ""]
    return "\n".join(lines)


def write(md: Path, text: str) -> None:
    body = md.read_text(encoding="utf-8")
    if SECTION in body:
        start = body.index(SECTION)
        nxt = body.find("\n## ", start + len(SECTION))
        body = body[:start] + text + (body[nxt + 1:] if nxt >= 0 else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text
    md.write_text(body, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=Path, help="a folder from `edgekit train digits` (else trained here)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--write", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        digits = a.digits
        if digits is None:
            digits = work / "digits"
            subprocess.run([sys.executable, "-m", "edgekit", "train", "digits", "--out", str(digits), "-q"], check=True)
        kws, calib = build_kws(work / "kws.keras")
        kws_name = "keyword spotting (DS-CNN-S shaped, 49x10 MFCC, 12 classes)"
        rows = [row("digits (MobileNetV2 a0.35, 64x64, 10 classes)", convert(digits, work / "digits-tflm", None),
                    a.runs),
                row(kws_name, convert(kws, work / "kws-tflm", calib), a.runs)]
    text = table(rows, a.runs)
    print(text)
    if a.write:
        write(a.write, text)


if __name__ == "__main__":
    main()
