"""Headless Chromium driven by Playwright for Python, pointed at the system's chromium binary.

Playwright's own browser download is never used (it fails behind a package mirror, and apps do not run
in Playwright's patched builds anyway): :func:`find_chromium` finds Debian's ``chromium`` (or
``$EDGEKIT_CHROMIUM``) and Playwright launches it through ``executable_path``.

A :class:`BrowserSession` is one static server plus one browser. ``run_harness`` runs a model in the
validation page (``static/harness.js``); ``open`` loads any served page (a web bundle). Playwright is
imported only when a session starts.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, MissingDependency, first_line
from edgekit.web import vendor
from edgekit.web.server import StaticServer

STATIC = Path(__file__).resolve().parent / "static"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags measured to work headless on a machine without a GPU or network. A fresh profile per launch
# (Playwright's default) keeps runs independent of whatever a previous run cached.
FLAGS = (
    "--no-sandbox",  # root in containers; the page only sees files this process serves on 127.0.0.1
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
# A page that makes no progress for STALL_S seconds while its browser uses under IDLE_CPU of one core is
# stuck (a request that never completes, a promise that never settles); after an uncaught page error the
# job usually cannot finish, so ERROR_GRACE_S of silence is enough to report that error.
STALL_S = 20.0
ERROR_GRACE_S = 3.0
IDLE_CPU = 0.2
SLOW_S = 60.0  # a stage this long (busy, e.g. a big model on SwiftShader's CPU WebGL) is reported as it goes
INSTALL_HINT = ("install Debian's chromium (`make setup-system`, i.e. .ci/browser-deps.sh, or "
                "`apt-get install chromium`) or point EDGEKIT_CHROMIUM at a Chromium/Chrome binary")
PLAYWRIGHT_HINT = ("pip install -c constraints.txt 'edgekit[browser]' (Playwright for Python; its browser "
                   "download is not needed: edgekit drives the system chromium)")


def find_chromium() -> str | None:
    """The Chromium executable: ``$EDGEKIT_CHROMIUM``, else the first of :data:`CANDIDATES` on PATH."""
    override = os.environ.get("EDGEKIT_CHROMIUM")
    if override:
        return override if Path(override).is_file() and os.access(override, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def extra_flags() -> list[str]:
    """``$EDGEKIT_CHROMIUM_FLAGS`` split like a shell would (a list for the launcher, never a shell)."""
    return shlex.split(os.environ.get("EDGEKIT_CHROMIUM_FLAGS", ""))


def unavailable_reason(*groups: str) -> str | None:
    """None when a browser session can run pages that need the vendor ``groups``; else why not."""
    if importlib.util.find_spec("playwright") is None:
        return f"Playwright for Python is not installed: {PLAYWRIGHT_HINT}"
    if find_chromium() is None:
        where = f"EDGEKIT_CHROMIUM={os.environ['EDGEKIT_CHROMIUM']}" if os.environ.get("EDGEKIT_CHROMIUM") else "PATH"
        return f"no Chromium found on {where}: {INSTALL_HINT}"
    gone = vendor.missing(*groups)
    if gone:
        return (f"JavaScript packages missing from {vendor.NODE_MODULES} ({', '.join(gone[:3])}): "
                "run `edgekit setup` (`make setup-js` in a checkout)")
    return None


_CAPABILITIES: dict[str, dict[str, Any]] = {}  # probe answers by EDGEKIT_CHROMIUM_FLAGS; errors never kept


def capabilities() -> dict[str, Any]:
    """What this machine's Chromium offers (WebGL renderer, WebGPU adapter, cross-origin isolation).

    Launches the browser once per process and flag set (~1 s) and keeps the answer. ``{"error": ...}`` when
    the browser cannot start at all (not kept: the next call tries again). The probe runs in a thread of its
    own: Playwright's sync API refuses to start inside a thread whose own session is open (validate asks
    for the GPU rows' availability while the wasm rows' browser runs)."""
    reason = unavailable_reason()
    if reason:
        return {"error": reason}
    key = os.environ.get("EDGEKIT_CHROMIUM_FLAGS", "")
    if key in _CAPABILITIES:
        return dict(_CAPABILITIES[key])
    answer: dict[str, Any] = {}

    def probe() -> None:
        try:
            with BrowserSession() as s:
                answer.update(s.probe())
        except Exception as e:  # a browser that does not start is reported, not raised, by a probe
            answer["error"] = f"Chromium did not start: {str(e).strip().splitlines()[0][:300]}"

    worker = threading.Thread(target=probe, name="edgekit-browser-probe", daemon=True)
    worker.start()
    worker.join()
    if "error" not in answer:
        _CAPABILITIES[key] = dict(answer)
    return answer


def forget_capabilities() -> None:
    """Drop the kept probe answers (the next ``capabilities()`` launches the browser again)."""
    _CAPABILITIES.clear()


# The page's wire dtypes: what the harness reads and writes as raw little-endian bytes.
WIRE = {"float32": "<f4", "int32": "<i4", "int8": "i1", "uint8": "u1"}


def _b64_array(spec: dict[str, Any]) -> np.ndarray:
    dtype = WIRE.get(spec["dtype"], "<f4")
    return np.frombuffer(base64.b64decode(spec["b64"]), dtype=dtype).reshape(spec["shape"])


def wire_array(a: np.ndarray, keep_8bit: bool = False) -> tuple[str, np.ndarray]:
    """(wire dtype name, contiguous little-endian array): floats as float32, integers as int32, and with
    ``keep_8bit`` int8/uint8 as themselves (quantized models' own I/O, which LiteRT.js is fed as is)."""
    a = np.asarray(a)
    if keep_8bit and a.dtype in (np.int8, np.uint8):
        return str(a.dtype), np.ascontiguousarray(a)
    name = "float32" if a.dtype.kind == "f" else "int32"
    return name, np.ascontiguousarray(a, dtype=WIRE[name])


class BrowserSession:
    """One static server on 127.0.0.1 and one headless Chromium, closed together.

    ``isolated`` sends the cross-origin isolation headers (threads in wasm, precise timers)."""

    def __init__(self, isolated: bool = True, executable: str | None = None, flags: list[str] | None = None):
        self.server = StaticServer(isolated=isolated)
        self.executable = executable
        self.flags = list(FLAGS) + list(flags if flags is not None else extra_flags())
        self._pw: Any = None
        self.browser: Any = None
        self._n = 0
        self._cdp: Any = None
        self.blocked: list[str] = []  # requests to anything but this server (none must happen)

    @property
    def browser_version(self) -> str:
        return str(self.browser.version) if self.browser is not None else "unknown"

    def start(self) -> BrowserSession:
        reason = unavailable_reason()
        if reason:
            kind = "Playwright" if "Playwright" in reason else "Chromium"
            raise MissingDependency(kind, reason.split(": ", 1)[-1])
        from playwright.sync_api import sync_playwright

        self.server.start()
        self.server.mount("/harness/", STATIC)
        for name, path in vendor.files(*vendor.GROUPS).items():
            if path.is_file():
                self.server.mount(f"/vendor/{name}", path)
        try:
            self._pw = sync_playwright().start()
            self.browser = self._pw.chromium.launch(executable_path=self.executable or find_chromium(),
                                                    headless=True, args=self.flags)
        except Exception:
            self.close()
            raise
        return self

    def close(self) -> None:
        for closer in (lambda: self.browser and self.browser.close(), lambda: self._pw and self._pw.stop()):
            try:
                closer()
            except Exception:  # noqa: S110 - closing a browser that already died must not hide the real error
                pass
        self.browser = self._pw = self._cdp = None
        self.server.stop()

    def __enter__(self) -> BrowserSession:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def new_page(self) -> Any:
        """A page whose requests may reach this server only: anything else is aborted and recorded."""
        page = self.browser.new_page()
        origin = self.server.url("/")

        def gate(route: Any) -> None:
            url = route.request.url
            if url.startswith(origin) or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        page.route("**/*", gate)
        return page

    def harness_page(self) -> Any:
        page = self.new_page()
        page.goto(self.server.url("/harness/harness.html"))
        page.wait_for_function("() => window.edgekit && window.edgekit.ready === true")
        return page

    def probe(self) -> dict[str, Any]:
        """What this browser offers: WebGL renderer, WebGPU adapter (None when not offered), isolation."""
        page = self.harness_page()
        try:
            info = dict(page.evaluate("() => window.edgekit.probe()"))
        finally:
            page.close()
        info["browser_version"] = self.browser_version
        return info

    @contextmanager
    def mounted(self, path: Path) -> Iterator[str]:
        """Serve ``path`` (folder or file) under a fresh prefix for the ``with`` block; yields its URL path."""
        self._n += 1
        prefix = f"/m{self._n}/"
        path = Path(path)
        if path.is_dir():
            self.server.mount(prefix, path)
            url = prefix
        else:
            url = prefix + path.name
            self.server.mount(url, path)
        try:
            yield url
        finally:
            self.server.unmount(prefix if path.is_dir() else url)

    def run_harness(self, engine: str, backend: str, model: Path, feeds: list[tuple[str, np.ndarray]],
                    output_names: list[str], threads: int = 1, runs: int = 50, warmup: int = 5,
                    min_time: float = 1.0, max_time: float = 30.0, warmup_min_time: float = 0.25,
                    stall_s: float = STALL_S, on_slow: Callable[[str], None] | None = None,
                    requires_state_reset: bool = False) -> dict[str, Any]:
        """Run ``model`` in the harness page: every golden sample (batch 1) and the latency loops.

        ``engine`` is ``tfjs`` (``model`` = the folder holding model.json), ``onnx`` (the .onnx file) or
        ``litert`` (the .tflite file, int8/uint8 inputs fed as they are); ``feeds`` are (model input name,
        [N, ...] array) pairs. Returns the page's result
        with ``outputs`` decoded to arrays keyed by name, and ``peak_rss_mb`` of the renderer. A page that
        makes no progress for ``stall_s`` seconds while Chromium is idle raises, naming the stage."""
        with tempfile.TemporaryDirectory(prefix="edgekit-browser-") as tmp, self.mounted(model) as model_url, \
                self.mounted(Path(tmp)) as data_url:
            inputs = []
            for k, (name, a) in enumerate(feeds):
                dtype, wire = wire_array(a, keep_8bit=engine == "litert")
                wire.tofile(Path(tmp) / f"input_{k}.bin")
                inputs.append({"name": name, "dtype": dtype, "shape": list(wire.shape),
                               "url": f"{data_url}input_{k}.bin"})
            job = {"engine": engine, "backend": backend, "threads": threads, "vendor": "/vendor/",
                   "model_url": model_url + ("model.json" if engine == "tfjs" else ""),
                   "inputs": inputs, "output_names": list(output_names), "runs": runs, "warmup": warmup,
                   "min_time": min_time, "max_time": max_time, "warmup_min_time": warmup_min_time,
                   "requires_state_reset": requires_state_reset}
            page = self.harness_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            try:
                result = self.await_job(page, job, errors, stall_s, on_slow)
            except Exception as e:
                msg = first_line(e, limit=10_000).removeprefix("Error: ")[:400]
                raise EdgekitError(f"{engine} ({backend}) in Chromium: {msg}") from e
            finally:
                rss = self.renderer_peak_rss_mb()
                page.close()
        result["outputs"] = {o["name"]: _b64_array(o) for o in result["outputs"]}
        result["peak_rss_mb"] = rss
        result["browser_version"] = self.browser_version
        result["page_errors"] = errors
        return result

    def await_job(self, page: Any, job: dict[str, Any], errors: list[str], stall_s: float = STALL_S,
                  on_slow: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Start ``job`` in the harness page and poll it until it settles; its result, else raise.

        The page marks progress at every stage, shard chunk and timed run. No progress for ``stall_s``
        seconds while Chromium's processes use under :data:`IDLE_CPU` of a core is a stall (nothing in the
        page is running, nothing will); after an uncaught page error ``ERROR_GRACE_S`` is enough. A page
        busy in one long synchronous step is not a stall: that is bounded by the worker's timeout, and
        ``on_slow`` hears every ``SLOW_S`` seconds which stage it is in (so a timed-out row says where)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page.evaluate("job => window.edgekit.start(job)", job)
        state: dict[str, Any] = {"progress": -1, "stage": "starting", "detail": "", "page_errors": []}
        since, cpu_since = time.monotonic(), self.cpu_seconds()
        stage_since = said = since
        while True:
            try:
                handle = page.wait_for_function("seen => window.edgekit.poll(seen)", arg=state["progress"],
                                                polling=100, timeout=1000)
                stage, state = state.get("stage"), handle.json_value()
                since, cpu_since = time.monotonic(), self.cpu_seconds()
                stage_since = since if state.get("stage") != stage else stage_since
            except PlaywrightTimeout:
                pass
            if on_slow is not None and time.monotonic() - max(stage_since, said) >= SLOW_S:
                said = time.monotonic()
                on_slow(f"still {_where(state)} after {said - stage_since:.0f} s")
            if state.get("done"):
                if state.get("error"):
                    raise EdgekitError(str(state["error"]))
                return dict(state["result"])
            idle = time.monotonic() - since
            seen_errors = errors or state.get("page_errors") or []
            if idle < (ERROR_GRACE_S if seen_errors else stall_s):
                continue
            cpu_now = self.cpu_seconds()
            busy = None if cpu_now is None or cpu_since is None else (cpu_now - cpu_since) / idle
            if busy is not None and busy >= IDLE_CPU:
                since, cpu_since = time.monotonic(), cpu_now  # working (one long step): not a stall
                continue
            raise EdgekitError(_stall_message(state, idle, busy, seen_errors))

    def _process_info(self) -> list[dict[str, Any]] | None:
        """Chromium's own list of its processes (pid, type, cpuTime), or None when it cannot say."""
        try:
            if self._cdp is None:
                self._cdp = self.browser.new_browser_cdp_session()
            return list(self._cdp.send("SystemInfo.getProcessInfo")["processInfo"])
        except Exception:
            return None

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by all of this browser's processes (None when Chromium cannot say)."""
        procs = self._process_info()
        return None if procs is None else sum(float(p.get("cpuTime", 0.0)) for p in procs)

    def renderer_peak_rss_mb(self) -> float | None:
        """Peak resident memory (VmHWM) of the renderer process(es): where the page's model lived."""
        procs = self._process_info()
        if procs is None:
            return None
        peaks = []
        for p in procs:
            if p.get("type") != "renderer":
                continue
            try:
                status = Path(f"/proc/{int(p['id'])}/status").read_text(encoding="utf-8")
            except (OSError, ValueError):
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks) if peaks else None


def _where(state: dict[str, Any]) -> str:
    where = str(state.get("stage") or "starting")
    return where + (f" ({state['detail']})" if state.get("detail") else "")


def _stall_message(state: dict[str, Any], idle: float, busy: float | None, page_errors: list[str]) -> str:
    where = _where(state)
    cpu = "" if busy is None else f", Chromium at {100 * busy:.0f}% CPU"
    if page_errors:
        return f"page error while {where}: {page_errors[0]} (then no progress for {idle:.0f} s{cpu})"
    return f"the page stalled while {where}: no progress for {idle:.0f} s{cpu}"


def quick_settings() -> dict[str, Any]:
    """Tiny latency settings for smoke checks (tests, the capability probe)."""
    return {"runs": 3, "warmup": 1, "min_time": 0.0, "max_time": 2.0, "warmup_min_time": 0.0}


__all__ = ["BrowserSession", "capabilities", "find_chromium", "forget_capabilities", "unavailable_reason"]
