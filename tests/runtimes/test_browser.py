"""TF.js and ONNX in a real headless Chromium (edgekit/web, edgekit/runtimes/browser.py).

Numbers, not just "it ran": the in-page outputs of the converted tiny trained CNN must match the source
model's reference outputs. One browser for the module; the page may reach only edgekit's own server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit import manifest
from edgekit.protocol import BenchSettings, load_npz
from edgekit.validate import ValidateOptions, validate
from edgekit.web import browser
from edgekit.web.server import StaticServer
from tests.helpers import require

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


def test_static_server_serves_only_its_mounts(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "pub" / "link").symlink_to(tmp_path / "secret.txt")
    with StaticServer() as s:
        s.mount("/pub/", tmp_path / "pub")
        with urllib.request.urlopen(s.url("/pub/a.wasm")) as resp:
            assert resp.read() == b"\0asm" and resp.headers["Content-Type"] == "application/wasm"
            assert resp.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        for bad in ("/pub/../secret.txt", "/pub/%2e%2e/secret.txt", "/pub/link", "/pub/", "/secret.txt"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(s.url(bad))
            assert e.value.code == 404, bad
        port = s.port
    with pytest.raises(OSError):  # stopped: nothing listens any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/pub/a.wasm", timeout=2)
