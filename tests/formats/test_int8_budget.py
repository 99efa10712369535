"""`convert --int8-max-drop`: the search keeps the hostile model's culprit layers in float and meets the budget
at under half the float32 bytes; a model whose plain int8 meets it gets no search; validate checks the budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit import tflite_inspect
from edgekit.cli import app
from edgekit.console import print_convert_summary
from edgekit.formats import int8_budget
from edgekit.manifest import Artifact
from edgekit.protocol import BenchSettings
from edgekit.quant_debug.records import Budget, Candidate, SearchRecord
from edgekit.validate import ValidateOptions, validate
from tests.helpers import assert_bad_input
from tests.quant_debug.hostile import CULPRITS

runner = CliRunner()


def _convert(model, out, calibration, *extra, golden=None):
    args = ["convert", str(model), "--out", str(out), "--calibration", str(calibration), "--quiet", *extra]
    if golden:
        args += ["--golden", str(golden), "--golden-samples", "300"]
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def budgeted(hostile_converted):
    return hostile_converted.out


def _vopts() -> ValidateOptions:
    fast = BenchSettings(runs=5, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)
    return ValidateOptions(artifacts=["tflite-int8"], bench=fast, threads=1, ci=False)


def _artifacts(out):
    return {a["id"]: a for a in json.loads((out / "manifest.json").read_text())["artifacts"]}


def test_search_keeps_the_culprits_in_float_within_budget(hostile_converted, capsys):
    out = hostile_converted.out
    arts = _artifacts(out)
    int8, f32 = arts["tflite-int8"], arts["tflite-float32"]
    rec = int8["extra"]["int8_search"]
    chosen = rec["candidates"][rec["chosen"]]
    assert int8["status"] == "ok" and rec["met"] and rec["metric"] == "accuracy"
    assert rec["budget"] == {"max_drop_points": 2.0, "min_sqnr_db": None}
    assert rec["candidates"][0]["float_layers"] == [] and rec["candidates"][0]["drop_points"] > 30.0  # plain int8
    assert {c["layout"] for c in rec["candidates"] if not c["float_layers"]} == {"per-tensor", "per-channel"}
    assert chosen["drop_points"] <= 2.0 and set(CULPRITS) <= set(rec["float_layers"]) and len(rec["float_layers"]) <= 3
    assert rec["float_ops"] and all("#" in op for op in rec["float_ops"])
    assert int8["bytes"] == chosen["bytes"] and int8["bytes"] <= 0.5 * f32["bytes"]
    assert rec["ranking"][0]["layer"] in CULPRITS
    print_convert_summary(hostile_converted)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tflite-int8: int8 budget met")]
    assert len(line) == 1 and "float layers: spike, mix" in line[0] and "drop" in line[0], line


def test_validate_passes_it_and_fails_a_tighter_recorded_budget(budgeted, fresh_copy):
    out = budgeted
    result = validate(out, _vopts())
    rows = [r for r in result["results"] if r["artifact"] == "tflite-int8"]
    assert rows and all(r["status"] == "pass" for r in rows), rows
    copy = fresh_copy(out)
    doc = json.loads((copy / "manifest.json").read_text())
    art = next(a for a in doc["artifacts"] if a["id"] == "tflite-int8")
    drop = art["extra"]["int8_search"]["candidates"][art["extra"]["int8_search"]["chosen"]]["drop_points"]
    art["extra"]["int8_search"]["budget"]["max_drop_points"] = drop - 0.5
    (copy / "manifest.json").write_text(json.dumps(doc))
    result = validate(copy, _vopts())
    rows = [r for r in result["results"] if r["artifact"] == "tflite-int8"]
    assert rows and all(r["status"] == "fail" and "int8 budget" in r["reason"] for r in rows), rows


def test_plain_int8_within_budget_means_no_search(converted_mlp):
    """The search function itself (what other formats call), on the session's converted MLP."""
    import tensorflow as tf

    from edgekit.quant_debug.run import search_int8
    from edgekit.quant_debug.score import from_folder

    golden, first = from_folder(converted_mlp.out)
    x = np.load(converted_mlp.out / "golden_inputs.npz")["features"]
    conv = tf.lite.TFLiteConverter.from_saved_model(str(converted_mlp.out / "saved_model"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    blob, rec = search_int8(conv, "uint8", golden, Budget(max_drop_points=5.0), "per-channel", output=first)
    assert rec.met and len(rec.candidates) == 1 and rec.float_layers == [] and rec.ranking == []
    info = tflite_inspect.inspect(blob)
    assert [t.dtype for t in info.inputs + info.outputs] == ["uint8", "uint8"]  # the I/O type asked for
    assert rec.metric == "agreement" and rec.candidates[0].drop_points <= 5.0 and len(blob) == rec.candidates[0].bytes


def test_budget_not_met_fails_the_artifact_and_keeps_its_figures():
    rec = SearchRecord(metric="sqnr_db", budget=Budget(min_sqnr_db=150.0), reference=200.0, golden_samples=8,
                       candidates=[Candidate(layout="per-channel", bytes=900, value=31.5, meets=False)], chosen=0,
                       met=False, seconds=0.5, reason="no candidate within the search met the budget")
    rec.summary = rec.one_line()
    art = Artifact(id="tflite-int8", format="tflite", variant="int8", path="model_int8.tflite")
    int8_budget.record(art, rec)
    assert art.status == "failed" and art.reason.startswith("int8 budget NOT met: per-channel")
    assert "SQNR 31.5 dB" in art.reason and "900 bytes" in art.reason and "no candidate" in art.reason
    assert art.extra["int8_search"]["candidates"][0]["value"] == 31.5


@pytest.mark.parametrize("extra, fragments", [
    (["--int8-max-drop", "-1"], ("--int8-max-drop -1.0 is outside",)),
    (["--int8-max-drop", "x"], ("--int8-max-drop",)),
    (["--int8-max-drop", "2", "--calibration", "random"], ("needs a golden set",)),
])
def test_bad_budget(tmp_path, mlp_path, mlp_calibration, extra, fragments):
    args = ["convert", str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "tflite-int8"]
    if "--calibration" not in extra:
        args += ["--calibration", str(mlp_calibration)]
    res = runner.invoke(app, args + extra)
    assert_bad_input(res, *fragments)
    assert not (tmp_path / "o").exists()


def test_recipe_export_budget_reaches_convert(tmp_path):
    """digits sets [export] int8_max_drop = 1, int8_weights = auto; train.json carries it; convert applies it
    unless the command line sets a budget; -1 (TOML has no null) is no budget."""
    from edgekit.convert import ConvertOptions, discover_training_output
    from edgekit.train.recipe import load_recipe

    assert load_recipe("digits").export == {"formats": "all", "int8_max_drop": 1.0, "int8_weights": "auto"}
    assert load_recipe("image-classifier").export["int8_max_drop"] == -1.0
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.keras").write_text("x")
    (folder / "train.json").write_text(json.dumps({"files": {"model": "model.keras"}, "int8_max_drop": 1.0,
                                                   "int8_weights": "auto"}))
    opts = ConvertOptions()
    discover_training_output(folder, None, opts)
    assert (opts.int8_max_drop, opts.int8_weights) == (1.0, "auto")
    mine = ConvertOptions(int8_max_drop=3.0, int8_weights="per-tensor")
    discover_training_output(folder, None, mine)
    assert (mine.int8_max_drop, mine.int8_weights) == (3.0, "per-tensor")
    (folder / "train.json").write_text(json.dumps({"files": {"model": "model.keras"}, "int8_max_drop": -1.0}))
    res = runner.invoke(app, ["convert", str(folder)])
    assert_bad_input(res, "train.json", "int8_max_drop")
