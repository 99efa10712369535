"""LiteRT.js (@litertjs/core) in headless Chromium: the .tflite artifacts themselves in the browser (issue 13).

Numbers, not just "it ran": every TFLite variant of the trained tiny CNN in the page against the source model's
reference and against ai-edge-litert in Python (the same XNNPACK kernels: the int8 outputs agree to the
quantization step); an unrolled LSTM and a GRU; WebGPU on the adapter this browser offers, never a CPU run
reported as GPU. One browser for the module; the page may reach only edgekit's own 127.0.0.1 server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit import manifest
from edgekit.errors import EdgekitError
from edgekit.protocol import BenchSettings, load_npz
from edgekit.quant import dequantize, quantize
from edgekit.runtimes import browser as browser_rt
from edgekit.validate import ValidateOptions, validate
from edgekit.web import browser
from tests import models
from tests.artifact_runs import run_tflite
from tests.formats.conftest import prepare
from tests.helpers import job_for, require

QUICK = {"runs": 5, "warmup": 1, "min_time": 0.0, "max_time": 2.0, "warmup_min_time": 0.0}
SWIFTSHADER_WEBGPU = ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"]


@pytest.fixture()
def session():
    """A browser for one test: Playwright's sync API allows one at a time per process, and two tests here
    start their own (other flags; validate's in-process capability probe)."""
    reason = browser.unavailable_reason("litert")
    require(reason is None, reason or "")
    with browser.BrowserSession() as s:
        yield s


def _folder(path: Path) -> dict[str, Any]:
    return {"folder": path, "manifest": manifest.load(path), "inputs": load_npz(path / "golden_inputs.npz"),
            "reference": load_npz(path / "reference_outputs.npz")}


def run_litert(session, conv: dict[str, Any], art_id: str, backend: str = "wasm") -> tuple[dict, dict[str, Any]]:
    """The artifact in the page, fed and read as validate does (int8 quantized from the manifest, then
    dequantized); returns ({signature output: float array}, the page's result)."""
    m = conv["manifest"]
    art = next(a for a in m.artifacts if a.id == art_id)
    qin = {q.name: q for q in art.quantization.get("inputs", [])}
    qout = {q.name: q for q in art.quantization.get("outputs", [])}
    feeds = [(n, quantize(conv["inputs"][s.name], qin[s.name]) if s.name in qin else conv["inputs"][s.name])
             for n, s in zip(art.io_names["inputs"], m.inputs, strict=True)]
    r = session.run_harness("litert", backend, conv["folder"] / art.path, feeds, art.io_names["outputs"],
                            threads=1, requires_state_reset=art.requires_state_reset, **QUICK)
    outs = {}
    for n, s in zip(art.io_names["outputs"], m.outputs, strict=True):
        got = r["outputs"][n]
        outs[s.name] = dequantize(got, qout[s.name]) if s.name in qout else got
    return outs, r


def test_every_tflite_variant_runs_in_litert_js_and_matches(session, converted_cnn) -> None:
    conv = _folder(converted_cnn.out)
    ref = conv["reference"]["output_0"]
    assert np.ptp(ref[:, 0]) > 0.1  # the reference varies across inputs: parity on it means something
    seen = len(session.server.requests)
    for art in (a for a in conv["manifest"].artifacts if a.format == "tflite"):
        got, r = run_litert(session, conv, art.id)
        got = got["output_0"]
        py = run_tflite(conv["folder"], conv["manifest"], art, conv["inputs"])["output_0"]
        assert got.shape == ref.shape == (48, 4), art.id
        if art.variant == "float32":
            assert np.abs(got - ref).max() < 1e-5  # measured 1.5e-7
        elif art.variant == "int8":
            assert r["outputs"][art.io_names["outputs"][0]].dtype == np.int8  # the model's own int8 came back
            step = art.quantization["outputs"][0].scale
            assert np.abs(got - py).max() <= step * 1.01  # the same kernels as LiteRT in Python
            assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.8  # measured 0.875 (42 of 48)
        else:  # float16 weights, dynamic-range: what LiteRT in Python computes
            assert np.abs(got - py).max() < 1e-4, art.id
            assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.9  # measured 0.958
        assert len(r["latency"]) >= QUICK["runs"] and min(r["latency"]) > 0 and r["first_ms"] > 0
        assert r["load_ms"] > 0 and r["backend_init_ms"] > 0 and r["backend"] == "wasm"
        assert r["versions"]["litert-wasm"] == "litert_wasm_internal.wasm"  # relaxed SIMD build, single thread
    served = {p for code, p in session.server.requests[seen:] if code == 200}
    assert {"/vendor/index.js", "/vendor/bundle.js", "/vendor/litert_wasm_internal.wasm"} <= served
    assert session.blocked == []  # nothing but 127.0.0.1 was asked for (no CDN)


def test_validate_on_browser_device_gives_litert_rows(converted_cnn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EDGEKIT_CHROMIUM_FLAGS", raising=False)
    require(browser.unavailable_reason("litert") is None, browser.unavailable_reason("litert") or "")
    rep = validate(converted_cnn.out, ValidateOptions(device="browser", artifacts=["tflite-int8"],
                                                      threads=1, ci=False, report_dir=tmp_path,
                                                      bench=BenchSettings(**QUICK)))
    rows = {(r["artifact"], r["runtime"]): r for r in rep["results"]}
    assert set(rows) == {("tflite-int8", rt) for rt in ("litert-web-wasm", "litert-web-gpu")}
    i8 = rows["tflite-int8", "litert-web-wasm"]
    assert i8["status"] == "pass", i8["reason"]
    assert i8["parity"]["outputs"]["output_0"]["max_abs"] < 0.05  # dequantized by the parent: measured 0.01
    assert i8["latency_ms"]["count"] >= 5 and i8["versions"]["@litertjs/core"] == "2.5.3"
    assert i8["versions"]["backend"] == "wasm" and i8["load_ms"] > 0 and i8["first_ms"] > 0
    gpu = rows["tflite-int8", "litert-web-gpu"]
    if browser.capabilities().get("webgpu") is None:  # headless, --disable-gpu, no GPU: said so, not run on CPU
        assert gpu["status"] == "unavailable" and "no WebGPU adapter" in gpu["reason"]
        assert gpu["latency_ms"] is None
    assert rep["summary"]["exit_code"] == 0


def test_litert_webgpu_on_the_adapter_the_browser_offers(converted_cnn) -> None:
    """SwiftShader's WebGPU adapter (a CPU emulation) when asked for by flags: the WebGPU code path is checked
    by its numbers, and the row names the adapter so its latency is never read as a GPU's."""
    with browser.BrowserSession(flags=SWIFTSHADER_WEBGPU) as s:
        caps = s.probe()
        require(bool(caps.get("webgpu")), f"this Chromium offers no WebGPU adapter even with {SWIFTSHADER_WEBGPU}")
        conv = _folder(converted_cnn.out)
        got, r = run_litert(s, conv, "tflite-float32", backend="webgpu")
        assert s.blocked == []
    assert r["backend"] == "webgpu" and r["versions"]["litert-wasm"] == "litert_wasm_jspi_internal.wasm"
    assert "swiftshader" in r["device"].lower()
    assert np.abs(got["output_0"] - conv["reference"]["output_0"]).max() < 1e-5  # measured 1.5e-7
    notes = browser_rt.BrowserRunner({"engine": "litert", "backend": "webgpu"})._notes(r)
    assert any("SwiftShader (CPU emulation" in n for n in notes)


def test_litert_gpu_without_an_adapter_is_unavailable_with_the_reason(monkeypatch) -> None:
    monkeypatch.setattr(browser, "unavailable_reason", lambda *groups: None)
    monkeypatch.setattr(browser, "capabilities", lambda: {"webgl": "SwiftShader", "webgpu": None})
    reason = browser_rt.unavailable_reason({"engine": "litert", "backend": "webgpu"})
    assert reason is not None and "no WebGPU adapter" in reason and "EDGEKIT_CHROMIUM_FLAGS" in reason
    assert browser_rt.unavailable_reason({"engine": "litert", "backend": "wasm"}) is None
    assert "unknown browser runtime" in browser_rt.unavailable_reason({"engine": "litert", "backend": "webgl"})


def test_fused_lstm_is_refused_with_the_reason_before_the_browser_starts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(browser, "BrowserSession", None)  # would raise TypeError if a browser were started
    monkeypatch.setattr(browser_rt, "unavailable_reason", lambda options: None)
    job = job_for(tmp_path, "litert-web-wasm", "tflite", tmp_path / "m.tflite",
                  {"sequence": np.zeros((1, 8, 8), np.float32)}, ["output_0"], requires_state_reset=True)
    with pytest.raises(EdgekitError, match="Variable tensors not yet supported.*--lstm unroll"):
        browser_rt.BrowserRunner({"engine": "litert", "backend": "wasm"}).run_job(job)


@pytest.fixture(scope="module")
def recurrent(tmp_path_factory, lstm_path, gru_path) -> dict[str, Any]:
    """The LSTM and GRU fixtures exported once (SavedModel, signature, golden inputs, Keras outputs)."""
    x, _ = models.sequences(200, seed=14)
    golden, _ = models.sequences(32, seed=22)
    return {name: prepare(path, tmp_path_factory.mktemp(f"{name}-web"), x[:120], golden)
            for name, path in (("lstm", lstm_path), ("gru", gru_path))}


@pytest.mark.parametrize("which, lstm", [("gru", "auto"), ("lstm", "unroll")])
def test_recurrent_tflite_runs_in_litert_js(which, lstm, recurrent, tmp_path: Path) -> None:
    """A GRU's default .tflite (unrolled: TFLite has no fused GRU kernel) and an LSTM's unrolled one run in
    LiteRT.js and match Keras; the fused LSTM (``--lstm auto``'s choice) is refused (test above)."""
    from edgekit.formats import TARGETS, tflite

    p = recurrent[which]
    ctx = p.context(tmp_path / "staging", lstm=lstm)
    art = tflite.convert(ctx, TARGETS["tflite-float32"])
    assert art.converter["options"]["lstm_lowering"] == "unrolled" and not art.requires_state_reset
    name_in, name_out = p.inputs[0].name, p.outputs[0].name
    with browser.BrowserSession() as s:
        r = s.run_harness("litert", "wasm", ctx.staging / art.path, [(art.io_names["inputs"][0], p.golden[name_in])],
                          art.io_names["outputs"], threads=1, **QUICK)
        assert s.blocked == []
    got, ref = r["outputs"][art.io_names["outputs"][0]], p.reference[name_out]
    assert got.shape == ref.shape and np.ptp(ref[:, 0]) > 0.1
    assert np.abs(got - ref).max() < 1e-5  # measured 1.8e-7 (GRU and LSTM)
