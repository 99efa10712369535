"""edgekit.formats.tfjs: a TF.js graph model from the canonical SavedModel, run in Node against Keras' outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.formats import TARGETS, tfjs
from edgekit.formats.tfjs_rewrite import SUFFIX, unfuse_bias
from tests.artifact_runs import run_tfjs

FLOAT32_MAX_ABS = 1e-4  # same math in the wasm backend: ~1e-6 expected
# uint8 weights: 256 levels over each tensor's range; a trained 3-class MLP keeps its decision.
UINT8_MIN_TOP1 = 0.9


def test_graph_model_matches_keras(mlp_prepared, tmp_path) -> None:
    p = mlp_prepared
    ctx = p.context(tmp_path / "staging")
    art = tfjs.convert(ctx, TARGETS["tfjs"])
    assert art.ok and art.variant == "float32" and art.converter["options"]["quantize"] == "none"
    model_json = json.loads((ctx.staging / art.path / "model.json").read_text())
    assert model_json["format"] == "graph-model" and len(art.io_names["inputs"]) == 1
    name = p.outputs[0].name
    got = run_tfjs(ctx.staging, p, art, p.golden)[name]
    assert float(np.abs(got - p.reference[name]).max()) <= FLOAT32_MAX_ABS


def test_uint8_weights_are_recorded_and_still_agree(mlp_prepared, tmp_path) -> None:
    p = mlp_prepared
    ctx = p.context(tmp_path / "staging", tfjs_quantize="uint8")
    art = tfjs.convert(ctx, TARGETS["tfjs"])
    assert art.ok and art.variant == "weights-uint8" and any("uint8" in n for n in art.notes)
    model_json = json.loads((ctx.staging / art.path / "model.json").read_text())
    dtypes = {w.get("quantization", {}).get("dtype") for g in model_json["weightsManifest"] for w in g["weights"]}
    assert "uint8" in dtypes
    name = p.outputs[0].name
    got = run_tfjs(ctx.staging, p, art, p.golden)[name]
    assert float(np.mean(got.argmax(1) == p.reference[name].argmax(1))) >= UINT8_MIN_TOP1


def test_lstm_runs_in_tfjs_through_its_unrolled_graph(lstm_prepared, tmp_path) -> None:
    """Issue 13: Keras 3 LSTM/GRU graphs converted but ran on no TF.js backend ("Cannot compute the outputs
    [Identity]"); the unrolled clone runs, and on wasm once the x@W + h@U fusions are split (the GRU, whose
    .tflite LiteRT.js runs, is tested in tests/runtimes/test_litert_web.py; its TF.js artifact passed too)."""
    p, which = lstm_prepared, "lstm"
    with p.context(tmp_path / "staging") as ctx:  # closed: its scratch (the unrolled SavedModel) goes with it
        art = tfjs.convert(ctx, TARGETS["tfjs"])
    assert art.ok and art.converter["options"]["rnn_lowering"] == "unrolled"
    assert any("unrolled over 8 time steps" in n for n in art.notes), art.notes
    name = p.outputs[0].name
    got = run_tfjs(ctx.staging, p, art, p.golden)[name]  # the wasm backend, in Node
    assert float(np.abs(got - p.reference[name]).max()) <= FLOAT32_MAX_ABS  # measured 1.8e-7
    assert np.ptp(p.reference[name][:, 0]) > 0.1  # a trained model: parity on varying outputs
    if which == "lstm":  # measured: 8 _FusedMatMul with a computed [1, 64] "bias", one per time step
        assert art.converter["options"]["unfused_bias"] == {"_FusedMatMul": 8}


@pytest.mark.parametrize("which", ["lstm", "gru"])
def test_recurrent_default_tfjs_passes_convert_check_and_chromium(which, request, tmp_path) -> None:
    """Issue 13's LSTM default: with no option the tfjs artifact of an LSTM and of a GRU is the unrolled graph,
    convert's run check finds it runnable on wasm and cpu, and TF.js wasm in headless Chromium (the web
    bundle's engine: LiteRT.js cannot run the fused LSTM .tflite) matches Keras."""
    from edgekit import artifact_check
    from edgekit.web import browser
    from tests.helpers import require

    reason = browser.unavailable_reason("tfjs", "tfjs-wasm")
    require(reason is None, reason or "")
    p = request.getfixturevalue(f"{which}_prepared")
    with p.context(tmp_path / "staging") as ctx:
        ctx.reference = p.reference
        art = tfjs.convert(ctx, TARGETS["tfjs"])
        artifact_check.check(ctx, art)
    assert art.ok and art.converter["options"]["rnn_lowering"] == "unrolled"
    assert art.run_check.status == "runnable" and art.run_check.max_abs_diff < FLOAT32_MAX_ABS, art.run_check
    name_in, name_out = p.inputs[0].name, p.outputs[0].name
    with browser.BrowserSession() as s:
        r = s.run_harness("tfjs", "wasm", ctx.staging / art.path, [(art.io_names["inputs"][0], p.golden[name_in])],
                          art.io_names["outputs"], threads=1, runs=1, warmup=0, min_time=0.0, max_time=1.0,
                          warmup_min_time=0.0)
        assert s.blocked == []
    got, ref = r["outputs"][art.io_names["outputs"][0]], p.reference[name_out]
    assert got.shape == ref.shape and np.ptp(ref[:, 0]) > 0.1
    assert np.abs(got - ref).max() < FLOAT32_MAX_ABS


def _node(name: str, op: str, inputs: list[str], **attr) -> dict:
    return {"name": name, "op": op, "input": inputs, "attr": attr}


def _const(name: str, *dims: int) -> dict:
    shape = {"dim": [{"size": str(d)} for d in dims]}
    return _node(name, "Const", [], value={"tensor": {"dtype": "DT_FLOAT", "tensorShape": shape}})


def _fused(name: str, op: str, inputs: list[str], *ops: str, **attr) -> dict:
    import base64

    return _node(name, op, inputs, fused_ops={"list": {"s": [base64.b64encode(o.encode()).decode() for o in ops]}},
                 num_args={"i": str(len(inputs) - 2)}, T={"type": "DT_FLOAT"}, **attr)


def test_unfuse_bias_splits_only_fusions_tfjs_wasm_cannot_run() -> None:
    model = {"modelTopology": {"node": [
        _const("w", 3, 3, 2, 4), _const("b1", 4), _const("b4", 1, 1, 1, 4),
        _fused("conv_ok", "FusedConv2D", ["x", "w", "b1"], "BiasAdd", "Relu", strides={"list": {"i": ["1"] * 4}}),
        _fused("conv4", "_FusedConv2D", ["x", "w", "b4"], "BiasAdd", "Relu6", padding={"s": "U0FNRQ=="}),
        _fused("mm", "_FusedMatMul", ["a", "k", "h_u"], "BiasAdd", "LeakyRelu", transpose_b={"b": True},
               leakyrelu_alpha={"f": 0.2}),
        _fused("bn", "FusedConv2D", ["x", "w", "s", "o"], "FusedBatchNorm"),  # not a bias fusion: left alone
        _node("y", "Identity", ["mm"]),
    ]}}
    assert unfuse_bias(model) == {"_FusedConv2D": 1, "_FusedMatMul": 1}
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    assert nodes["conv_ok"]["op"] == "FusedConv2D" and nodes["bn"]["op"] == "FusedConv2D"
    base = nodes["conv4" + SUFFIX + "/base"]
    assert base["op"] == "Conv2D" and base["input"] == ["x", "w"] and set(base["attr"]) == {"T", "padding"}
    assert nodes["conv4" + SUFFIX + "/add0"]["input"] == ["conv4" + SUFFIX + "/base", "b4"]
    assert nodes["conv4"]["op"] == "Relu6" and nodes["conv4"]["input"] == ["conv4" + SUFFIX + "/add0"]
    mm = nodes["mm" + SUFFIX + "/base"]
    assert mm["op"] == "MatMul" and mm["attr"]["transpose_b"] == {"b": True} and "fused_ops" not in mm["attr"]
    assert nodes["mm"]["op"] == "LeakyRelu" and nodes["mm"]["attr"]["alpha"] == {"f": 0.2}
    assert nodes["y"]["input"] == ["mm"]  # consumers still read the fused node's name
    assert unfuse_bias(model) == {}  # idempotent: nothing left to split
