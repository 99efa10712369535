"""`edgekit convert` (all formats) against the standalone tools run one after another, in one run.

Model: MobileNetV2 alpha 0.35 at 96x96, weights=None, trained one step (no download), 5 classes.
Standalone side, each a fresh process as a user or a CI script would run them:
  1. a minimal script: load the .keras model and model.export() the SavedModel (the tools need it)
  2. tflite_convert --saved_model_dir            (float32)
  3. a minimal script for float16, dynamic-range and full-int8 (one process for all three: generous)
  4. tensorflowjs_converter --input_format=tf_saved_model
  5. python -m tf2onnx.convert --saved-model --opset 17
edgekit produces the same artifacts plus golden inputs, reference outputs and the manifest.
Target (issue 17): edgekit takes at most 0.35x the standalone total; cold (--no-cache) and warm (the
SavedModel export cached by an earlier round) are both measured.
Run: .venv/bin/python benchmarks/convert_vs_standalone.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _util import VENV_BIN, measure  # noqa: E402

BUILD = r"""
import sys, numpy as np, keras
keras.utils.set_random_seed(0)
base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
inp = keras.Input((96, 96, 3), name="image")
x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
x = keras.layers.GlobalAveragePooling2D()(base(x))
model = keras.Model(inp, keras.layers.Dense(5, activation="softmax")(x))
model.compile("adam", "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (32, 96, 96, 3)).astype("float32")
model.fit(x, rng.integers(0, 5, 32), epochs=1, verbose=0)
model.save(sys.argv[1])
np.save(sys.argv[2], rng.uniform(0, 255, (164, 96, 96, 3)).astype("float32"))
"""

EXPORT = r"""
import sys, keras
keras.saving.load_model(sys.argv[1]).export(sys.argv[2], verbose=False)
"""

QUANTIZED = r"""
import sys, numpy as np, tensorflow as tf
sm, out, cal = sys.argv[1], sys.argv[2], np.load(sys.argv[3])[:100]
def conv(**kw):
    c = tf.lite.TFLiteConverter.from_saved_model(sm)
    for k, v in kw.items():
        setattr(c, k, v)
    return c
c = conv(optimizations=[tf.lite.Optimize.DEFAULT]); c.target_spec.supported_types = [tf.float16]
open(out + "/float16.tflite", "wb").write(c.convert())
open(out + "/dynamic.tflite", "wb").write(conv(optimizations=[tf.lite.Optimize.DEFAULT]).convert())
c = conv(optimizations=[tf.lite.Optimize.DEFAULT],
         representative_dataset=lambda: ([cal[i:i + 1]] for i in range(len(cal))),
         inference_input_type=tf.int8, inference_output_type=tf.int8)
c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(out + "/int8.tflite", "wb").write(c.convert())
"""


def standalone(work: Path, model: Path, cal: Path, env: dict[str, str]) -> dict[str, float]:
    out = work / "standalone"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    sm = out / "saved_model"
    py = sys.executable
    steps = {
        "export SavedModel (script)": [py, "-c", EXPORT, str(model), str(sm)],
        "tflite_convert float32": [str(VENV_BIN / "tflite_convert"), f"--saved_model_dir={sm}",
                                   f"--output_file={out / 'float32.tflite'}"],
        "float16+dynamic+int8 (script)": [py, "-c", QUANTIZED, str(sm), str(out), str(cal)],
        "tensorflowjs_converter": [str(VENV_BIN / "tensorflowjs_converter"), "--input_format=tf_saved_model",
                                   str(sm), str(out / "tfjs")],
        "python -m tf2onnx.convert": [py, "-m", "tf2onnx.convert", "--saved-model", str(sm), "--output",
                                      str(out / "model.onnx"), "--opset", "17"],
    }
    return {name: measure(cmd, env)["wall_s"] for name, cmd in steps.items()}


def edgekit(work: Path, model: Path, cal: Path, env: dict[str, str], cache: bool) -> float:
    """One `edgekit convert`: cold (--no-cache: the SavedModel exported, as on a first convert) or warm (the
    export cache, in this run's own folder, filled by an earlier round: a second convert of an unchanged model)."""
    out = work / "edgekit"
    cmd = [str(VENV_BIN / "edgekit"), "convert", str(model), "--out", str(out), "--calibration", str(cal),
           "--calibration-samples", "100", "--force", "--quiet", *([] if cache else ["--no-cache"])]
    return measure(cmd, env)["wall_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFDF_DISABLE_WELCOME_MESSAGE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, cal = work / "mobilenet.keras", work / "cal.npy"
        subprocess.run([sys.executable, "-c", BUILD, str(model), str(cal)], check=True, env=env)
        env["EDGEKIT_EXPORT_CACHE_DIR"] = str(work / "export-cache")  # never the user's own cache
        edgekit(work, model, cal, env, cache=True)  # fills the cache for the warm rounds
        ek, warm, sa = [], [], []
        for _ in range(args.repeat):  # alternate so machine load drifts affect both sides alike
            ek.append(edgekit(work, model, cal, env, cache=False))
            sa.append(standalone(work, model, cal, env))
            warm.append(edgekit(work, model, cal, env, cache=True))
        ek_med, warm_med = statistics.median(ek), statistics.median(warm)
        totals = [sum(s.values()) for s in sa]
        sa_med = statistics.median(totals)
        print(f"{'step':34} {'seconds (median of ' + str(args.repeat) + ')':>24}")
        for name in sa[0]:
            print(f"{'  ' + name:34} {statistics.median(s[name] for s in sa):24.2f}")
        print(f"{'standalone total':34} {sa_med:24.2f}")
        print(f"{'edgekit convert --no-cache':34} {ek_med:24.2f}")
        print(f"{'edgekit convert (export cached)':34} {warm_med:24.2f}")
        for name, t in (("cold", ek_med), ("warm", warm_med)):
            ratio = t / sa_med
            print(f"edgekit ({name}) / standalone = {ratio:.2f} (target <= 0.35: "
                  f"{'MET' if ratio <= 0.35 else 'MISSED'})")
        print(f"{os.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
