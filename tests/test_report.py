"""edgekit.report and edgekit.row: report rows, the three report files, and how they are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgekit import manifest, report
from edgekit.errors import InputError
from edgekit.row import Row

# report.json's row fields, in order, as schema 1 has always written them (docs/report.md).
ROW_FIELDS = ["artifact", "format", "variant", "runtime", "device", "status", "reason", "path", "bytes", "sha256",
              "parity", "accuracy", "latency_ms", "load_ms", "first_ms", "warmup", "infer_ms", "overhead_ms",
              "peak_rss_mb", "threads", "versions", "notes", "wall_s"]
ART = manifest.Artifact(id="tflite-int8", format="tflite", variant="int8", path="model_int8.tflite",
                        sha256="ab" * 32, bytes=600_000, notes=["from convert"])
LAT = {"count": 10, "min": 1.0, "max": 4.0, "mean": 2.0, "std": 0.5, "p50": 1.875, "p90": 3.0, "p99": 3.9}


def _row(**kw: Any) -> Row:
    row = Row.for_artifact(ART, "litert", "cpu", "pass")
    for k, v in kw.items():
        setattr(row, k, v)
    return row


def _report(rows: list[Row]) -> dict[str, Any]:
    dev = {"name": "cpu", "kind": "local", "environment": {"cpu": "x86", "usable_cores": 2}, "skipped": []}
    return {"schema": 1, "tool": "edgekit validate", "edgekit_version": "t", "created": "now", "folder": "/f",
            "model": {}, "device": dev, "devices": [dev],
            "settings": {"threads": 2, "runs": 10, "warmup": 1, "min_time": 0, "max_time": 1, "warmup_min_time": 0,
                         "ci": False, "tolerance_overrides": []},
            "golden": {"samples": 8, "labels": False, "source": None, "source_accuracy": None},
            "warnings": ["be careful"], "convert_warnings": [], "not_produced": [],
            "summary": {"pass": 1, "fail": 0, "error": 0, "tampered": 1, "unavailable": 0, "total": 2,
                        "exit_code": 1, "wall_s": 3.0, "timed_s": 0.02},
            "results": [r.to_dict() for r in rows], "report_dir": "/f/report"}


def test_row_dict_has_exactly_the_schema_1_fields() -> None:
    row = _row(samples_ms=[1.0, 2.0])
    d = row.to_dict()
    assert list(d) == ROW_FIELDS
    assert d["notes"] == ["from convert"] and d["bytes"] == 600_000 and d["status"] == "pass"
    row.stderr_tail = ["Segmentation fault"]
    assert list(row.to_dict()) == [*ROW_FIELDS, "stderr_tail"]
    assert "samples_ms" not in row.to_dict()


def test_timed_ms_adds_warmup_and_steady_state() -> None:
    row = _row(latency_ms=LAT, warmup={"count": 3, "mean_ms": 5.0})
    assert row.timed_ms() == pytest.approx(10 * 2.0 + 3 * 5.0)
    assert _row().timed_ms() == 0.0


def test_table_markdown_and_html_show_the_numbers() -> None:
    rows = [_row(latency_ms=LAT, accuracy={"value": 0.9, "source": 0.95, "delta": -0.05}),
            _row(status="tampered", reason="sha256 mismatch", runtime="litert-x")]
    rep = _report(rows)
    cells = report.table_rows(rep)
    assert cells[0] == ["tflite-int8", "litert", "pass", "0.60 MB", "1.88", "3.9", "-", "-", "-", "-0.050"]
    md = report.to_markdown(rep)
    assert "> **WARNING:** be careful" in md
    assert "- tflite-int8 (litert-x): tampered: sha256 mismatch" in md
    assert "| tflite-int8 | litert | - | - | - | 2 | 0.5 | 1 | 3 | 4 | 10 |" in md
    html = report.to_html(rep, samples=[[1.0, 2.0, 3.0], []])
    assert html.count("fill-opacity=\"0.35\"") == 3 and "sha256 mismatch" in html  # one dot per run
    assert report.to_html(rep).count("fill-opacity") == 0  # no samples: the plot still draws, without dots


def test_write_reports_replaces_links_instead_of_following_them(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("keep")
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "report.json").symlink_to(victim)
    paths = report.write_reports(_report([_row(latency_ms=LAT, samples_ms=[1.0])]), folder)
    assert victim.read_text() == "keep"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json", "report.md"]
    data = json.loads(paths["json"].read_text())
    assert data["results"][0]["latency_ms"]["p50"] == 1.875 and list(data["results"][0]) == ROW_FIELDS


def test_check_report_dir_refuses_what_cannot_take_the_reports(tmp_path: Path) -> None:
    root = tmp_path / "conv"
    root.mkdir()
    assert report.check_report_dir(root / "report", root) == root / "report"  # created later
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        report.check_report_dir(tmp_path / "file", root)
    (tmp_path / "r" / "report.md").mkdir(parents=True)
    with pytest.raises(InputError, match="report.md is a folder"):
        report.check_report_dir(tmp_path / "r", root)
    (root / "report").symlink_to(tmp_path / "r")
    with pytest.raises(InputError, match="resolves outside"):
        report.check_report_dir(root / "report", root)
    # Outside the validated folder, a path the user names is theirs to point anywhere.
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    assert report.check_report_dir(tmp_path / "link", root) == tmp_path / "link"


def test_report_json_schema_is_valid_and_checks_rows() -> None:
    import jsonschema

    from tests.helpers import report_schema_errors

    jsonschema.Draft202012Validator.check_schema(json.loads(report.SCHEMA_FILE.read_text()))
    rep = _report([_row(latency_ms=LAT, accuracy={"value": 0.9, "source": 0.95, "delta": -0.05},
                        latency_samples_ms=[1.0, 2.0]), _row(status="tampered", reason="sha256 mismatch")])
    rep["created"] = "2026-12-03T10:00:00+00:00"
    rep["summary"]["regressed"] = 0
    assert report_schema_errors(json.loads(json.dumps(report.public(rep)))) == []
    rep["results"][0]["status"] = "fine"
    rep["results"][1]["bytes"] = -1
    del rep["results"][1]["wall_s"]
    errors = report_schema_errors(rep)
    assert len(errors) == 3 and errors[0].startswith("results/0/status: 'fine' is not one of")
    assert any(e.startswith("results/1/bytes: -1 is less than the minimum of 0") for e in errors)
    assert any("'wall_s' is a required property" in e for e in errors)


def test_every_written_report_is_checked(tmp_path: Path) -> None:
    from tests.helpers import written_reports_errors

    good = _report([_row(latency_ms=LAT)])
    report.write_reports(good, tmp_path / "a")
    bad = dict(good, summary={**good["summary"], "exit_code": 7})
    report.write_reports(bad, tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "report.json").write_text("{not json")  # a test's broken file: not validate's
    assert list(written_reports_errors(tmp_path)) == [str(tmp_path / "b" / "report.json")]
    (tmp_path / "b" / "report.json").unlink()  # deliberately broken: not for the session-end check
