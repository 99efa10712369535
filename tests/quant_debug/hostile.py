"""A quantization-hostile classifier, trained: two activation channels of one layer carry values about 10,000x
larger than the rest (as "massive activations" do in real networks). Per-tensor activation scales then leave
the informative channels of that tensor a fraction of one int8 step: plain int8 collapses to chance, while
float16 and dynamic-range (float activations) keep the float accuracy.

Layers: ``wide`` (8 -> 256) and ``deep`` (256 -> 256) hold most of the weights and quantize well; ``spike``
writes the outlier tensor; ``mix`` reads it; ``head`` is the softmax. The culprits are ``spike`` and ``mix``:
keeping both in float (the outlier tensor stays float) restores the accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.models import SEED, feature_rows

CULPRITS = ("spike", "mix")
OUTLIER = (40000.0, 30000.0)


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return feature_rows(n, seed=seed)


def build(path: Path) -> Path:
    import keras

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8,), name="features")
    h = keras.layers.Dense(256, activation="relu", name="wide")(inp)
    h = keras.layers.Dense(256, activation="relu", name="deep")(h)
    h = keras.layers.Dense(18, activation="relu", name="spike")(h)
    h = keras.layers.Dense(16, activation="relu", name="mix")(h)
    out = keras.layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inp, out)
    x, y = data(1000, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    # Two channels of `spike` become constant giants that `mix` ignores: the function is unchanged.
    w, b = model.get_layer("spike").get_weights()
    w[:, :2], b[:2] = 0.0, OUTLIER
    model.get_layer("spike").set_weights([w, b])
    w2, b2 = model.get_layer("mix").get_weights()
    w2[:2, :] = 0.0
    model.get_layer("mix").set_weights([w2, b2])
    model.save(path)
    return path
