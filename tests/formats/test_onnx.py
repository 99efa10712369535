"""edgekit.formats.onnx: tf2onnx from the canonical SavedModel, at the opset asked for, checked in ONNX Runtime."""

from __future__ import annotations

import numpy as np

from edgekit.formats import TARGETS, onnx
from tests.artifact_runs import run_onnx

FLOAT32_MAX_ABS = 1e-4  # same math, other kernel order: ~1e-6 expected


def test_model_matches_keras_at_the_chosen_opset(mlp_prepared, tmp_path) -> None:
    import onnx as onnx_lib

    p = mlp_prepared
    ctx = p.context(tmp_path / "staging", opset=13)
    art = onnx.convert(ctx, TARGETS["onnx"])
    assert art.ok and art.converter["tool"] == "tf2onnx" and art.converter["options"] == {"opset": 13}
    proto = onnx_lib.load(str(ctx.staging / art.path))
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {13}
    assert art.io_names == {"inputs": ["features"], "outputs": [p.outputs[0].name]}
    name = p.outputs[0].name
    got = run_onnx(ctx.staging, p, art, p.golden)[name]
    assert float(np.abs(got - p.reference[name]).max()) <= FLOAT32_MAX_ABS
