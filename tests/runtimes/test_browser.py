"""TF.js and ONNX in a real headless Chromium (edgekit/web, edgekit/runtimes/browser.py).

Numbers, not just "it ran": the in-page outputs of the converted tiny trained CNN must match the source
model's reference outputs. One browser for the module; the page may reach only edgekit's own server.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit import manifest
from edgekit.protocol import BenchSettings, load_npz
from edgekit.validate import ValidateOptions, validate
from edgekit.web import browser
from tests.helpers import TFJS_SHARD, pad_tfjs_artifact, require, write_tfjs_shards

# Float32 end to end; wasm (XNNPACK) and WebGL shaders sum in another order than TensorFlow: ~1e-7 on
# this net. 1e-5 leaves a wide margin while a wrong weight, layout or output order shows up at ~1e-2.
ATOL = 1e-5
QUICK = {"runs": 5, "warmup": 1, "min_time": 0.0, "max_time": 2.0, "warmup_min_time": 0.0}


@pytest.fixture(scope="module")
def session():
    reason = browser.unavailable_reason("tfjs", "tfjs-wasm", "tfjs-webgl", "ort")
    require(reason is None, reason or "")
    with browser.BrowserSession() as s:
        yield s


@pytest.fixture(scope="module")
def cnn(converted_cnn) -> dict[str, Any]:
    folder = converted_cnn.out
    m = manifest.load(folder)
    return {"folder": folder, "manifest": m, "inputs": load_npz(folder / "golden_inputs.npz"),
            "reference": load_npz(folder / "reference_outputs.npz")}


def _run(session, cnn, engine: str, backend: str) -> dict[str, Any]:
    m = cnn["manifest"]
    art = next(a for a in m.artifacts if a.format == ("tfjs" if engine == "tfjs" else "onnx"))
    io = art.io_names or {}
    names_in = io.get("inputs") or [s.name for s in m.inputs]
    names_out = io.get("outputs") or [s.name for s in m.outputs]
    path = cnn["folder"] / art.path
    feeds = [(n, cnn["inputs"][s.name]) for n, s in zip(names_in, m.inputs, strict=True)]
    r = session.run_harness(engine, backend, path, feeds, names_out, threads=1, **QUICK)
    r["by_signature"] = {s.name: r["outputs"][n] for n, s in zip(names_out, m.outputs, strict=True)}
    return r


def _check_parity_and_timing(r: dict[str, Any], cnn: dict[str, Any], session) -> None:
    ref = cnn["reference"]["output_0"]
    got = r["by_signature"]["output_0"]
    assert got.shape == ref.shape == (48, 4)
    assert np.abs(got - ref).max() < ATOL
    assert (got.argmax(1) == ref.argmax(1)).all()
    assert np.ptp(ref[:, 0]) > 0.1  # the reference varies across inputs: parity on it means something
    # The benchmark_model rule in the page: at least `runs` timed calls, positive, ordered statistics.
    assert len(r["latency"]) >= QUICK["runs"] and min(r["latency"]) > 0
    assert r["warmup"]["count"] >= 1 and r["first_ms"] > 0 and r["load_ms"] > 0
    assert r["cross_origin_isolated"] is True  # threads and 5-us timers available to the page
    assert r["peak_rss_mb"] is None or r["peak_rss_mb"] > 10
    assert session.blocked == []  # nothing but 127.0.0.1 was asked for (no CDN)


def test_tfjs_wasm_outputs_match_reference_in_chromium(session, cnn) -> None:
    r = _run(session, cnn, "tfjs", "wasm")
    assert r["backend"] == "wasm" and r["threads"] == 1
    _check_parity_and_timing(r, cnn, session)


def test_tfjs_gpu_backend_outputs_match_reference(session, cnn) -> None:
    caps = session.probe()
    require(bool(caps.get("webgl") or caps.get("webgpu")), f"this Chromium offers neither WebGL nor WebGPU: {caps}")
    backend = "webgpu" if caps.get("webgpu") else "webgl"
    r = _run(session, cnn, "tfjs", backend)
    assert r["backend"] == backend
    _check_parity_and_timing(r, cnn, session)


def test_onnx_outputs_match_reference_with_onnxruntime_web(session, cnn) -> None:
    r = _run(session, cnn, "onnx", "wasm")
    assert r["versions"]["onnxruntime-web"] == browser.vendor.versions("ort")["onnxruntime-web"]
    _check_parity_and_timing(r, cnn, session)


def test_page_error_is_one_line_edgekit_error(session, tmp_path: Path) -> None:
    from edgekit.errors import EdgekitError

    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(EdgekitError) as e:
        session.run_harness("tfjs", "wasm", tmp_path, [("x", np.zeros((1, 2), np.float32))], ["y"], **QUICK)
    assert str(e.value).startswith("tfjs (wasm) in Chromium:") and "\n" not in str(e.value)


def test_validate_runs_onnx_web_rows(cnn, tmp_path: Path) -> None:
    require(browser.unavailable_reason("ort") is None, browser.unavailable_reason("ort") or "")
    rep = validate(cnn["folder"], ValidateOptions(artifacts=["onnx"], threads=1, ci=False, report_dir=tmp_path,
                                                  bench=BenchSettings(**QUICK)))
    rows = {r["runtime"]: r for r in rep["results"]}
    web = rows["onnx-web"]
    assert web["status"] == "pass", web["reason"]
    assert web["parity"]["outputs"]["output_0"]["max_abs"] < ATOL
    assert web["latency_ms"]["count"] >= 5 and web["threads"] == 1
    assert web["versions"]["chromium"] and web["versions"]["backend"] == "wasm"
    assert rep["summary"]["exit_code"] == 0


def test_no_browser_is_unavailable_and_fails_only_in_ci(cnn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EDGEKIT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    reason = browser.unavailable_reason("ort")
    assert reason is not None and "no Chromium found" in reason and "apt-get install chromium" in reason
    opts = {"artifacts": ["onnx"], "threads": 1, "report_dir": tmp_path, "bench": BenchSettings(**QUICK)}
    rep = validate(cnn["folder"], ValidateOptions(ci=False, **opts))
    row = next(r for r in rep["results"] if r["runtime"] == "onnx-web")
    assert row["status"] == "unavailable" and "EDGEKIT_CHROMIUM" in row["reason"]
    assert row["latency_ms"] is None
    assert rep["summary"]["exit_code"] == 0
    assert validate(cnn["folder"], ValidateOptions(ci=True, **opts))["summary"]["exit_code"] == 1


# ------------------------------------------------------------------------------------------------
# Issue 10, defect 20: a DenseNet121 TF.js artifact (28 MB: seven shards of the converter's default 4 MiB)
# hung both browser rows until the worker timeout, Chromium idle. tf.loadGraphModel requests every shard
# at once and reads no body until all have answered; Chromium opens six HTTP/1.1 connections per host, so
# the first six shards stalled half-read and the seventh was never requested. The same seven 4 MiB shards
# reproduce it without TensorFlow: a hand-written graph y = x + sum(w, axis=0).

SHARD = TFJS_SHARD


def _seven_shard_model(folder: Path) -> np.ndarray:
    """A graph model whose one weight w [rows, 4] fills seven 4 MiB shards; returns sum(w, axis=0)."""
    folder.mkdir()
    rows = (7 * SHARD - SHARD // 2) // 16
    w = np.zeros((rows, 4), "<f4")
    w[0], w[-1] = [1, 2, 3, 4], [10, 20, 30, 40]
    paths = write_tfjs_shards(folder, w.tobytes() + np.int32(0).tobytes())
    assert len(paths) == 7
    dims = lambda *s: {"dim": [{"size": str(v)} for v in s]}  # noqa: E731
    f32, i32 = {"type": "DT_FLOAT"}, {"type": "DT_INT32"}
    const = lambda t, shape: {"dtype": {"type": t}, "value": {"tensor": {"dtype": t, "tensorShape": shape}}}  # noqa: E731
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": dims(-1, 4)}, "dtype": f32}},
        {"name": "w", "op": "Const", "attr": const("DT_FLOAT", dims(rows, 4))},
        {"name": "axis", "op": "Const", "attr": const("DT_INT32", {})},
        {"name": "s", "op": "Sum", "input": ["w", "axis"], "attr": {"T": f32, "Tidx": i32, "keep_dims": {"b": False}}},
        {"name": "y", "op": "AddV2", "input": ["x", "s"], "attr": {"T": f32}},
    ]
    (folder / "model.json").write_text(json.dumps({
        "format": "graph-model", "generatedBy": "edgekit tests", "convertedBy": None,
        "modelTopology": {"node": nodes, "library": {}, "versions": {}},
        "weightsManifest": [{"paths": paths, "weights": [{"name": "w", "shape": [rows, 4], "dtype": "float32"},
                                                         {"name": "axis", "shape": [], "dtype": "int32"}]}]}))
    return w.sum(0)


def test_seven_4mib_weight_shards_load_in_the_page(session, tmp_path: Path) -> None:
    expected = _seven_shard_model(tmp_path / "tfjs")
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    seen = len(session.server.requests)
    t = time.monotonic()
    r = session.run_harness("tfjs", "wasm", tmp_path / "tfjs", [("x", x)], ["y"], threads=1, **QUICK)
    elapsed = time.monotonic() - t
    np.testing.assert_array_equal(r["outputs"]["y"], x + expected)
    assert expected.tolist() == [11.0, 22.0, 33.0, 44.0]
    shards = sorted(p for code, p in session.server.requests[seen:] if code == 200 and "-shard" in p)
    assert len(shards) == 7 and len(set(shards)) == 7  # every shard asked for once, and served
    assert elapsed < 60, elapsed  # seconds: before the fix this call never returned


def test_failing_model_behind_seven_shards_reports_the_page_error_within_seconds(converted_cnn, tmp_path: Path) -> None:
    """The row shape of the DenseNet report: Node reports the model's error; the browser rows must too."""
    require(browser.unavailable_reason("tfjs", "tfjs-wasm") is None, browser.unavailable_reason("tfjs") or "")
    folder = tmp_path / "out"
    shutil.copytree(converted_cnn.out, folder)

    def unknown_op(model: dict) -> None:  # the model's own failure: an op no TF.js backend knows
        model["modelTopology"]["node"][-1]["op"] = "EdgekitNoSuchOp"

    pad_tfjs_artifact(folder, edit=unknown_op)  # and 28 MB of extra weights in seven 4 MiB shards
    art = next(a for a in manifest.load(folder).artifacts if a.format == "tfjs")
    t = time.monotonic()
    rep = validate(folder, ValidateOptions(artifacts=[art.id], threads=1, ci=False, report_dir=tmp_path / "rep",
                                           bench=BenchSettings(**QUICK), timeout_s=120))
    elapsed = time.monotonic() - t
    rows = {r["runtime"]: r for r in rep["results"]}
    assert rows["tfjs-wasm"]["status"] == "error" and "EdgekitNoSuchOp" in rows["tfjs-wasm"]["reason"]
    for runtime in ("tfjs-browser-wasm", "tfjs-browser-gpu"):
        row = rows[runtime]
        if row["status"] == "unavailable":  # no WebGL/WebGPU in this Chromium: said so, not hung
            continue
        assert row["status"] == "error", row
        assert "in Chromium" in row["reason"] and "EdgekitNoSuchOp" in row["reason"], row["reason"]
    # Four rows in seconds each; a hung row would take the 120 s worker timeout.
    assert elapsed < 110, elapsed
