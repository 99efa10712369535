"""Tiny models for the test-suite, each TRAINED a few steps on a learnable task.

An untrained net with a softmax head gives near-constant outputs, and parity on constant outputs proves
nothing; every fixture model here is trained until its outputs differ across inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 7


def quadrant_images(n: int, size: int, channels: int = 3, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Images in 0..255 with one bright quadrant; the label is the quadrant (4 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, size=(n, size, size, channels)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    h = size // 2
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, r * h:(r + 1) * h, c * h:(c + 1) * h, :] += rng.uniform(120, 190)
    return np.clip(x, 0, 255), y.astype(np.int64)


def feature_rows(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """8 features; the label is which of three feature groups has the largest sum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = np.argmax(np.stack([x[:, 0:3].sum(1), x[:, 3:6].sum(1), x[:, 6:8].sum(1) * 1.5], 1), 1)
    return x, y.astype(np.int64)


def sequences(n: int, steps: int = 8, feats: int = 8, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Sequences whose class is the time step (quarter) where a bump occurs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(n, steps, feats)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    q = steps // 4
    for i, c in enumerate(y):
        x[i, int(c) * q:(int(c) + 1) * q, :] += 1.0
    return x, y.astype(np.int64)


def _fit(model, x, y, epochs: int) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)


def build_mlp(path: Path) -> Path:
    import keras

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8,), name="features")
    h = keras.layers.Dense(32, activation="relu")(inp)
    out = keras.layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inp, out)
    x, y = feature_rows(512)
    _fit(model, x, y, epochs=8)
    model.save(path)
    return path


def build_cnn(path: Path) -> Path:
    import keras

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Rescaling(1 / 255.0)(inp)
    h = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(16, 3, activation="relu", padding="same")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, activation="softmax")(h)
    model = keras.Model(inp, out)
    x, y = quadrant_images(384, 16)
    _fit(model, x, y, epochs=6)
    model.save(path)
    return path


def build_mobilenet(path: Path, size: int = 32) -> Path:
    import keras

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((size, size, 3), name="image")
    h = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, include_top=False,
                                          weights=None)
    # A few training steps barely move BatchNorm's moving statistics at momentum 0.99, and inference-mode
    # outputs then stay constant. A fast momentum lets the short fit produce a model whose outputs vary.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.5
    h = base(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, activation="softmax")(h)
    model = keras.Model(inp, out)
    x, y = quadrant_images(256, size)
    _fit(model, x, y, epochs=4)
    model.save(path)
    return path


def build_lstm(path: Path) -> Path:
    return _build_recurrent(path, "LSTM")


def build_gru(path: Path) -> Path:
    return _build_recurrent(path, "GRU")


def _build_recurrent(path: Path, layer: str) -> Path:
    import keras

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8, 8), name="sequence")
    h = getattr(keras.layers, layer)(16)(inp)
    out = keras.layers.Dense(4, activation="softmax")(h)
    model = keras.Model(inp, out)
    x, y = sequences(512)
    _fit(model, x, y, epochs=6)
    model.save(path)
    return path
