"""ONNX for exact GELU (issue 10.21): tf2onnx writes an ``Erfc`` node, which no ONNX runtime knows."""

from __future__ import annotations

import json
import math

import numpy as np

from tests import models


def _erfc_graph():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])
    graph = helper.make_graph([helper.make_node("Erfc", ["x"], ["y"], name="erfc")], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_replace_erfc_makes_a_loadable_exact_graph():
    import onnxruntime as ort

    from edgekit.formats.onnx import replace_erfc

    model = _erfc_graph()
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        raise AssertionError("onnxruntime accepted Erfc: the premise of this test changed")
    except Exception as e:  # what users hit before: "No Op registered for Erfc"
        assert "Erfc" in str(e)
    assert replace_erfc(model) == 1 and replace_erfc(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Erf", "Sub"]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.array([-3.0, -0.5, 0.0, 0.7, 2.5], np.float32)
    got = sess.run(None, {"x": x})[0]
    want = np.array([math.erfc(float(v)) for v in x], np.float32)
    assert np.abs(got - want).max() < 1e-6


def _vit(path):
    """A tiny trained ViT: patch embedding, MultiHeadAttention, LayerNormalization, exact GELU."""
    import keras

    keras.utils.set_random_seed(models.SEED)
    inp = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Rescaling(1 / 255.0)(inp)
    h = keras.layers.Conv2D(16, 4, strides=4)(h)  # 4x4 patches -> 16 tokens of width 16
    h = keras.layers.Reshape((16, 16))(h)
    a = keras.layers.LayerNormalization()(h)
    h = h + keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(a, a)
    m = keras.layers.LayerNormalization()(h)
    m = keras.layers.Dense(32, activation=keras.activations.gelu)(m)  # approximate=False: exact, erf-based
    h = h + keras.layers.Dense(16)(m)
    h = keras.layers.Flatten()(keras.layers.LayerNormalization()(h))  # keeps where the bright quadrant is
    out = keras.layers.Dense(4, activation="softmax")(h)
    model = keras.Model(inp, out)
    x, y = models.quadrant_images(256, 16)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    model.save(path)
    return model


def test_vit_with_exact_gelu_converts_to_a_valid_onnx_with_parity(tmp_path):
    import onnx
    import onnxruntime as ort

    from edgekit.convert import ConvertOptions, convert

    model = _vit(tmp_path / "vit.keras")
    x, _ = models.quadrant_images(48, 16, seed=21)
    np.save(tmp_path / "golden.npy", x)
    res = convert(tmp_path / "vit.keras", tmp_path / "o", ConvertOptions(formats="onnx", golden=str(
        tmp_path / "golden.npy"), golden_samples=48))
    art = res.manifest.artifacts[-1]
    assert art.id == "onnx" and art.ok, art.reason
    assert "onnxruntime" in art.extra["load_check"] and any("Erfc" in n for n in art.notes)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "o" / "model.onnx")).graph.node}
    assert "Erfc" not in ops and "Erf" in ops
    sess = ort.InferenceSession(str(tmp_path / "o" / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {art.io_names["inputs"][0]: x})[0]
    want = np.asarray(model(x, training=False))
    assert want.std(axis=0).max() > 0.05  # trained: outputs differ across inputs, so parity means something
    assert np.abs(got - want).max() < 1e-4
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["artifacts"][-1]["status"] == "ok"
