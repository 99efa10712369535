"""`edgekit validate` end to end on converted tiny trained models (tests/conftest.py fixtures).

Every test checks numbers in the report, not only that something ran. Latency settings are tiny:
timing is not what these tests are about (benchmarks/ measures it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit import manifest
from edgekit.cli import app, main
from edgekit.protocol import BenchSettings
from edgekit.validate import STATUSES, ValidateOptions, validate
from tests.helpers import assert_bad_input, fake_converted_folder

FAST = BenchSettings(runs=5, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)
FAST_ARGS = ["--runs", "5", "--warmup", "1", "--min-time", "0", "--max-time", "2", "--warmup-min-time", "0"]
# Two artifacts on two light runtimes: what the damage tests need to show the others still pass.
PAIR = ["tflite-float32", "onnx"]


def _opts(**kw: Any) -> ValidateOptions:
    kw.setdefault("bench", FAST)
    kw.setdefault("threads", 1)
    kw.setdefault("ci", False)
    return ValidateOptions(**kw)


def _row(report: dict[str, Any], artifact: str, runtime: str | None = None) -> dict[str, Any]:
    rows = [r for r in report["results"] if r["artifact"] == artifact and runtime in (None, r["runtime"])]
    assert rows, f"no row for {artifact}"
    return rows[0]


def _rewrite_artifact(folder: Path, artifact_id: str, **changes: Any) -> None:
    m = manifest.load(folder)
    art = m.artifact(artifact_id)
    for k, v in changes.items():
        setattr(art, k, v)
    manifest.save(m, folder)


def _refresh_hash(folder: Path, artifact_id: str) -> None:
    """Make the manifest agree with the file on disk (what an attacker or a bad copy script would do)."""
    m = manifest.load(folder)
    path = manifest.safe_join(folder, m.artifact(artifact_id).path)
    _rewrite_artifact(folder, artifact_id, sha256=manifest.sha256_path(path), bytes=manifest.size_path(path))


@pytest.fixture(scope="module")
def cnn_dir(converted_cnn) -> Path:
    return converted_cnn.out


@pytest.fixture(scope="module")
def full_report(cnn_dir: Path, tmp_path_factory) -> dict[str, Any]:
    """Every artifact on every runtime, once for the module."""
    return validate(cnn_dir, _opts(report_dir=tmp_path_factory.mktemp("report")))


@pytest.fixture(scope="module")
def other_cnn_tflite(tmp_path_factory) -> Path:
    """A float32 .tflite with the same signature, a different architecture and a different task."""
    import keras

    from edgekit.convert import ConvertOptions, convert
    from tests import models

    keras.utils.set_random_seed(99)
    inp = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255.0)(inp))
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax")(h))
    x, y = models.quadrant_images(128, 16, seed=5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, (y + 1) % 4, epochs=2, batch_size=32, verbose=0)  # a different task on purpose
    root = tmp_path_factory.mktemp("other")
    model.save(root / "other.keras")
    res = convert(root / "other.keras", root / "out", ConvertOptions(formats="tflite-float32", golden_samples=8))
    return res.out / res.manifest.artifact("tflite-float32").path


# ---------------------------------------------------------------------------------------------------------
# All pass, with numbers


def test_all_artifacts_pass_with_numbers(full_report: dict[str, Any]) -> None:
    rep = full_report
    statuses = {(r["artifact"], r["runtime"]): r["status"] for r in rep["results"]}
    # TF.js rows may be unavailable where Node is not installed, browser rows where Chromium is not;
    # nothing else may be anything but pass.
    for (art, runtime), status in statuses.items():
        expected = ("pass", "unavailable") if runtime.startswith("tfjs") or runtime == "onnx-web" else ("pass",)
        assert status in expected, (art, runtime, _row(rep, art, runtime)["reason"])
    assert {a for a, _ in statuses} >= {"saved_model", "tflite-float32", "tflite-float16", "tflite-dynamic",
                                         "tflite-int8", "onnx"}
    assert rep["summary"]["exit_code"] == 0 and rep["summary"]["fail"] == 0
    assert rep["warnings"] == []  # the fixture model is trained: its outputs differ across inputs

    f32 = _row(rep, "tflite-float32")["parity"]["outputs"]["output_0"]
    assert f32["max_abs"] < 1e-4 and f32["sqnr_db"] > 60 and f32["top1"] == 1.0 and f32["cosine"] > 0.9999
    sm = _row(rep, "saved_model")["parity"]["outputs"]["output_0"]
    assert sm["max_abs"] < 1e-5  # the same graph in TensorFlow
    onnx = _row(rep, "onnx")["parity"]["outputs"]["output_0"]
    assert onnx["max_abs"] < 1e-4

    # int8: quantization noise is real (not bit-identical) and still within the task-level policy.
    q = _row(rep, "tflite-int8")
    qo = q["parity"]["outputs"]["output_0"]
    assert 0 < qo["max_abs"] < 0.5 and qo["top1_decisive"] >= 0.9 and qo["sqnr_db"] >= 12
    assert q["parity"]["tolerance"] == {"min_sqnr_db": 12.0, "min_top1": 0.9, "top1_margin": 0.05}
    assert qo["decisive"] >= 24  # the top-1 check rests on most samples, not a handful

    # Accuracy against the golden labels, and its delta to the source model's.
    src = rep["golden"]["source_accuracy"]
    assert src is not None and src > 0.5  # trained: far above the 0.25 of chance on 4 classes
    for r in rep["results"]:
        if r["status"] == "pass":
            assert r["accuracy"]["delta"] == pytest.approx(r["accuracy"]["value"] - src)

    for r in rep["results"]:
        if r["status"] != "pass":
            continue
        lat = r["latency_ms"]
        assert lat["count"] >= 5 and 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert r["load_ms"] > 0 and r["first_ms"] > 0 and r["peak_rss_mb"] > 10 and r["threads"] == 1
        assert r["versions"], r["runtime"]
    # Only the SavedModel worker loads TensorFlow: its RSS dwarfs LiteRT's.
    assert _row(rep, "saved_model")["peak_rss_mb"] > 2 * _row(rep, "tflite-float32")["peak_rss_mb"]


def test_report_files_and_schema(full_report: dict[str, Any]) -> None:
    folder = Path(full_report["report_dir"])
    data = json.loads((folder / "report.json").read_text())
    top = {"schema": int, "tool": str, "edgekit_version": str, "created": str, "folder": str, "model": dict,
           "device": dict, "settings": dict, "golden": dict, "warnings": list, "convert_warnings": list,
           "not_produced": list, "summary": dict, "results": list, "report_dir": str}
    for key, typ in top.items():
        assert isinstance(data[key], typ), key
    assert data["schema"] == 1
    assert set(data["summary"]) >= {*STATUSES, "total", "exit_code", "wall_s", "timed_s"}
    assert data["summary"]["total"] == len(data["results"])
    assert 0 < data["summary"]["timed_s"] < data["summary"]["wall_s"]
    env = data["device"]["environment"]
    assert data["device"]["name"] == "cpu" and env["cores"] >= 1 and env["cpu"]
    row_types = {"artifact": str, "format": str, "variant": str, "runtime": str, "device": str, "status": str,
                 "path": str, "bytes": int, "sha256": str, "versions": dict, "notes": list}
    for r in data["results"]:
        for key, typ in row_types.items():
            assert isinstance(r[key], typ), (key, r["artifact"])
        assert r["status"] in STATUSES
        assert not any(k.startswith("_") for k in r)
        if r["status"] == "pass":
            assert set(r["latency_ms"]) == {"count", "min", "max", "mean", "std", "p50", "p90", "p99"}
            assert isinstance(r["parity"]["passed"], bool) and r["parity"]["failures"] == []
            for out in r["parity"]["outputs"].values():
                for metric in ("max_abs", "mean_abs", "p99_abs", "max_rel", "cosine", "sqnr_db", "top1"):
                    assert isinstance(out[metric], float), metric
                assert all({"metric", "value", "bound", "ok"} <= set(c) for c in out["checks"])
    md = (folder / "report.md").read_text()
    assert "| tflite-int8 | litert | pass |" in md
    html = (folder / "report.html").read_text()
    assert html.count("<svg") == 2 and "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


# ---------------------------------------------------------------------------------------------------------
# Damage: tampered, wrong model, crashing runtime, missing file


def test_corrupted_byte_is_tampered_and_never_run(cnn_dir: Path, fresh_copy, tmp_path: Path) -> None:
    d = fresh_copy(cnn_dir)
    path = d / manifest.load(d).artifact("tflite-float32").path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    rep = validate(d, _opts(artifacts=PAIR))
    bad, good = _row(rep, "tflite-float32"), _row(rep, "onnx")
    assert bad["status"] == "tampered" and "sha256" in bad["reason"]
    assert bad["latency_ms"] is None and bad["parity"] is None  # never run
    assert good["status"] == "pass"
    assert rep["summary"]["exit_code"] == 1
    assert (d / "report" / "report.json").is_file()  # default report location, still written


def test_wrong_model_with_matching_hash_fails_parity(cnn_dir: Path, fresh_copy, other_cnn_tflite: Path) -> None:
    d = fresh_copy(cnn_dir)
    target = d / manifest.load(d).artifact("tflite-float32").path
    target.write_bytes(other_cnn_tflite.read_bytes())
    _refresh_hash(d, "tflite-float32")
    rep = validate(d, _opts(artifacts=["tflite-float32"]))
    row = _row(rep, "tflite-float32")
    assert row["status"] == "fail"
    out = row["parity"]["outputs"]["output_0"]
    assert out["max_abs"] > 0.05  # a different model, not round-off
    assert "allclose" in row["reason"]
    assert rep["summary"]["exit_code"] == 1


def test_garbage_tflite_crash_is_isolated(cnn_dir: Path, fresh_copy) -> None:
    d = fresh_copy(cnn_dir)
    m = manifest.load(d)
    (d / m.artifact("tflite-float32").path).write_bytes(b"TFL3" + bytes(range(256)) * 8)
    _refresh_hash(d, "tflite-float32")
    onnx_path = d / m.artifact("onnx").path
    onnx_path.write_bytes(onnx_path.read_bytes()[:200])  # truncated
    _refresh_hash(d, "onnx")
    rep = validate(d, _opts(artifacts=[*PAIR, "tflite-int8"]))
    assert _row(rep, "tflite-float32")["status"] == "error"
    assert _row(rep, "tflite-float32")["reason"]
    assert _row(rep, "onnx")["status"] == "error"
    assert _row(rep, "tflite-int8")["status"] == "pass"  # the others still run
    # onnx-web (in Chromium) errors on the truncated file too, or is unavailable without a browser.
    assert sum(r["status"] == "error" for r in rep["results"] if r["runtime"] != "onnx-web") == 2
    assert rep["summary"]["exit_code"] == 1


def test_missing_artifact_file_is_an_error_row(cnn_dir: Path, fresh_copy) -> None:
    d = fresh_copy(cnn_dir)
    (d / manifest.load(d).artifact("onnx").path).unlink()
    rep = validate(d, _opts(artifacts=PAIR))
    assert _row(rep, "onnx")["status"] == "error" and "missing" in _row(rep, "onnx")["reason"]
    assert _row(rep, "tflite-float32")["status"] == "pass"


# ---------------------------------------------------------------------------------------------------------
# Quantized I/O, tolerance overrides, unavailable runtimes


def test_int8_io_is_quantized_and_dequantized(cnn_dir: Path, fresh_copy) -> None:
    m = manifest.load(cnn_dir)
    q = m.artifact("tflite-int8").quantization
    assert [p.dtype for p in q["inputs"]] == ["int8"] and [p.dtype for p in q["outputs"]] == ["int8"]
    # Without the recorded output params the raw int8 codes are compared with probabilities: must fail.
    d = fresh_copy(cnn_dir)
    _rewrite_artifact(d, "tflite-int8", quantization={"inputs": q["inputs"], "outputs": []})
    rep = validate(d, _opts(artifacts=["tflite-int8"]))
    row = _row(rep, "tflite-int8")
    assert row["status"] == "fail"
    assert row["parity"]["outputs"]["output_0"]["max_abs"] > 10  # int8 codes vs values in [0, 1]


def test_tolerance_override_turns_pass_into_fail(cnn_dir: Path, tmp_path: Path) -> None:
    rep = validate(cnn_dir, _opts(artifacts=["tflite-int8"], report_dir=tmp_path,
                                  tolerances=["tflite-int8.min_sqnr_db=200"]))
    row = _row(rep, "tflite-int8")
    assert row["status"] == "fail" and "sqnr_db" in row["reason"]
    assert row["parity"]["tolerance"]["min_sqnr_db"] == 200.0


def test_unavailable_runtime_counts_as_failure_only_in_ci(cnn_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import edgekit.validate as v

    monkeypatch.setattr(v, "unavailable_reason", lambda rt, *_: "ONNX Runtime is not installed: pip install "
                        "onnxruntime" if rt == "onnxruntime" else None)
    rep = validate(cnn_dir, _opts(artifacts=["onnx"], report_dir=tmp_path))
    row = _row(rep, "onnx")
    assert row["status"] == "unavailable" and "pip install onnxruntime" in row["reason"]
    assert rep["summary"]["exit_code"] == 0
    rep = validate(cnn_dir, _opts(artifacts=["onnx"], report_dir=tmp_path, ci=True))
    assert rep["summary"]["exit_code"] == 1


def test_parent_process_never_imports_tensorflow(cnn_dir: Path, tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from edgekit.validate import validate, ValidateOptions\n"
        "from edgekit.protocol import BenchSettings\n"
        f"r = validate({str(cnn_dir)!r}, ValidateOptions(artifacts=['tflite-float32', 'onnx'], threads=1, "
        f"report_dir={str(tmp_path)!r}, bench=BenchSettings(runs=2, warmup=0, min_time=0, warmup_min_time=0)))\n"
        "n = sum(x['status'] == 'pass' for x in r['results'] if x['runtime'] != 'onnx-web')\n"
        "print(json.dumps([n, 'tensorflow' in sys.modules, 'onnxruntime' in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1], check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [2, False, False]


# ---------------------------------------------------------------------------------------------------------
# The command line: exit codes and one-line errors


def _main_exit(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    return int(e.value.code), err


def test_cli_json_output_and_exit_zero(cnn_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["validate", str(cnn_dir), "--artifact", "tflite-float32", "--json",
                                   "--threads", "1", "--report", str(tmp_path), *FAST_ARGS])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["summary"]["pass"] == 1 and data["results"][0]["artifact"] == "tflite-float32"
    assert (tmp_path / "report.html").is_file()


def test_cli_failure_exit_one(cnn_dir: Path, tmp_path: Path, capsys) -> None:
    code, _ = _main_exit(["validate", str(cnn_dir), "-a", "tflite-int8", "--tol", "min_sqnr_db=200",
                          "--report", str(tmp_path), *FAST_ARGS], capsys)
    assert code == 1


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(["--threads", "0"], "threads"), (["--runs", "-1"], "runs"), (["--warmup", "-2"], "warmup"),
     (["--max-time", "0"], "max-time"), (["--device", "tpu"], "device"), (["--artifact", "nope"], "nope"),
     (["--tol", "atol"], "--tol")],
)
def test_cli_bad_options_exit_two(cnn_dir: Path, capsys, extra: list[str], needle: str) -> None:
    code, err = _main_exit(["validate", str(cnn_dir), *extra], capsys)
    assert code == 2
    assert err.startswith("edgekit: error:") and needle in err and err.count("\n") == 1


def test_cli_bad_folders_exit_two(cnn_dir: Path, fresh_copy, tmp_path: Path, capsys) -> None:
    code, err = _main_exit(["validate", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "does not exist" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = _main_exit(["validate", str(empty)], capsys)
    assert code == 2 and "manifest.json" in err

    d = fresh_copy(cnn_dir)
    raw = json.loads((d / "manifest.json").read_text())
    raw["schema"] = 99
    (d / "manifest.json").write_text(json.dumps(raw))
    code, err = _main_exit(["validate", str(d)], capsys)
    assert code == 2 and "schema 99" in err

    raw["schema"] = 1
    raw["artifacts"][0]["path"] = "../../etc/passwd"
    (d / "manifest.json").write_text(json.dumps(raw))
    code, err = _main_exit(["validate", str(d)], capsys)
    assert code == 2 and "leaves the output folder" in err


def test_golden_inputs_not_matching_signature_exit_two(cnn_dir: Path, fresh_copy, capsys) -> None:
    d = fresh_copy(cnn_dir)
    np.savez(d / "golden_inputs.npz", image=np.zeros((48, 8, 8, 3), np.float32))  # 8x8, signature is 16x16
    m = manifest.load(d)
    m.golden["sha256"]["golden_inputs.npz"] = manifest.sha256_file(d / "golden_inputs.npz")
    manifest.save(m, d)
    code, err = _main_exit(["validate", str(d), "-a", "tflite-float32"], capsys)
    assert code == 2 and "golden input 'image' has shape [48, 8, 8, 3]" in err

    # Modified without updating the manifest: refused as modified, not silently used.
    np.savez(d / "golden_inputs.npz", image=np.ones((48, 16, 16, 3), np.float32))
    code, err = _main_exit(["validate", str(d), "-a", "tflite-float32"], capsys)
    assert code == 2 and "sha256" in err


# ---------------------------------------------------------------------------------------------------------
# Hostile input (issue 10): fast, on hand-built folders (tests.helpers.fake_converted_folder), no TensorFlow


def _tampered_artifact() -> dict[str, Any]:
    return {"id": "tflite-float32", "format": "tflite", "variant": "float32", "path": "model_float32.tflite",
            "status": "ok", "sha256": "0" * 64, "bytes": 4}


def test_report_never_written_through_a_symlinked_file(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (d / "report").mkdir()
    (d / "report" / "report.md").symlink_to(victim)
    rep = validate(d, _opts())
    assert rep["summary"]["total"] == 0
    assert victim.read_text() == "precious"
    md = d / "report" / "report.md"
    assert not md.is_symlink() and md.read_text().startswith("# edgekit validation report")


def test_report_folder_symlinked_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (d / "report").symlink_to(elsewhere)
    res = CliRunner().invoke(app, ["validate", str(d)])
    assert_bad_input(res, "report", "outside")
    assert list(elsewhere.iterdir()) == []


def test_report_at_a_file_is_refused_before_anything_runs(tmp_path: Path, monkeypatch) -> None:
    import edgekit.validate as v

    d = fake_converted_folder(tmp_path / "conv", artifacts=[_tampered_artifact()])
    (d / "model_float32.tflite").write_bytes(b"TFL3")
    a_file = tmp_path / "report.txt"
    a_file.write_text("x")
    ran: list[str] = []
    monkeypatch.setattr(v, "load_golden", lambda *a, **k: ran.append("golden") or pytest.fail("ran"))
    res = CliRunner().invoke(app, ["validate", str(d), "--report", str(a_file)])
    assert_bad_input(res, "--report", str(a_file))
    assert ran == [] and a_file.read_text() == "x"


def test_golden_file_without_sha256_is_a_bad_manifest(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    raw = json.loads((d / "manifest.json").read_text())
    del raw["golden"]["sha256"]["reference_outputs.npz"]
    (d / "manifest.json").write_text(json.dumps(raw))
    np.savez(d / "reference_outputs.npz", y=np.full((6, 3), 1 / 3, np.float32))  # modified, no digest to tell
    res = CliRunner().invoke(app, ["validate", str(d)])
    assert_bad_input(res, "reference_outputs.npz", "sha256")


@pytest.mark.parametrize(("tol", "needle"), [
    ("tflite-int8x.min_top1=0.5", "tflite-int8x"), ("min_top1=1.5", "min_top1"), ("atol=-1", "atol"),
    ("min_cosine=2", "min_cosine"), ("float32.max_accuracy_drop=1.5", "max_accuracy_drop")])
def test_tolerance_scope_and_range_are_checked(tmp_path: Path, tol: str, needle: str) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    res = CliRunner().invoke(app, ["validate", str(d), "--tol", tol])
    assert_bad_input(res, needle)
    assert not (d / "report").exists()


def test_valid_tolerance_scopes_are_accepted(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    rep = validate(d, _opts(tolerances=["tflite-float32.atol=1e-3", "float32.rtol=none", "int8.min_top1=0.5",
                                        "min_sqnr_db=30"]))
    assert rep["settings"]["tolerance_overrides"][0] == "tflite-float32.atol=1e-3"


@pytest.mark.parametrize(("labels", "needle"), [
    (["a", "b", "c", "a", "b", "c"], "<U1"), ([0, 1, 2, 3, 0, 1], "3"), ([0, 1, -1, 2, 0, 1], "-1"),
    ([0.5, 1, 2, 0, 1, 2], "0.5")])
def test_bad_golden_labels_are_refused(tmp_path: Path, labels: list, needle: str) -> None:
    d = fake_converted_folder(tmp_path / "conv", labels=labels)
    res = CliRunner().invoke(app, ["validate", str(d)])
    assert_bad_input(res, "golden labels", needle)


def test_good_golden_labels_give_the_source_accuracy(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv", labels=[0, 1, 2, 0, 1, 2])
    ref = np.load(d / "reference_outputs.npz")["y"]
    rep = validate(d, _opts())
    assert rep["golden"]["source_accuracy"] == pytest.approx(float((ref.argmax(1) == [0, 1, 2, 0, 1, 2]).mean()))


@pytest.mark.parametrize("extra", [["--max-time", "nan"], ["--max-time", "inf"], ["--timeout", "nan"],
                                   ["--min-time", "nan"], ["--timeout", "inf"]])
def test_non_finite_times_are_refused(tmp_path: Path, extra: list[str]) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    res = CliRunner().invoke(app, ["validate", str(d), *extra])
    assert_bad_input(res, extra[0])


def test_report_inside_an_artifact_folder_is_refused(tmp_path: Path) -> None:
    art = {"id": "tfjs", "format": "tfjs", "variant": "float32", "path": "tfjs", "status": "ok", "sha256": "0" * 64}
    d = fake_converted_folder(tmp_path / "conv", artifacts=[art])
    (d / "tfjs").mkdir()
    res = CliRunner().invoke(app, ["validate", str(d), "--report", str(d / "tfjs" / "r")])
    assert_bad_input(res, "inside the artifact", "sha256")
    assert list((d / "tfjs").iterdir()) == []
