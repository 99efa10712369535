"""The README's main job: train a small CNN on real handwritten digits, convert it, validate every artifact.

Data: scikit-learn's bundled 1,797 8x8 digits (no download). Splits: a training split, a calibration set
drawn from it, and a labelled hold-out never seen in training or calibration (the golden set).
Then the real CLI: `edgekit convert` and `edgekit validate`, exactly as a user would type them.

Run: make demo   (or .venv/bin/python examples/digits_demo.py --out demo-out)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

# Level 3: TensorFlow logs CUDA plugin registration at error level on machines without a GPU.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build_and_train(out: Path, epochs: int, seed: int) -> None:
    import keras
    from sklearn.datasets import load_digits

    digits = load_digits()
    # The deployed model takes raw 0..255 grey pixels; scaling lives inside the model.
    x = (digits.images[..., None] * (255.0 / 16.0)).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    golden_idx, train_idx = order[:200], order[200:]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="pixels"),
        keras.layers.Rescaling(1 / 255.0),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[train_idx], y[train_idx], epochs=epochs, batch_size=32, validation_split=0.1, verbose=0)
    _, acc = model.evaluate(x[golden_idx], y[golden_idx], verbose=0)
    print(f"trained: hold-out accuracy {acc:.3f} on {len(golden_idx)} digits never seen in training")
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    calib = np.random.default_rng(seed + 1).choice(train_idx, 300, replace=False)
    np.save(out / "calibration.npy", x[calib])
    np.savez(out / "golden.npz", pixels=x[golden_idx], labels=y[golden_idx])
    (out / "labels.txt").write_text("\n".join(str(i) for i in range(10)) + "\n")
    (out / "preprocessing.json").write_text(json.dumps(
        {"input": "8x8 grey digit, 0..255, white on black", "scaling": "inside the model (Rescaling 1/255)"}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("demo-out"))
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = args.out
    if work.exists():
        shutil.rmtree(work)
    build_and_train(work, args.epochs, args.seed)
    edgekit = [sys.executable, "-m", "edgekit"]
    art = work / "artifacts"
    steps = [
        edgekit + ["convert", str(work / "model.keras"), "--out", str(art), "--calibration",
                   str(work / "calibration.npy"), "--golden", str(work / "golden.npz"), "--golden-samples", "200",
                   "--labels", str(work / "labels.txt"), "--preprocessing", str(work / "preprocessing.json")],
        edgekit + ["validate", str(art)],
    ]
    for cmd in steps:
        print("\n$ edgekit " + " ".join(cmd[3:]), flush=True)
        rc = subprocess.run(cmd, check=False).returncode
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
