"""`edgekit quant-debug`: the hostile model's culprits come first by effect; bad input is one line, exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from tests.helpers import assert_bad_input, fake_converted_folder
from tests.quant_debug.hostile import CULPRITS

runner = CliRunner()


@pytest.fixture(scope="module")
def debugged(hostile_converted, tmp_path_factory):
    report = tmp_path_factory.mktemp("qd") / "report"
    res = runner.invoke(app, ["quant-debug", str(hostile_converted.out), "--report", str(report)])
    return res, report


def test_culprits_ranked_first_by_effect(debugged):
    res, report = debugged
    assert res.exit_code == 0, res.output
    doc = json.loads((report / "quant_debug.json").read_text())
    effects = doc["effects"]
    assert doc["metric"] == "accuracy" and doc["plain"]["drop_points"] > 30.0
    assert effects[0]["layer"] in CULPRITS and effects[0]["recovery_points"] > 50.0
    # keeping the outlier tensor float (its writer and its reader) is what recovers: alone, neither does
    top = effects[0]
    assert top["with_output"] - doc["reference"] > -0.02 and top["alone"] - doc["plain"]["value"] < 0.05
    assert set(top["consumers"]) | {top["layer"]} == set(CULPRITS)
    # the debugger's default statistic ranks the outlier tensor's layer in the better half: scale hides it
    by_rmse = sorted(doc["stats"], key=lambda s: -s["rmse_over_scale"])
    assert [s["layer"] for s in by_rmse].index("spike") >= len(by_rmse) // 2
    spike = next(s for s in doc["stats"] if s["layer"] == "spike")
    assert spike["channel_spread"] > 1000 and spike["median_channel_steps"] < 1.0
    assert "--int8-max-drop" in doc["next_step"] and "spike" in doc["next_step"]
    page = (report / "quant_debug.html").read_text()
    assert "<svg" in page and 'class="suspect"' in page and "<script" not in page
    assert "spike" in res.output and "Next: " in res.output


def test_no_saved_model(tmp_path):
    folder = fake_converted_folder(tmp_path / "f")
    res = runner.invoke(app, ["quant-debug", str(folder)])
    assert_bad_input(res, "no saved_model/")
    assert not (folder / "report").exists()


def test_no_calibration_recorded(tmp_path):
    folder = fake_converted_folder(tmp_path / "f")
    (folder / "saved_model").mkdir()
    (folder / "saved_model" / "saved_model.pb").write_bytes(b"x")
    res = runner.invoke(app, ["quant-debug", str(folder)])
    assert_bad_input(res, "no calibration data", "--calibration")
    res = runner.invoke(app, ["quant-debug", str(folder), "--calibration", str(tmp_path / "nope.npz")])
    assert_bad_input(res, "does not exist")
    assert not (folder / "report").exists()


def test_a_native_crash_in_the_worker_is_one_line(tmp_path, monkeypatch):
    from edgekit.isolate import CRASH_HOOK

    folder = fake_converted_folder(tmp_path / "f")
    (folder / "saved_model").mkdir()
    (folder / "saved_model" / "saved_model.pb").write_bytes(b"x")
    calib = tmp_path / "c.npz"
    calib.write_bytes(b"x")
    monkeypatch.setenv(CRASH_HOOK, "quant-debug")
    res = runner.invoke(app, ["quant-debug", str(folder), "--calibration", str(calib)])
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert res.exit_code == 1 and len(lines) == 1, res.output
    assert "crashed natively (SIGSEGV)" in lines[0] and "nothing was written" in lines[0]
    assert not (folder / "report").exists()


def test_report_inside_an_artifact_is_refused(tmp_path):
    folder = fake_converted_folder(tmp_path / "f")
    (folder / "saved_model").mkdir()
    (folder / "saved_model" / "saved_model.pb").write_bytes(b"x")
    calib = tmp_path / "c.npz"
    calib.write_bytes(b"x")
    res = runner.invoke(app, ["quant-debug", str(folder), "--calibration", str(calib), "--report",
                              str(folder / "saved_model" / "r")])
    assert_bad_input(res, "lies inside", "saved_model")
    assert not (folder / "saved_model" / "r").exists()
