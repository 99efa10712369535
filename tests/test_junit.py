"""edgekit.ci_report: the --junit file (checked against the JUnit XSD and read back by junitparser) and the
GitHub step summary. Synthetic reports with every row status; the end-to-end --junit run is in
tests/test_baseline.py (a real regression)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from junitparser import Error, Failure, Skipped
from typer.testing import CliRunner

from edgekit import ci_report
from edgekit.cli import app
from edgekit.errors import InputError
from tests.helpers import assert_bad_input, fake_converted_folder, read_junit

STATUSES = ("pass", "fail", "error", "tampered", "unavailable", "regressed")


def _row(status: str, device: str, i: int) -> dict[str, Any]:
    reason = None if status == "pass" else f"{status} because\x00 of <this> & \x1b[31mthat"
    return {"artifact": f"art-{status}", "format": "tflite", "variant": "float32", "runtime": "litert",
            "device": device, "status": status, "reason": reason, "bytes": 1000 + i, "wall_s": 0.25 * (i + 1),
            "latency_ms": {"count": 10, "min": 1.0, "max": 3.0, "mean": 1.5, "std": 0.1, "p50": 1.25, "p90": 2.0,
                           "p99": 2.5} if status in ("pass", "regressed", "fail") else None,
            "stderr_tail": ["Segmentation fault"] if status == "error" else None}


def _report(ci: bool = False, devices: tuple[str, ...] = ("cpu", "rpi")) -> dict[str, Any]:
    devs = [{"name": d, "kind": "local", "environment": {}} for d in devices]
    rows = [_row(s, d, i) for d in devices for i, s in enumerate(STATUSES)]
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    return {"schema": 1, "tool": "edgekit validate", "edgekit_version": "t", "created": "2026-12-03T10:00:00+00:00",
            "folder": "/conv", "device": devs[0], "devices": devs, "settings": {"ci": ci}, "warnings": ["careful"],
            "summary": {**counts, "total": len(rows), "exit_code": 1, "wall_s": 1.0, "timed_s": 0.1},
            "results": rows}


@pytest.mark.parametrize("ci", [False, True])
def test_junit_has_one_case_per_row_and_validates_against_the_schema(tmp_path: Path, ci: bool) -> None:
    path = ci_report.write_junit(_report(ci), tmp_path / "out" / "junit.xml")
    xml = read_junit(path)  # XSD-valid, then parsed
    suites = list(xml)
    assert [s.name for s in suites] == ["edgekit validate /conv on cpu", "edgekit validate /conv on rpi"]
    for suite in suites:
        cases = list(suite)
        assert suite.tests == 6 and len(cases) == 6
        assert suite.failures == (4 if ci else 3) and suite.errors == 1 and suite.skipped == (0 if ci else 1)
        assert suite.time == pytest.approx(0.25 * (1 + 2 + 3 + 4 + 5 + 6))
        by = {c.classname: c for c in cases}
        assert by["art-pass"].is_passed and by["art-pass"].name.startswith("litert/")
        for status in ("fail", "tampered", "regressed"):
            (res,) = by[f"art-{status}"].result
            assert isinstance(res, Failure) and res.type == status and res.message.startswith(f"{status}: ")
        (err,) = by["art-error"].result
        assert isinstance(err, Error) and "Segmentation fault" in err.text
        (una,) = by["art-unavailable"].result
        assert isinstance(una, Failure if ci else Skipped)
        assert by["art-fail"].time == pytest.approx(0.5)
        assert "<this> & ?[31mthat" in by["art-fail"].result[0].message  # escaped; control bytes replaced
    assert xml.tests == 12 and xml.failures == 2 * (4 if ci else 3)


def test_the_schema_really_checks(tmp_path: Path) -> None:
    text = ci_report.to_junit(_report()).replace('time="0.250"', 'time="-1"', 1)
    (tmp_path / "bad.xml").write_text(text)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        read_junit(tmp_path / "bad.xml")


def test_step_summary_is_appended_with_regressions_first(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    rep = _report(devices=("cpu",))
    rep["results"][5]["baseline"] = {"verdict": "regressed", "reasons": ["p50 latency x3.000"], "size": None,
                                     "accuracy": None, "latency": {"compared": False, "note": None}}
    rep["results"][0]["baseline"] = {"verdict": "ok", "reasons": [], "size": None, "accuracy": None,
                                     "latency": {"compared": False, "note": None}}
    rep["baseline"] = {"path": "/base/report.json", "created": "yesterday", "latency": "latency compared",
                       "summary": {"regressed": 1, "improved": 0, "ok": 1, "new": 4, "missing": 0}, "missing": []}
    assert ci_report.append_step_summary(rep, {"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert ci_report.append_step_summary(copy.deepcopy(rep), {}) is None  # not on GitHub: nothing written
    text = target.read_text()
    assert text.startswith("earlier step\n## edgekit validate: `/conv`")
    assert "**1 pass, 1 regressed, 1 fail, 1 error, 1 tampered, 1 unavailable** (exit code 1)" in text
    compare = text.index("### Against the baseline")
    results = text.index("### Results")
    assert compare < results
    assert text.index("| art-regressed | litert | cpu | regressed |") < text.index("| art-pass | litert | cpu | ok |")
    table = text[results:].splitlines()[4:10]
    assert [ln.split(" | ")[2] for ln in table] == ["regressed", "fail", "error", "tampered", "unavailable", "pass"]


def test_validate_appends_to_github_step_summary_and_junit(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    summary = tmp_path / "step.md"
    res = CliRunner().invoke(app, ["validate", str(d), "--junit", str(tmp_path / "j" / "junit.xml")],
                             env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 0, res.output
    assert summary.read_text().startswith(f"## edgekit validate: `{d.resolve()}`")
    assert read_junit(tmp_path / "j" / "junit.xml").tests == 0


def test_junit_path_that_cannot_take_the_file_is_refused_before_running(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    (tmp_path / "adir").mkdir()
    assert_bad_input(CliRunner().invoke(app, ["validate", str(d), "--junit", str(tmp_path / "adir")]),
                     "--junit", "is a folder")
    assert not (d / "report").exists()
    (d / "out").symlink_to(tmp_path / "adir")
    with pytest.raises(InputError, match="resolves outside"):
        ci_report.check_junit_path(d / "out" / "j.xml", d, keep=[])
