"""Quality targets of the built-in recipes, measured end to end with the real commands' library calls.

1. digits (MobileNetV2 alpha 0.35, 64x64, from scratch): float32 top-1 on the hold-out >= 95%; int8 TFLite
   within 1.0 point of float32; int8 file <= 0.3x the float32 file.
2. digit-rows-lstm (Embedding + LSTM): converts to TFLite without Flex ops; its int8 or dynamic variant
   within 2 points of float32.
3. sunspots-forecaster: hold-out MAE against the persistence baseline (no target; reported).
Plus a size-only diagnostic: the int8/float32 byte ratio of MobileNetV2 at alpha 1.0 (untrained,
96x96), to show where the 0.3x target comes from.

Usage: python benchmarks/recipe_quality.py [--work DIR] [--write BENCHMARKS.md] [--skip-alpha1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SECTION = "## recipe quality (benchmarks/recipe_quality.py)"
WHY = (
    "Why the 0.3x size target is missed: it comes from TFLite's hosted MobileNetV2 (3.4 MB int8 vs 14 MB float), a "
    "per-tensor quantized model. edgekit's int8 is per-channel (the converter default, and what keeps ImageNet "
    "MobileNetV2 accurate): every output channel of every conv carries a float32 scale and an int64 zero point, "
    "12 bytes that do not shrink with the weights. At alpha 0.35 that is over a quarter of the file; at alpha 1.0 "
    "it is diluted to about 0.30x. Per-tensor int8 of the same digits model meets the size target with no accuracy "
    "loss here; on ImageNet, per-layer post-training quantization of MobileNets loses most of the accuracy "
    "(the quantization whitepaper's per-layer vs per-channel results), so it is not switched on: it would need an "
    "opt-in per-tensor option in `edgekit convert` (not built; a decision for the convert owner)."
)


def _pipeline(recipe: str, work: Path, formats: str, reuse: bool) -> dict[str, Any]:
    from edgekit.convert import ConvertOptions, convert
    from edgekit.protocol import BenchSettings
    from edgekit.train import TrainOptions, train
    from edgekit.validate import ValidateOptions, validate

    out = work / recipe
    if reuse and (out / "artifacts" / "report" / "report.json").is_file():
        from types import SimpleNamespace

        from edgekit import manifest as mf

        info = json.loads((out / "train.json").read_text())
        tr = SimpleNamespace(metrics=info["metrics"])
        t_train = info["seconds"]["total"]
        conv = SimpleNamespace(out=out / "artifacts", manifest=mf.load(out / "artifacts"))
        rep = json.loads((out / "artifacts" / "report" / "report.json").read_text())
    else:
        t = time.perf_counter()
        tr = train(recipe, TrainOptions(out=out, force=True))
        t_train = time.perf_counter() - t
        conv = convert(out, None, ConvertOptions(formats=formats, force=True))
        rep = validate(conv.out, ValidateOptions(bench=BenchSettings(runs=20, min_time=0.2)))
    rows = {r["artifact"]: r for r in rep["results"] if r["runtime"] in ("litert", "onnxruntime", "tensorflow")}
    arts = {a.id: a for a in conv.manifest.artifacts}
    return {"train": tr, "train_s": t_train, "convert": conv, "report": rep, "rows": rows, "arts": arts}


def _acc(rows: dict[str, Any], aid: str) -> float | None:
    acc = (rows.get(aid) or {}).get("accuracy")
    return None if acc is None else float(acc["value"])


def _flatbuffer_parts(data: bytes) -> dict[str, int]:
    from ai_edge_litert import schema_py_generated as fb

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    tensors = m.subgraphs[0].tensors
    qs = [t.quantization for t in tensors if t.quantization is not None and t.quantization.scale is not None]
    return {"buffers": sum(len(b.data) for b in m.buffers if b.data is not None),
            "quant_params": sum(len(q.scale) * 4 + len(q.zeroPoint if q.zeroPoint is not None else []) * 8
                                for q in qs),
            "channels": sum(len(q.scale) for q in qs if len(q.scale) > 1),
            "names": sum(len(t.name or b"") for t in tensors)}


def per_tensor(folder: Path) -> dict[str, Any]:
    """Per-tensor int8 of the digits model: the size the 0.3x target assumes, and what it costs in accuracy."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    art = folder / "artifacts"
    with np.load(folder / "calibration.npz", allow_pickle=False) as z:
        calib = z["image"]
    with np.load(folder / "golden.npz", allow_pickle=False) as z:
        gx, gy = z["image"], z["labels"]
    conv = tf.lite.TFLiteConverter.from_saved_model(str(art / "saved_model"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel = True
    data = conv.convert()
    interp = Interpreter(model_content=data)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    (si, zi), (so, zo) = i["quantization"], o["quantization"]
    hits = 0
    for x, y in zip(gx, gy, strict=True):
        interp.set_tensor(i["index"], np.clip(np.round(x[None] / si) + zi, -128, 127).astype(np.int8))
        interp.invoke()
        hits += int(np.argmax(so * (interp.get_tensor(o["index"]).astype(np.float32) - zo)) == y)
    int8_file = next(p for p in art.glob("*int8*.tflite"))
    return {"bytes": len(data), "accuracy": hits / len(gy), **_flatbuffer_parts(int8_file.read_bytes())}


def alpha1_ratio(work: Path) -> tuple[int, int]:
    """Bytes of tflite-float32 and tflite-int8 for MobileNetV2 alpha 1.0 at 96x96 (size does not need training)."""
    import keras

    from edgekit.convert import ConvertOptions, convert

    keras.utils.set_random_seed(0)
    inp = keras.Input((96, 96, 3), name="image")
    h = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    h = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=1.0, include_top=False, weights=None)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(h))
    model.save(work / "a1.keras")
    calib = np.random.default_rng(0).uniform(0, 255, (40, 96, 96, 3)).astype(np.float32)
    np.save(work / "a1_calib.npy", calib)
    conv = convert(work / "a1.keras", work / "a1", ConvertOptions(formats="tflite-float32,tflite-int8",
                                                                   calibration=str(work / "a1_calib.npy"),
                                                                   golden_samples=8, force=True))
    arts = {a.id: a for a in conv.manifest.artifacts}
    return arts["tflite-float32"].bytes, arts["tflite-int8"].bytes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--write", type=Path, default=None)
    ap.add_argument("--skip-alpha1", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="reuse trained+validated folders already in --work")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="edgekit-recipe-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    from edgekit.tflite_inspect import inspect

    lines: list[str] = []
    checks: list[tuple[str, bool, str]] = []

    img = _pipeline("digits", work, "all", a.reuse)
    f32, i8 = _acc(img["rows"], "tflite-float32"), _acc(img["rows"], "tflite-int8")
    src = img["train"].metrics["holdout_accuracy"]
    ratio = img["arts"]["tflite-int8"].bytes / img["arts"]["tflite-float32"].bytes
    n = img["train"].metrics["holdout_samples"]
    checks += [
        ("digits float32 top-1 >= 95%", f32 is not None and f32 >= 0.95, f"{f32:.4f} on {n} hold-out digits"),
        ("digits int8 within 1.0 point of float32", f32 is not None and i8 is not None and f32 - i8 <= 0.01,
         f"int8 {i8:.4f}, delta {100 * (i8 - f32):+.2f} points"),
        ("digits int8 bytes <= 0.3x float32", ratio <= 0.3,
         f"{img['arts']['tflite-int8'].bytes:,} / {img['arts']['tflite-float32'].bytes:,} B = {ratio:.3f}x"),
    ]
    lines.append(f"digits: trained in {img['train_s']:.0f} s ({img['train'].metrics['epochs_run']} epochs), Keras "
                 f"hold-out {src:.4f}; per artifact: " + ", ".join(
                     f"{k} {_acc(img['rows'], k):.4f}" for k in ("tflite-float32", "tflite-float16", "tflite-dynamic",
                                                                  "tflite-int8", "onnx") if _acc(img["rows"], k)
                     is not None))

    seq = _pipeline("digit-rows-lstm", work, "tflite", a.reuse)
    flex = {aid: inspect(seq["convert"].out / art.path).flex_ops for aid, art in seq["arts"].items() if art.ok}
    sf, sd, si = (_acc(seq["rows"], k) for k in ("tflite-float32", "tflite-dynamic", "tflite-int8"))
    best = max(x for x in (sd, si) if x is not None)
    checks += [
        ("LSTM converts without Flex ops", all(not v for v in flex.values()) and len(flex) == 4,
         f"{len(flex)} TFLite variants, Flex ops: {sorted({o for v in flex.values() for o in v}) or 'none'}; "
         f"lowering {seq['arts']['tflite-float32'].converter.get('options', {}).get('lstm_lowering')}"),
        ("LSTM int8 or dynamic within 2 points of float", sf is not None and sf - best <= 0.02,
         f"float {sf:.4f}, dynamic {sd:.4f}, int8 {si:.4f}"),
    ]
    sizes = {k: seq["arts"][k].bytes for k in ("tflite-float32", "tflite-dynamic", "tflite-int8")}
    lines.append(f"digit-rows-lstm: Keras hold-out {seq['train'].metrics['holdout_accuracy']:.4f} on "
                 f"{seq['train'].metrics['holdout_samples']}; sizes " + ", ".join(f"{k} {v:,} B" for k, v in
                                                                                  sizes.items()))

    from edgekit.train import TrainOptions, train

    fc = train("sunspots-forecaster", TrainOptions(out=work / "sunspots", force=True)).metrics
    lines.append(f"sunspots-forecaster: hold-out MAE {fc['holdout_mae']:.2f} sunspots vs persistence "
                 f"{fc['naive_mae']:.2f} (skill {fc['skill_vs_naive']:+.2f}) on {fc['holdout_samples']} years")
    pt = per_tensor(work / "digits")
    lines.append(f"where the int8 bytes go (digits): weights and biases {pt['buffers']:,} B, per-channel quantization "
                 f"parameters {pt['quant_params']:,} B ({pt['channels']:,} scales as float32 + zero points as int64), "
                 f"tensor names {pt['names']:,} B")
    lines.append(f"same model, per-tensor int8 (converter._experimental_disable_per_channel): {pt['bytes']:,} B = "
                 f"{pt['bytes'] / img['arts']['tflite-float32'].bytes:.3f}x float32, hold-out top-1 "
                 f"{pt['accuracy']:.4f} ({100 * (pt['accuracy'] - f32):+.2f} points vs float32)")
    if not a.skip_alpha1:
        fb, ib = alpha1_ratio(work)
        lines.append(f"size diagnostic, MobileNetV2 alpha 1.0 96x96: int8 {ib:,} / float32 {fb:,} B = {ib / fb:.3f}x")

    table = ["| target | result | measured |", "|---|---|---|"]
    table += [f"| {name} | {'PASS' if ok else 'MISS'} | {detail} |" for name, ok, detail in checks]
    body = "\n".join(table) + "\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n\n" + WHY
    print(body)
    if a.write:
        from benchmarks.litert_overhead import write_section

        write_section(a.write, SECTION + "\n\n" + body + "\n\nReproduce: `.venv/bin/python benchmarks/"
                      "recipe_quality.py --write BENCHMARKS.md` (2-core machine, CPU only).\n", SECTION)
    (work / "recipe_quality.json").write_text(json.dumps({"checks": checks, "notes": lines}, indent=2))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
