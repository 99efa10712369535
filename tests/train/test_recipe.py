"""Recipe files and `edgekit train` bad input that is refused before any training: fast, no TensorFlow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from edgekit.errors import InputError
from edgekit.train.recipe import SCHEMAS, builtin_names, load_recipe
from tests.helpers import assert_bad_input as _bad
from tests.helpers import help_in_fresh_python

runner = CliRunner()


def test_builtin_recipes_parse_and_cover_every_task():
    names = builtin_names()
    assert {"digits", "image-classifier", "digit-rows-lstm", "sunspots-forecaster"} <= set(names)
    tasks = {load_recipe(n).task for n in names}
    assert tasks == set(SCHEMAS)
    r = load_recipe("digits")
    assert (r.model["alpha"], r.model["input_size"], r.model["weights"]) == (0.35, 64, "none")
    assert r.augment["flip"] is False and r.data["source"] == "builtin:digits"
    # The general image recipe is the transfer-learning one: ImageNet base, phase two 100x lower LR.
    g = load_recipe("image-classifier")
    assert g.model["weights"] == "imagenet"
    assert g.train["learning_rate"] / g.train["fine_tune_learning_rate"] == pytest.approx(100)


def test_resolved_recipe_round_trips(tmp_path):
    r = load_recipe("digits", ["train.epochs=3", "model.weights=none", "recipe.seed=5"])
    assert r.train["epochs"] == 3 and r.seed == 5
    p = tmp_path / "resolved.toml"
    p.write_text(r.to_toml())
    again = load_recipe(p)
    assert again.sections == r.sections and again.seed == 5


def test_typo_in_key_names_valid_keys(tmp_path):
    p = tmp_path / "typo.toml"
    p.write_text('[recipe]\ntask = "image_classifier"\n[model]\nalpah = 0.5\n')
    with pytest.raises(InputError) as e:
        load_recipe(p)
    assert "model.alpah" in str(e.value) and "alpha" in str(e.value) and "input_size" in str(e.value)
    _bad(runner.invoke(app, ["train", str(p), "--out", str(tmp_path / "o")]), "unknown key(s) model.alpah",
         "valid keys in [model]")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("body, fragment", [
    ('[recipe]\ntask = "image_classifier"\n[trainig]\nepochs = 1\n', "unknown table(s) ['trainig']"),
    ('[recipe]\ntask = "regression"\n', "is not one of image_classifier"),
    ('[data]\nsource = "x"\n', "missing the [recipe] table"),
    ('[recipe]\ntask = "image_classifier"\n[train]\nepochs = "ten"\n', "train.epochs = 'ten' should be a int"),
    ('[recipe]\ntask = "image_classifier"\n[model]\nalpha = 0.4\n', "not a MobileNetV2 width"),
    ('[recipe]\ntask = "forecaster"\n[data]\nholdout = 0.7\n', "data.holdout = 0.7"),
    ('[recipe\ntask=', "not a readable TOML file"),
])
def test_bad_recipe_files(tmp_path, body, fragment):
    p = tmp_path / "r.toml"
    p.write_text(body)
    _bad(runner.invoke(app, ["train", str(p), "--out", str(tmp_path / "o")]), fragment)


def test_unknown_recipe_name_lists_builtins(tmp_path):
    _bad(runner.invoke(app, ["train", "mobilenet", "--out", str(tmp_path / "o")]), "unknown recipe 'mobilenet'",
         "digits", "sunspots-forecaster")


@pytest.mark.parametrize("item, fragment", [
    ("train.epoch=3", "unknown key train.epoch"),
    ("epochs=3", "expected SECTION.KEY=VALUE"),
    ("optimizer.lr=1", "unknown table 'optimizer'"),
    ("train.epochs=many", "should be a int"),
])
def test_bad_set_overrides(tmp_path, item, fragment):
    _bad(runner.invoke(app, ["train", "digits", "--set", item, "--out", str(tmp_path / "o")]), fragment)


def test_bad_strategy_and_existing_out(tmp_path):
    _bad(runner.invoke(app, ["train", "digits", "--strategy", "tpu", "--out", str(tmp_path / "o")]),
         "--strategy 'tpu'")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    _bad(runner.invoke(app, ["train", "digits", "--out", str(tmp_path / "full")]), "--force")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_multiworker_needs_tf_config(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    _bad(runner.invoke(app, ["train", "sunspots-forecaster", "--strategy", "multiworker", "--out",
                             str(tmp_path / "o")]), "TF_CONFIG")
    assert not [p for p in tmp_path.iterdir()]  # nothing half-written


def test_train_help_does_not_import_tensorflow():
    res = help_in_fresh_python(("train", "quickstart"), ("tensorflow", "keras", "sklearn", "statsmodels"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.rstrip().endswith("HEAVY="), res.stdout[-300:]
    assert "--strategy" in res.stdout and "--set" in res.stdout


def test_builtin_recipes_ship_as_package_data():
    # edgekit/data/recipes points at the top-level recipes/ folder, which is what the wheel carries.
    here = Path(__file__).resolve().parents[2]
    shipped = {p.name for p in (here / "edgekit" / "data" / "recipes").glob("*.toml")}
    assert shipped == {p.name for p in (here / "recipes").glob("*.toml")} and len(shipped) >= 4


def test_convert_discovers_a_training_folder(tmp_path):
    """`edgekit convert FOLDER` fills every unset option from train.json; explicit options win."""
    import json

    from edgekit.convert import ConvertOptions, discover_training_output

    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("model.keras", "calibration.npz", "golden.npz", "labels.txt", "preprocessing.json"):
        (folder / name).write_text("x")
    (folder / "train.json").write_text(json.dumps({
        "files": {"model": "model.keras", "calibration": "calibration.npz", "golden": "golden.npz",
                  "labels": "labels.txt", "preprocessing": "preprocessing.json"},
        "golden_samples": 269, "formats": "saved_model,tflite,onnx"}))
    opts = ConvertOptions()
    model, out = discover_training_output(folder, None, opts)
    assert model == folder / "model.keras" and out == folder / "artifacts"
    assert opts.calibration == str(folder / "calibration.npz") and opts.golden == str(folder / "golden.npz")
    assert opts.golden_samples == 269 and opts.formats == "saved_model,tflite,onnx"
    assert opts.labels == folder / "labels.txt" and opts.preprocessing == folder / "preprocessing.json"
    mine = ConvertOptions(golden="g.npz", golden_samples=10, formats="onnx", calibration="c.npy")
    model, out = discover_training_output(folder / "model.keras", tmp_path / "o", mine)
    assert (mine.golden, mine.golden_samples, mine.formats, mine.calibration) == ("g.npz", 10, "onnx", "c.npy")
    assert out == tmp_path / "o"
    # A plain model elsewhere is untouched, and --out stays required there.
    plain = ConvertOptions()
    assert discover_training_output(tmp_path / "m.keras", None, plain) == (tmp_path / "m.keras", None)
    assert plain.calibration is None
    _bad(runner.invoke(app, ["convert", str(tmp_path / "m.keras")]), "--out is required")


def test_convert_rejects_a_broken_training_record(tmp_path):
    (tmp_path / "model.keras").write_text("x")
    (tmp_path / "train.json").write_text("{not json")
    _bad(runner.invoke(app, ["convert", str(tmp_path)]), "train.json is not a readable `edgekit train` record")


def test_paths_on_the_command_line_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = load_recipe("image-classifier", ["data.source=photos", "model.weights=w/base.weights.h5"])
    assert r.data["source"] == str(tmp_path / "photos")
    assert r.model["weights"] == str(tmp_path / "w" / "base.weights.h5")
    # In the recipe file itself, relative paths are relative to the file.
    assert load_recipe("image-classifier").resolve_path("images/").parent.name == "recipes"
    assert load_recipe("digits", ["data.source=builtin:digits"]).data["source"] == "builtin:digits"


def test_force_never_deletes_the_training_data(tmp_path):
    (tmp_path / "run" / "images" / "a").mkdir(parents=True)
    (tmp_path / "run" / "notes.txt").write_text("keep")
    _bad(runner.invoke(app, ["train", "image-classifier", "--data", str(tmp_path / "run" / "images"), "--out",
                             str(tmp_path / "run"), "--force"]), "would delete it")
    assert (tmp_path / "run" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("item, fragment", [
    # Issue 10 #9 (recipe side): a negative or huge seed reached numpy/TF and failed there with a traceback.
    ("recipe.seed=-1", "--set: recipe.seed = -1 must be at least 0"),
    ("recipe.seed=99999999999999999999", "must be at most 2000000000"),
    ("train.learning_rate=nan", "train.learning_rate = nan must be a finite number"),
    ("train.learning_rate=inf", "must be a finite number"),
    ("train.epochs=99999999999999999999", "train.epochs = 99999999999999999999 must be at most 100000"),
    ("model.input_size=100000", "must be at most 2048"),
    ("train.epochs=true", "should be a int"),
])
def test_out_of_range_values_are_refused_before_training(tmp_path, item, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        load_recipe("digits", [item])
    _bad(runner.invoke(app, ["train", "digits", "--set", item, "--out", str(tmp_path / "o")]), fragment)
    assert not (tmp_path / "o").exists()


def test_recipe_file_seed_is_range_checked(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('[recipe]\ntask = "forecaster"\nseed = -5\n')
    _bad(runner.invoke(app, ["train", str(p), "--out", str(tmp_path / "o")]), f"recipe {p}: recipe.seed = -5")
