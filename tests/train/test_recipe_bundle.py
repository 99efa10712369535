"""Defect #14: every built-in image recipe trains (a step), converts and bundles for the web.

The recipes used to write ``resize: "bilinear ... no crop"`` into preprocessing.json, which `edgekit bundle`
refused (exit 2): train, convert and bundle now share one preprocessing schema (edgekit/schemas.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit.bundle import png
from edgekit.cli import app
from edgekit.train.recipe import builtin_names, load_recipe
from tests import models

runner = CliRunner()
IMAGE_RECIPES = [n for n in builtin_names() if load_recipe(n).task == "image_classifier"]
TINY = ["model.input_size=32", "model.weights=none", "train.epochs=1", "train.batch_size=16",
        "train.validation_split=0.0", "data.holdout=0.25", "data.calibration_samples=8", "train.patience=0",
        "train.fine_tune_epochs=0"]


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imgs") / "images"
    x, y = models.quadrant_images(32, 32, seed=5)
    for i, (img, c) in enumerate(zip(x, y, strict=True)):
        (root / f"q{c}").mkdir(parents=True, exist_ok=True)
        png.write(root / f"q{c}" / f"{i}.png", np.clip(img, 0, 255).astype(np.uint8))
    return root


def test_image_recipes_are_the_two_built_in_ones() -> None:
    assert IMAGE_RECIPES == ["digits", "image-classifier"]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", IMAGE_RECIPES)
def test_image_recipe_trains_converts_and_bundles(tmp_path: Path, tiny_images: Path, recipe: str) -> None:
    out = tmp_path / "trained"
    args = ["train", recipe, "--data", str(tiny_images), "--out", str(out), "-q"]
    res = runner.invoke(app, args + sum((["--set", s] for s in TINY), []))
    assert res.exit_code == 0, res.output
    pre = json.loads((out / "preprocessing.json").read_text())
    assert (pre["resize"], pre["color"], pre["range"]) == ("stretch", "rgb", [0, 255])

    res = runner.invoke(app, ["convert", str(out), "--formats", "tfjs", "-q"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "artifacts" / "manifest.json").read_text())
    assert manifest["preprocessing"] == pre and manifest["labels"] == ["q0", "q1", "q2", "q3"]

    res = runner.invoke(app, ["bundle", str(out / "artifacts"), "--target", "web", "--out", str(tmp_path / "web")])
    assert res.exit_code == 0, res.output
    app_json = json.loads((tmp_path / "web" / "app.json").read_text())
    # Raw 0..255 pixels go in (the model rescales inside): identity preprocessing, whole-picture stretch.
    p = app_json["preprocessing"]
    assert (p["scale"], p["mean"], p["std"], p["resize"], p["color"]) == (1.0, [0.0] * 3, [1.0] * 3, "stretch", "rgb")
    assert "resize_method" in p["ignored"] and app_json["labels"] == ["q0", "q1", "q2", "q3"]
