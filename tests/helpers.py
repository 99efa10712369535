"""Helpers shared by tests: import them from here, never from conftest.py."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when an optional system component is missing; with CI=true that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {reason}")
    pytest.skip(reason)


def assert_bad_input(res, *fragments: str) -> None:
    """A CLI result for bad input: exit 2, one line starting 'edgekit: error: ', no traceback, the fragments."""
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), res.output
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in res.output, (f, res.output)


def manifest_dict() -> dict:
    """A manifest as `edgekit convert` writes it (every field kind present, int8 quantization included)."""
    sha = "ab" * 32
    return {
        "schema": 1,
        "edgekit_version": "0.4.0",
        "created": "2026-12-03T10:00:00+00:00",
        "source": {"path": "model.keras", "kind": "keras", "sha256": sha, "params": 1234, "keras": "3.15.1"},
        "signature": {"inputs": [{"name": "image", "shape": [None, 16, 16, 3], "dtype": "float32"}],
                      "outputs": [{"name": "output_0", "shape": [None, 4], "dtype": "float32"}]},
        "labels": ["a", "b", "c", "d"],
        "preprocessing": {"scale": 1.0, "resize": "stretch", "range": [0, 255], "note": {"x": [1, None, True]}},
        "golden": {"inputs": "golden_inputs.npz", "outputs": "reference_outputs.npz", "labels": None, "samples": 8,
                   "source": "random", "random": True, "sha256": {"golden_inputs.npz": sha}},
        "calibration": {"source": "random", "samples": 16, "sha256": sha, "random": True, "warnings": []},
        "warnings": ["w1"],
        "artifacts": [
            {"id": "tflite-int8", "format": "tflite", "variant": "int8", "path": "tflite/model_int8.tflite",
             "status": "ok", "reason": None, "sha256": sha, "bytes": 4096, "seconds": 1.25,
             "converter": {"name": "tf.lite", "options": {"opset": 17}}, "calibration": {"samples": 16},
             "quantization": {"inputs": [{"name": "image", "dtype": "int8", "scale": 0.5, "zero_point": -3}],
                              "outputs": []},
             "requires_flex": False, "requires_state_reset": False, "io_names": {"inputs": ["serving_image:0"],
                                                                               "outputs": ["Identity:0"]},
             "notes": ["n"], "extra": {"ops": ["CONV_2D"]}},
            {"id": "onnx", "format": "onnx", "variant": "float32", "path": "onnx/model.onnx", "status": "failed",
             "reason": "boom", "sha256": None, "bytes": None, "seconds": 0.5, "converter": {}, "calibration": None,
             "quantization": {"inputs": [], "outputs": []}, "requires_flex": False, "requires_state_reset": False,
             "io_names": None, "notes": [], "extra": {}},
        ],
    }
