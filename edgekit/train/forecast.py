"""Recipe 3: time-series forecaster, a small LSTM over sliding windows.

The series is split in time: the last ``holdout`` fraction of target steps is the golden hold-out (their
windows may look back into the training period; their targets were never trained on), and the end of
the rest validates. Normalisation statistics (mean, std) come from the training period only and ship in
``preprocessing.json``: apps compute ``(x - mean) / std`` on the window and ``y * std + mean`` on the
output. Keeping them outside the graph keeps the int8 input range centred.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.train import datasets
from edgekit.train.engine import Clock, TrainOptions, callbacks, merge_history, seed_everything, write_common
from edgekit.train.recipe import Recipe

INPUT_NAME = "window"
TARGETS_FILE = "golden_targets.npy"


def windows(series: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs [N, window, 1], targets [N, horizon], index of each window's first target)."""
    n = len(series) - window - horizon + 1
    if n < 1:
        raise InputError(f"the series has {len(series)} values: too short for window {window} + horizon {horizon}")
    idx = np.arange(n)
    x = np.stack([series[i:i + window] for i in idx])[..., None]
    y = np.stack([series[i + window:i + window + horizon] for i in idx])
    return x.astype(np.float32), y.astype(np.float32), idx + window


def build_model(window: int, horizon: int, m: dict[str, Any]) -> Any:
    import keras

    inp = keras.Input((window, 1), name=INPUT_NAME)
    h = keras.layers.LSTM(int(m["units"]), name="lstm")(inp)
    if m["dropout"] > 0:
        h = keras.layers.Dropout(float(m["dropout"]), name="dropout")(h)
    out = keras.layers.Dense(horizon, name="forecast")(h)
    return keras.Model(inp, out, name="lstm_forecaster")


def train_forecast(recipe: Recipe, opts: TrainOptions, strategy: Any, staging: Path, clock: Clock) -> dict[str, Any]:
    import keras

    log = opts.log or (lambda _s: None)
    d, t = recipe.data, recipe.train
    series, source_desc = datasets.load_series(d["source"], d["column"], recipe.resolve_path)
    w, hz = int(d["window"]), int(d["horizon"])
    x, y, first = windows(series, w, hz)
    n = len(x)
    n_gold = max(1, int(round(float(d["holdout"]) * n)))
    n_val = int(round(float(t["validation_split"]) * (n - n_gold)))
    n_train = n - n_gold - n_val
    if n_train < 2:
        raise InputError(f"the series gives {n} windows: too few to train after holding out {n_gold} and validating "
                         f"on {n_val}; use a longer series or a smaller data.window")
    # Statistics from values the training windows can see (inputs and targets), never from later ones.
    train_end = int(first[n_train - 1]) + hz
    mean = float(series[:train_end].mean())
    std = float(series[:train_end].std()) or 1.0
    xn, yn = (x - mean) / std, (y - mean) / std
    tr, va, go = np.arange(n_train), np.arange(n_train, n_train + n_val), np.arange(n - n_gold, n)
    clock.mark("windows")
    seed_everything(recipe.seed)
    with strategy.scope():
        model = build_model(w, hz, recipe.model)
        model.compile(keras.optimizers.Adam(float(t["learning_rate"])), "mse", metrics=["mae"])
    clock.mark("build")
    log(f"training {model.name}: {n_train} windows of {w} steps, validation {n_val}, hold-out {n_gold}")
    work = staging / "_work"
    work.mkdir()
    val = (xn[va], yn[va]) if n_val else None
    hist = model.fit(xn[tr], yn[tr], validation_data=val, epochs=int(t["epochs"]), batch_size=int(t["batch_size"]),
                     shuffle=True, verbose=opts.verbose, callbacks=callbacks(t, work, val is not None, opts.log))
    clock.mark("fit")
    pred = model.predict(xn[go], verbose=0) * std + mean
    mae = float(np.abs(pred - y[go]).mean())
    naive = float(np.abs(x[go][:, -1, :] - y[go]).mean())  # persistence: tomorrow = today
    calib = np.sort(np.random.default_rng(recipe.seed + 1).permutation(tr)[:int(d["calibration_samples"])])
    np.save(staging / TARGETS_FILE, y[go])
    history = merge_history(hist)
    preprocessing = {
        "input": INPUT_NAME, "shape": [w, 1], "dtype": "float32",
        "normalization": {"mean": mean, "std": std, "input": "(x - mean) / std", "output": "y * std + mean"},
        "window": w, "horizon": hz, "order": "oldest first; the model predicts the next `horizon` values",
    }
    info = {
        "metrics": {"holdout_mae": round(mae, 4), "naive_mae": round(naive, 4),
                    "skill_vs_naive": round(1 - mae / naive, 4) if naive else None,
                    "holdout_samples": int(n_gold), "epochs_run": len(history.get("loss", []))},
        "data": {"source": source_desc, "values": int(len(series)), "windows": n, "train": n_train,
                 "validation": n_val, "golden": n_gold, "calibration": int(len(calib))},
        "model": {"family": "LSTM", "units": recipe.model["units"], "params": int(model.count_params())},
        "files_extra": {"golden_targets": TARGETS_FILE},
        "history": history,
    }
    return write_common(staging, recipe, model, {INPUT_NAME: xn[calib]}, {INPUT_NAME: xn[go]}, None,
                        preprocessing, info)
