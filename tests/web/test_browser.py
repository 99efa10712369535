"""edgekit/web/browser.py: the page may reach only edgekit's server, and a page that stops making progress
is reported within seconds, naming what it was doing (issue 10, defect 20), never waited on forever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import EdgekitError
from edgekit.web import browser
from tests.helpers import require

QUICK = {"runs": 1, "warmup": 0, "min_time": 0.0, "max_time": 1.0, "warmup_min_time": 0.0}


@pytest.fixture(scope="module")
def session():
    reason = browser.unavailable_reason("tfjs", "tfjs-wasm")
    require(reason is None, reason or "")
    with browser.BrowserSession() as s:
        yield s


def _fake_harness(session, tmp_path: Path, script: str):
    """A page defining window.edgekit.start/poll with ``script``'s behaviour; returns (page, errors)."""
    (tmp_path / "page.html").write_text(f"<!doctype html><script>{script}</script>")
    session.server.mount("/fake/", tmp_path)
    page = session.new_page()
    page.goto(session.server.url("/fake/page.html"))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def test_requests_beyond_the_local_server_are_blocked_and_recorded(session, tmp_path: Path) -> None:
    page, _ = _fake_harness(session, tmp_path, "")
    try:
        before = list(session.blocked)
        got = page.evaluate("() => fetch('http://example.invalid/w.bin').then(() => 'fetched', () => 'refused')")
        assert got == "refused"
        assert session.blocked[len(before):] == ["http://example.invalid/w.bin"]
        assert page.evaluate("() => fetch('/fake/page.html').then(r => r.status)") == 200
    finally:
        page.close()


def test_a_weight_shard_that_never_arrives_is_a_stall_named_in_seconds(session, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "model.json").write_text('{"format": "graph-model", "modelTopology": {"node": []}, '
                                         '"weightsManifest": [{"paths": ["w.bin"], "weights": []}]}')
    (tmp_path / "w.bin").write_bytes(b"")
    release = threading.Event()
    resolve = session.server.resolve

    def never_answers_w_bin(path: str):
        if path.endswith("/w.bin"):
            release.wait(60)  # the request is accepted and never answered, like a stuck connection
        return resolve(path)

    monkeypatch.setattr(session.server, "resolve", never_answers_w_bin)
    t = time.monotonic()
    try:
        with pytest.raises(EdgekitError) as e:
            session.run_harness("tfjs", "wasm", tmp_path, [("x", np.zeros((1, 2), np.float32))], ["y"],
                                stall_s=3.0, **QUICK)
    finally:
        release.set()
    elapsed = time.monotonic() - t
    msg = str(e.value)
    assert msg.startswith("tfjs (wasm) in Chromium: the page stalled while loading the model")
    assert "requesting w.bin" in msg and "no progress for 3 s" in msg and "\n" not in msg
    assert elapsed < 20, elapsed  # the stall limit plus Chromium's start-up, not a worker timeout


def test_an_uncaught_page_error_is_reported_after_a_short_grace(session, tmp_path: Path) -> None:
    page, errors = _fake_harness(session, tmp_path, """
        window.edgekit = {
          start() { setTimeout(() => { throw new Error('shader compile failed: out of memory'); }, 10); },
          poll() { return null; },  // the job never settles: the error happened outside its promise
        };""")
    t = time.monotonic()
    try:
        with pytest.raises(EdgekitError, match=r"page error while starting: .*shader compile failed: out of memory"):
            session.await_job(page, {}, errors, stall_s=60.0)
    finally:
        page.close()
    assert time.monotonic() - t < 20  # seconds, not the 60 s stall limit given


def test_a_busy_page_is_not_a_stall(session, tmp_path: Path) -> None:
    # One synchronous step longer than the stall limit: the page is working (CPU), not stuck.
    page, errors = _fake_harness(session, tmp_path, """
        const state = { progress: 0, done: false, result: null, error: null };
        window.edgekit = {
          start() { setTimeout(() => {
            const t = performance.now(); let x = 0;
            while (performance.now() - t < 4000) x += Math.sqrt(x + 1);
            Object.assign(state, { done: true, progress: 1, result: { x } });
          }, 0); },
          poll(seen) { return state.progress === seen && !state.done ? null : state; },
        };""")
    try:
        result = session.await_job(page, {}, errors, stall_s=1.5)
    finally:
        page.close()
    assert result["x"] > 0 and errors == []


def test_a_job_that_fails_reports_the_page_reason(session, tmp_path: Path) -> None:
    page, errors = _fake_harness(session, tmp_path, """
        let state = { progress: 0, done: false };
        window.edgekit = {
          start() { setTimeout(() => { state = { progress: 1, done: true, error: 'Unknown op Foo' }; }, 50); },
          poll(seen) { return state.progress === seen && !state.done ? null : state; },
        };""")
    try:
        with pytest.raises(EdgekitError, match="^Unknown op Foo$"):
            session.await_job(page, {}, errors)
    finally:
        page.close()


def test_probe_does_not_wait_for_a_gpu_adapter_that_never_comes(session) -> None:
    page = session.harness_page()
    try:
        page.evaluate("""() => Object.defineProperty(navigator, 'gpu', {
            value: { requestAdapter: () => new Promise(() => {}) }, configurable: true })""")
        t = time.monotonic()
        info = page.evaluate("() => Promise.race([window.edgekit.probe(), "
                             "new Promise(r => setTimeout(() => r({webgpu: 'hung'}), 12000))])")
        elapsed = time.monotonic() - t
    finally:
        page.close()
    assert info["webgpu"] is None and 4.5 < elapsed < 15, (info, elapsed)


def test_a_long_stage_is_reported_as_it_goes(session, tmp_path: Path, monkeypatch) -> None:
    # What a timed-out row keeps in its stderr tail: the stage the page was busy in, not only "timed out".
    monkeypatch.setattr(browser, "SLOW_S", 1.0)
    page, errors = _fake_harness(session, tmp_path, """
        let state = { progress: 1, done: false, stage: 'golden samples', detail: '1 of 64' };
        window.edgekit = {
          start() { setTimeout(() => { state = { ...state, progress: 2, done: true, result: { ok: 1 } }; }, 3500); },
          poll(seen) { return state.progress === seen && !state.done ? null : state; },
        };""")
    said: list[str] = []
    try:
        assert session.await_job(page, {}, errors, stall_s=60.0, on_slow=said.append) == {"ok": 1}
    finally:
        page.close()
    assert 2 <= len(said) <= 4, said
    assert said[0].startswith("still golden samples (1 of 64) after ") and said[0].endswith(" s")


def test_capabilities_asked_inside_an_open_session_are_probed_not_cached_as_an_error(session, monkeypatch) -> None:
    """Found by the full suite: validate asks for the GPU rows' availability while the wasm rows' Chromium is
    open in the same thread; Playwright's sync API refuses a second start there ("using Playwright Sync API
    inside the asyncio loop"), and that error was cached for the whole process, so every later GPU row read
    "Chromium did not start". The probe runs in its own thread, and an error is never cached."""
    monkeypatch.delenv("EDGEKIT_CHROMIUM_FLAGS", raising=False)
    browser.forget_capabilities()
    caps = browser.capabilities()  # the module's session is open in this thread
    assert "error" not in caps, caps
    assert set(caps) >= {"webgl", "webgpu"}, caps
