"""TF.js and ONNX models in a real headless Chromium (the page edgekit/web/static/harness.js).

Runtimes (see ``edgekit.runtimes.RUNTIMES``):

- ``tfjs-browser-wasm``: TF.js with its wasm backend, what most web apps ship;
- ``tfjs-browser-gpu``: TF.js on the best GPU backend this browser offers, WebGPU first, else WebGL;
  the row says which ran and on what (a headless machine without a GPU renders with SwiftShader, a
  CPU emulation: numbers are still checked, the latency then says nothing about a GPU);
- ``onnx-web``: the ONNX artifact through onnxruntime-web's wasm backend.

Each job is one worker process: it starts a static server on 127.0.0.1 (a free port) serving the
artifact, the golden inputs and the vendored libraries from ``edgekit/js/node_modules``, launches the
system Chromium, runs the page, and stops both. Latency is measured inside the page with
``performance.now()`` by the same rule as every other runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.protocol import Job, JobResult
from edgekit.runtimes.base import Runner, paired_io

ENGINES = ("tfjs", "onnx")
TFJS_BACKENDS = ("wasm", "webgl", "webgpu", "gpu")  # gpu: webgpu when offered, else webgl


def _vendor_groups(engine: str, backend: str) -> tuple[str, ...]:
    if engine == "onnx":
        return ("ort",)
    if backend == "wasm":
        return ("tfjs", "tfjs-wasm")
    return ("tfjs", "tfjs-webgl", "tfjs-webgpu")


class BrowserRunner(Runner):
    """``options``: ``engine`` (tfjs or onnx) and ``backend`` (tfjs: wasm, webgl, webgpu or gpu)."""

    runtime = "browser"
    install_hint: ClassVar[str] = "install chromium (make setup-system) and Playwright (pip install playwright)"

    @property
    def engine(self) -> str:
        return str(self.options.get("engine", "tfjs"))

    @property
    def backend(self) -> str:
        return str(self.options.get("backend", "wasm"))

    def unavailable(self) -> str | None:
        """Why this runner cannot run here (None when it can); GPU backends ask the browser itself."""
        from edgekit.web import browser

        if self.engine not in ENGINES or (self.engine == "tfjs" and self.backend not in TFJS_BACKENDS):
            return f"unknown browser runtime options {self.options}"
        reason = browser.unavailable_reason(*_vendor_groups(self.engine, self.backend))
        if reason or self.engine == "onnx" or self.backend == "wasm":
            return reason
        caps = browser.capabilities()
        if caps.get("error"):
            return caps["error"]
        if self.pick_backend(caps) is None:
            want = "WebGPU or WebGL" if self.backend == "gpu" else self.backend
            return (f"this Chromium offers no {want} (webgl: {caps.get('webgl')}, webgpu adapter: "
                    f"{caps.get('webgpu')}); EDGEKIT_CHROMIUM_FLAGS can pass flags that enable it")
        return None

    def pick_backend(self, caps: dict[str, Any]) -> str | None:
        """The TF.js backend to run: the requested one, or for ``gpu`` WebGPU first, then WebGL."""
        if self.backend in ("wasm",):
            return "wasm"
        offered = [b for b in ("webgpu", "webgl") if caps.get(b)]
        if self.backend == "gpu":
            return offered[0] if offered else None
        return self.backend if self.backend in offered else None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None  # per-instance: see the registry's subclasses below

    # Runner's in-process methods: the model runs in the browser, so run_job is the entry point.
    def open(self, job: Job) -> None:
        raise EdgekitError("browser runners run in Chromium: call run_job()")

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise EdgekitError("browser runners run in Chromium: call run_job()")

    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        raise EdgekitError("browser runners run in Chromium: call run_job()")

    def invoke(self) -> None:
        raise EdgekitError("browser runners run in Chromium: call run_job()")

    def run_job(self, job: Job) -> JobResult:
        """Run the job's artifact in Chromium; write its outputs file and return the measurements."""
        from edgekit.bench import summarize
        from edgekit.web import browser, vendor

        reason = self.unavailable()
        if reason:
            raise EdgekitError(reason)
        pio = paired_io(job)
        sig_in, sig_out, in_names, out_names, feeds = (pio.signature_inputs, pio.signature_outputs, pio.inputs,
                                                       pio.outputs, pio.feeds)
        model = Path(job.artifact_path)
        if self.engine == "tfjs" and model.is_file():
            model = model.parent
        s = job.bench
        with browser.BrowserSession() as session:
            # The GPU backend is chosen by asking this very browser, not the parent's earlier probe.
            backend = "wasm" if self.engine == "onnx" or self.backend == "wasm" else self.pick_backend(session.probe())
            if backend is None:
                raise EdgekitError(f"this Chromium offers no {self.backend} backend")
            r = session.run_harness(self.engine, backend, model,
                                    [(n, feeds[s_]) for n, s_ in zip(in_names, sig_in, strict=True)],
                                    out_names, threads=job.threads, runs=s.runs, warmup=s.warmup,
                                    min_time=s.min_time, max_time=s.max_time, warmup_min_time=s.warmup_min_time)
        np.savez(job.outputs_path, **{sig: r["outputs"][name] for name, sig in zip(out_names, sig_out, strict=True)})
        notes = list(r.get("notes") or [])
        if self.engine == "tfjs" and self.backend != "wasm":
            notes.append(f"ran on {r['backend']}" + (f" ({r['device']})" if r.get("device") else ""))
            if "swiftshader" in str(r.get("device") or "").lower():
                notes.append("WebGL is rendered by SwiftShader (CPU emulation, no GPU here): outputs are checked, "
                             "the latency is not a GPU's")
        if not r.get("cross_origin_isolated"):
            notes.append("page not cross-origin isolated: single-threaded wasm, 100 us timer resolution")
        notes.append(f"load_ms includes {r['backend_init_ms']:.1f} ms of library/backend start-up in the page")
        versions = {"chromium": str(r["browser_version"]), **{k: str(v) for k, v in r["versions"].items()},
                    **vendor.versions(*_vendor_groups(self.engine, self.backend)), "backend": str(r["backend"])}
        times = [float(t) for t in r["latency"]]
        return JobResult(
            runtime=job.runtime, versions=versions, threads=int(r["threads"]),
            load_ms=float(r["backend_init_ms"]) + float(r["load_ms"]), first_ms=float(r["first_ms"]),
            warmup=r["warmup"], latency=summarize(times), samples_ms=times, infer_ms=r.get("infer_ms"),
            peak_rss_mb=r.get("peak_rss_mb"), notes=notes,
        )


class _Fixed(BrowserRunner):
    """A registry entry: a BrowserRunner whose availability the parent can ask without options."""

    fixed: ClassVar[dict[str, str]] = {}

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__({**self.fixed, **(options or {})})

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return cls().unavailable()


class TfjsBrowserWasm(_Fixed):
    runtime = "tfjs-browser-wasm"
    fixed = {"engine": "tfjs", "backend": "wasm"}


class TfjsBrowserGpu(_Fixed):
    runtime = "tfjs-browser-gpu"
    fixed = {"engine": "tfjs", "backend": "gpu"}


class OnnxWeb(_Fixed):
    runtime = "onnx-web"
    fixed = {"engine": "onnx", "backend": "wasm"}
