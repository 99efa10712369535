"""`edgekit quickstart` end to end, as `make demo` runs it: offline train, convert to every format, validate.

Slow (about two minutes on 2 cores) but still run by CI: it is the README's main job. Epochs are cut to 3
here; the full recipe's accuracy targets are measured by benchmarks/recipe_quality.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    env = {**os.environ, "EDGEKIT_CACHE": str(tmp_path / "cache"), "COLUMNS": "160"}  # a fresh machine: no cache
    # A 3-epoch model is unconfident (top probabilities ~0.5): float16 measured max_abs 0.010, SQNR 48 dB, top-1
    # 0.99 here, inside the default float16 policy (2e-2 element bound, 40 dB SQNR) with no override.
    proc = subprocess.run([sys.executable, "-m", "edgekit", "quickstart", "--out", str(out), "--set",
                           "train.epochs=3"], capture_output=True, text=True,
                          timeout=600, env=env)
    # On failure show the validate table and what convert said about int8 (the tail alone cut them off in CI).
    shown = "\n".join(ln for ln in proc.stdout.splitlines() if "int8" in ln or " fail " in ln or "error" in ln)
    assert proc.returncode == 0, (shown, proc.stdout.partition("[3/3]")[2][-6000:], proc.stderr[-3000:])
    text = proc.stdout
    for step in ("[1/3] edgekit train digits", "[2/3] edgekit convert", "[3/3] edgekit validate", "quickstart done"):
        assert step in text, text[-3000:]
    assert (tmp_path / "cache" / "datasets" / "digits-png-64" / "9").is_dir()  # rendered on first use
    info = json.loads((out / "train.json").read_text())
    assert info["metrics"]["epochs_run"] == 3 and info["golden_samples"] == 269
    assert info["metrics"]["holdout_accuracy"] > 0.3  # 3 epochs from scratch: far above chance (0.1)
    manifest = json.loads((out / "artifacts" / "manifest.json").read_text())
    produced = {a["id"] for a in manifest["artifacts"] if a["status"] == "ok"}
    assert produced == {"saved_model", "tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "tfjs",
                        "onnx"}
    assert manifest["golden"]["samples"] == 269 and manifest["labels"] == [str(i) for i in range(10)]
    report = json.loads((out / "artifacts" / "report" / "report.json").read_text())
    assert report["summary"]["fail"] == 0 and report["summary"]["error"] == 0, report["summary"]
    rows = {(r["artifact"], r["runtime"]): r for r in report["results"]}
    f32 = rows[("tflite-float32", "litert")]["accuracy"]
    assert f32["source"] == pytest.approx(info["metrics"]["holdout_accuracy"], abs=1e-4)
    assert rows[("tflite-int8", "litert")]["status"] == "pass"
    assert (out / "artifacts" / "report" / "report.html").is_file()
    assert str(out / "artifacts" / "report" / "report.html") in text
