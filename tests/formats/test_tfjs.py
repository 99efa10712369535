"""edgekit.formats.tfjs: a TF.js graph model from the canonical SavedModel, run in Node against Keras' outputs."""

from __future__ import annotations

import json

import numpy as np

from edgekit.formats import TARGETS, tfjs
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
