"""edgekit.formats.saved_model: the canonical export, recorded as an artifact, computes what Keras computes."""

from __future__ import annotations

import numpy as np

from edgekit.formats import TARGETS, saved_model
from tests.artifact_runs import run_saved_model


def test_records_the_canonical_export_and_it_matches_keras(mlp_prepared) -> None:
    p = mlp_prepared
    ctx = p.context(p.root)  # the export sits at ROOT/saved_model, where the target's path points
    art = saved_model.convert(ctx, TARGETS["saved_model"])
    assert art.ok and (art.format, art.variant, art.path) == ("saved_model", "float32", "saved_model")
    assert art.converter["tool"] == "keras.Model.export" and art.converter["options"] == {
        "signature": "serving_default"}
    name = p.outputs[0].name
    got = run_saved_model(p.root, p, art, p.golden)[name]
    assert got.shape == p.reference[name].shape == (64, 3)
    assert float(np.abs(got - p.reference[name]).max()) <= 1e-5
