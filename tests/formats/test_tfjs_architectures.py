"""Issue 13: TF.js on the architectures people ship. Tiny models with EfficientNet's (and MobileNetV3's
hard-swish) and DenseNet's layer patterns convert to fused nodes TF.js's wasm backend refuses ("FusedConv2D only
supports rank-1 bias but got rank 4"); tfjs_rewrite.unfuse_bias makes them run with parity.

Each model is converted once with the rewrite switched off: convert's run check records the wasm failure
(partly-runnable: the cpu backend runs it). The rewrite is then applied to that same model.json, as
tfjs.convert does, and the golden samples run on wasm against Keras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit import artifact_check
from edgekit.formats import TARGETS, tfjs
from edgekit.formats.tfjs_rewrite import unfuse_bias
from tests.artifact_runs import run_tfjs
from tests.formats.conftest import prepare
from tests.helpers import require

FLOAT32_MAX_ABS = 1e-4  # measured ~1e-7: the same arithmetic, unfused


def _bn(x, layers, rng):
    """BatchNormalization on axis 3 as keras.applications writes it, with trained-looking statistics."""
    bn = layers.BatchNormalization(axis=3)
    y = bn(x)
    c = bn.gamma.shape[0]
    bn.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c), rng.normal(0, 0.3, c), rng.uniform(0.5, 1.5, c)])
    return y


def _efficientnet(keras, rng):
    """Stem conv-BN-swish, one MBConv block: expand, depthwise, squeeze-and-excitation (broadcast multiply),
    project, residual add; then MobileNetV3's hard-swish (it converts to Relu6/Mul/AddV2: no _FusedHardSwish on
    TF 2.19 + tensorflowjs 4.22)."""
    L = keras.layers
    i = keras.Input((8, 8, 3))
    x = L.Activation("swish")(_bn(L.Conv2D(8, 3, padding="same", use_bias=False)(i), L, rng))
    y = L.Activation("swish")(_bn(L.Conv2D(16, 1, use_bias=False)(x), L, rng))
    y = L.Activation("swish")(_bn(L.DepthwiseConv2D(3, padding="same", use_bias=False)(y), L, rng))
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(16, 1, activation="sigmoid")(L.Conv2D(4, 1, activation="swish")(s))
    y = _bn(L.Conv2D(8, 1, use_bias=False)(L.Multiply()([y, s])), L, rng)
    x = L.Add()([y, x])
    # MobileNetV3's hard-swish, twice: keras.applications' own x * ReLU6(x + 3) / 6, and Activation("hard_swish")
    x = _bn(L.Conv2D(8, 1, use_bias=False)(x), L, rng)
    x = L.Multiply()([x, L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])
    x = L.Activation("hard_swish")(_bn(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x), L, rng))
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))


def _densenet(keras, rng):
    """Stem conv-BN-ReLU, two dense layers BN-ReLU-Conv1x1-BN-ReLU-Conv3x3 concatenated onto their input."""
    L = keras.layers
    i = keras.Input((8, 8, 3))
    x = L.Activation("relu")(_bn(L.Conv2D(8, 3, padding="same", use_bias=False)(i), L, rng))
    for _ in range(2):
        y = L.Conv2D(8, 1, use_bias=False)(L.Activation("relu")(_bn(x, L, rng)))
        y = L.Conv2D(4, 3, padding="same", use_bias=False)(L.Activation("relu")(_bn(y, L, rng)))
        x = L.Concatenate(axis=3)([x, y])
    x = L.Activation("relu")(_bn(x, L, rng))
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))


BUILDERS = {"efficientnet": _efficientnet, "densenet": _densenet}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def unrewritten(request, tmp_path_factory):
    """(name, Prepared, context, artifact converted without the rewrite, checked) for one pattern."""
    import keras

    from edgekit.runtimes.tfjs_node import unavailable_reason

    require(unavailable_reason() is None, "TF.js in Node is not installed")
    keras.utils.set_random_seed(7)
    root = tmp_path_factory.mktemp(request.param)
    BUILDERS[request.param](keras, np.random.default_rng(7)).save(root / "m.keras")
    golden = np.random.default_rng(8).normal(size=(8, 8, 8, 3)).astype(np.float32)
    p = prepare(root / "m.keras", root, golden, golden)
    with pytest.MonkeyPatch.context() as mp, p.context(root / "staging") as ctx:
        mp.setattr(tfjs, "unfuse_bias", lambda model_json: {})
        ctx.reference = p.reference
        art = tfjs.convert(ctx, TARGETS["tfjs"])
        artifact_check.check(ctx, art)
    return request.param, p, ctx.staging, art


def test_without_the_rewrite_tfjs_wasm_refuses_the_fused_bias(unrewritten) -> None:
    name, _, _, art = unrewritten
    rc = art.run_check
    assert art.ok and rc.status == "partly-runnable" and rc.backends["cpu"] == "ran", rc
    # BatchNormalization(axis=3) folds into a [1, 1, 1, C] constant that grappler fuses as the conv's bias.
    assert "FusedConv2D only supports rank-1 bias but got rank 4" in rc.backends["wasm"], (name, rc.backends)


def test_with_the_rewrite_wasm_runs_it_with_parity(unrewritten) -> None:
    name, p, staging, art = unrewritten
    path = Path(staging) / art.path / "model.json"
    model_json = json.loads(path.read_text())
    split = unfuse_bias(model_json)
    assert sum(split.values()) >= 1, split
    path.write_text(json.dumps(model_json))
    out = p.outputs[0].name
    got = run_tfjs(staging, p, art, p.golden)[out]  # the wasm backend, in Node
    assert float(np.abs(got - p.reference[out]).max()) <= FLOAT32_MAX_ABS
    assert np.ptp(p.reference[out][:, 0]) > 1e-3  # outputs that vary with the input
