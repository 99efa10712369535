"""Bad input to `edgekit convert`: one line, exit code 2, no traceback, nothing lost or half-written."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from tests.helpers import assert_bad_input as _assert_bad_input
from tests.helpers import help_in_fresh_python

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["convert", *args])


def _no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if ".edgekit-tmp-" in p.name or ".edgekit-old-" in p.name]


def test_missing_model(tmp_path):
    _assert_bad_input(_invoke(str(tmp_path / "nope.keras"), "--out", str(tmp_path / "o")), "does not exist")
    assert not (tmp_path / "o").exists()


def test_not_a_model(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    _assert_bad_input(_invoke(str(p), "--out", str(tmp_path / "o"), "--formats", "onnx"), "not a model")
    d = tmp_path / "folder"
    d.mkdir()
    _assert_bad_input(_invoke(str(d), "--out", str(tmp_path / "o"), "--formats", "onnx"), "not a SavedModel")


def test_corrupt_keras(tmp_path, mlp_path):
    bad = tmp_path / "cut.keras"
    bad.write_bytes(mlp_path.read_bytes()[:300])
    _assert_bad_input(_invoke(str(bad), "--out", str(tmp_path / "o"), "--formats", "onnx"), "not a valid .keras")
    # A zip that holds garbage in place of the weights: Keras itself fails to load it.
    import zipfile

    worse = tmp_path / "garbage.keras"
    with zipfile.ZipFile(mlp_path) as src, zipfile.ZipFile(worse, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data if item.filename == "config.json" else b"\0" * 64)
    _assert_bad_input(_invoke(str(worse), "--out", str(tmp_path / "o"), "--formats", "onnx"),
                      "cannot load", "Keras")
    assert not (tmp_path / "o").exists()
    _no_leftovers(tmp_path)


def test_int8_without_calibration_is_refused_before_any_work(tmp_path, mlp_path):
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o")), "--calibration")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.zeros((10, 5), np.float32), "sample shape [5]"),
        (np.array([["a"] * 8] * 4), "not a number type"),
        (np.zeros((0, 8), np.float32), "empty"),
        (np.full((10, 8), np.nan, np.float32), "NaN/Inf"),
    ],
    ids=["shape", "dtype", "empty", "nan"],
)
def test_bad_calibration(tmp_path, mlp_path, array, fragment):
    cal = tmp_path / "cal.npy"
    np.save(cal, array)
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "tflite-int8",
                              "--calibration", str(cal)), fragment)
    assert not (tmp_path / "o").exists()
    _no_leftovers(tmp_path)


def test_pickled_calibration_is_never_loaded(tmp_path, mlp_path):
    cal = tmp_path / "cal.npy"
    np.save(cal, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "tflite-int8",
                              "--calibration", str(cal)), "not a readable .npy")


def test_existing_output_needs_force_and_force_replaces(tmp_path, mlp_path, mlp_calibration):
    out = tmp_path / "o"
    out.mkdir()
    keep = out / "precious.txt"
    keep.write_text("mine")
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(out), "--formats", "onnx"), "--force")
    assert keep.read_text() == "mine"
    res = _invoke(str(mlp_path), "--out", str(out), "--formats", "onnx", "--golden", str(mlp_calibration),
                  "--force", "--quiet")
    assert res.exit_code == 0, res.output
    assert not keep.exists() and (out / "manifest.json").is_file() and (out / "model.onnx").is_file()
    _no_leftovers(tmp_path)


def test_force_refuses_to_delete_the_input(tmp_path, mlp_path):
    out = tmp_path / "o"
    out.mkdir()
    inside = out / "model.keras"
    inside.write_bytes(mlp_path.read_bytes())
    _assert_bad_input(_invoke(str(inside), "--out", str(out), "--formats", "onnx", "--force"), "contains the input")
    assert inside.read_bytes() == mlp_path.read_bytes()


def test_output_is_a_file(tmp_path, mlp_path):
    f = tmp_path / "o"
    f.write_text("x")
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(f), "--formats", "onnx"), "is a file")


@pytest.mark.parametrize("option, value, fragment", [
    ("--formats", "tflite,coreml", "unknown format 'coreml'"),
    ("--int8-io", "int4", "--int8-io"),
    ("--tfjs-quantize", "int2", "--tfjs-quantize"),
    ("--opset", "3", "--opset"),
    ("--input-shape", "1,x,3", "--input-shape"),
])
def test_bad_options(tmp_path, mlp_path, option, value, fragment):
    # --formats onnx first so only the option under test is wrong (a repeated --formats: the last wins).
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "onnx", option, value),
                      fragment)


def test_disk_full_leaves_nothing_behind(tmp_path, mlp_path, mlp_calibration, monkeypatch):
    """A write failing with ENOSPC mid-run: a clear error, no DIR, no temporary sibling; an old DIR survives."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("previous run")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    res = _invoke(str(mlp_path), "--out", str(out), "--formats", "onnx", "--golden", str(mlp_calibration), "--force")
    _assert_bad_input(res, "no space left")
    assert (out / "old.txt").read_text() == "previous run" and len(list(out.iterdir())) == 1
    _no_leftovers(tmp_path)


def test_interrupt_leaves_no_folder(tmp_path, mlp_path, mlp_calibration, monkeypatch):
    from edgekit.formats import onnx

    def interrupted(ctx, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx, "convert", interrupted)
    res = _invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "onnx", "--golden", str(mlp_calibration))
    assert res.exit_code == 130 and "interrupted" in res.output
    assert not (tmp_path / "o").exists()
    _no_leftovers(tmp_path)


def test_unwritable_output(tmp_path, mlp_path):
    # As root every directory is writable; a path under a regular file cannot be created by anyone.
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(blocker / "sub" / "o"), "--formats", "onnx"),
                      "cannot write", "is a file")


def test_help_does_not_import_tensorflow():
    res = help_in_fresh_python(("convert",), ("tensorflow", "keras", "tensorflowjs", "tf2onnx", "onnxruntime"))
    assert res.returncode == 0, res.stderr
    assert "HEAVY=\n" in res.stdout or res.stdout.strip().endswith("HEAVY="), res.stdout[-300:]
    assert "--calibration" in res.stdout


def test_debug_shows_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "edgekit", "convert", str(tmp_path / "missing.keras"), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "EDGEKIT_DEBUG": "1"})
    assert res.returncode != 0 and "Traceback" in res.stderr and "InputError" in res.stderr
    res = subprocess.run([sys.executable, "-m", "edgekit", "convert", str(tmp_path / "missing.keras"), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "EDGEKIT_DEBUG"})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0


def test_calibration_that_overflows_float32_is_refused(tmp_path, mlp_path):
    """Defect 10.5: float64 1e300 passed the NaN/Inf check, became inf in float32 and int8 segfaulted."""
    cal = tmp_path / "cal.npy"
    np.save(cal, np.full((40, 8), 1e300, np.float64))
    out = tmp_path / "o"
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(out), "--formats", "tflite-int8,onnx",
                              "--calibration", str(cal)), "outside the float32 range")
    assert not out.exists()
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("args, fragment", [
    (["--calibration", "random", "--calibration-samples", "99999999999999"], "--calibration-samples 99999999999999"),
    (["--golden-samples", "99999999999999"], "--golden-samples 99999999999999"),
    (["--input-shape", "1,100000,100000,3"], "GB of memory"),
    (["--seed", "-1"], "--seed"),
], ids=["calibration-samples", "golden-samples", "input-shape", "seed"])
def test_huge_sizes_and_negative_seed(tmp_path, mlp_path, args, fragment):
    """Defects 10.7 and 10.9: MemoryError/ValueError tracebacks; now one line, checked before allocating."""
    formats = "tflite-int8" if "random" in args else "onnx"
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", formats, *args), fragment)
    assert not (tmp_path / "o").exists()
    _no_leftovers(tmp_path)


def test_huge_input_shape_is_refused_before_tensorflow(tmp_path):
    from edgekit.errors import InputError
    from edgekit.source import parse_input_shapes

    with pytest.raises(InputError, match=r"--input-shape '1,100000,100000,3'.*GB"):
        parse_input_shapes(["1,100000,100000,3"])
    assert parse_input_shapes(["x:1,96,96,3"]) == {"x": [1, 96, 96, 3]}


def test_calibration_toml_with_a_string_seed(tmp_path, mlp_path):
    np.save(tmp_path / "rows.npy", np.zeros((80, 8), np.float32))
    (tmp_path / "cal.toml").write_text('[calibration]\nsource = "rows.npy"\nsamples = 10\nseed = "abc"\n')
    _assert_bad_input(_invoke(str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "tflite-int8",
                              "--calibration", str(tmp_path / "cal.toml"), "--golden-samples", "8"),
                      "seed: expected an integer", "'abc'")


@pytest.mark.parametrize("argv, fragment", [
    (["convert", "m.keras", "--opset", "abc"], "'--opset'"),
    (["bundle", "folder", "--out", "b"], "'--target'"),
    (["convert", "m.keras", "--no-such-option"], "--no-such-option"),
    (["frobnicate"], "frobnicate"),
], ids=["opset-abc", "bundle-no-target", "unknown-option", "unknown-command"])
def test_usage_errors_are_one_line(argv, fragment):
    """Defect 10.13: Typer printed a multi-line box for usage errors; now one line, exit 2, in and out of main()."""
    _assert_bad_input(runner.invoke(app, argv), fragment)
    res = subprocess.run([sys.executable, "-m", "edgekit", *argv], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stdout == "", res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: ") and fragment in lines[0], res.stderr
    assert "--help" in lines[0]


def test_help_and_no_arguments_still_show_help():
    res = runner.invoke(app, ["convert", "--help"])
    assert res.exit_code == 0 and "--calibration" in res.output
    res = runner.invoke(app, [])
    assert res.exit_code in (0, 2) and "convert" in res.output and "edgekit: error" not in res.output


def test_a_native_crash_costs_only_its_own_format(tmp_path, mlp_path, mlp_calibration, monkeypatch):
    """Defect 10.5: a converter that segfaults (int8 calibration) took every format down with exit 139."""
    import json

    from edgekit.isolate import CRASH_HOOK

    monkeypatch.setenv(CRASH_HOOK, "tflite-int8")
    args = [str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "tflite-int8,tflite-float32,onnx",
            "--calibration", str(mlp_calibration), "--quiet"]
    # Not contained, the crash kills the whole process: what happened before (exit 139 from a shell).
    res = subprocess.run([sys.executable, "-m", "edgekit", "convert", *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "EDGEKIT_CONTAIN": "0"})
    assert res.returncode == -11 and not (tmp_path / "o").exists()
    for p in tmp_path.iterdir():  # what the killed run left behind (nothing could clean it)
        if ".edgekit-tmp-" in p.name:
            import shutil

            shutil.rmtree(p)
    res = _invoke(*args)
    assert res.exit_code == 1, res.output
    arts = {a["id"]: a for a in json.loads((tmp_path / "o" / "manifest.json").read_text())["artifacts"]}
    assert arts["tflite-int8"]["status"] == "failed" and "SIGSEGV" in arts["tflite-int8"]["reason"]
    assert arts["tflite-float32"]["status"] == "ok" and arts["onnx"]["status"] == "ok"
    assert (tmp_path / "o" / "model_float32.tflite").stat().st_size == arts["tflite-float32"]["bytes"]
    _no_leftovers(tmp_path)
