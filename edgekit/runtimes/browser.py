"""TF.js and ONNX models in a real headless Chromium (the page edgekit/web/static/harness.js).

Runtimes (the registry ``edgekit.runtimes.REGISTRY`` gives each its fixed ``engine`` and ``backend`` options):

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

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.protocol import Job, JobResult
from edgekit.runtimes.base import OutOfProcessRunner, paired_io

# The worker's stderr tail is kept on the row: a row that times out while busy then says which stage it was in.
LOG = logging.getLogger(__name__)
ENGINES = ("tfjs", "onnx")
TFJS_BACKENDS = ("wasm", "webgl", "webgpu", "gpu")  # gpu: webgpu when offered, else webgl


def _vendor_groups(engine: str, backend: str) -> tuple[str, ...]:
    if engine == "onnx":
        return ("ort",)
    if backend == "wasm":
        return ("tfjs", "tfjs-wasm")
    return ("tfjs", "tfjs-webgl", "tfjs-webgpu")


def pick_backend(backend: str, caps: dict[str, Any]) -> str | None:
    """The TF.js backend to run: the requested one, or for ``gpu`` WebGPU first, then WebGL."""
    if backend in ("wasm",):
        return "wasm"
    offered = [b for b in ("webgpu", "webgl") if caps.get(b)]
    if backend == "gpu":
        return offered[0] if offered else None
    return backend if backend in offered else None


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check for ``options`` (engine, backend); GPU backends ask the browser."""
    from edgekit.web import browser

    options = options or {}
    engine, backend = str(options.get("engine", "tfjs")), str(options.get("backend", "wasm"))
    if engine not in ENGINES or (engine == "tfjs" and backend not in TFJS_BACKENDS):
        return f"unknown browser runtime options {dict(options)}"
    reason = browser.unavailable_reason(*_vendor_groups(engine, backend))
    if reason or engine == "onnx" or backend == "wasm":
        return reason
    caps = browser.capabilities()
    if caps.get("error"):
        return caps["error"]
    if pick_backend(backend, caps) is None:
        want = "WebGPU or WebGL" if backend == "gpu" else backend
        return (f"this Chromium offers no {want} (webgl: {caps.get('webgl')}, webgpu adapter: "
                f"{caps.get('webgpu')}); EDGEKIT_CHROMIUM_FLAGS can pass flags that enable it")
    return None


class BrowserRunner(OutOfProcessRunner):
    """``options``: ``engine`` (tfjs or onnx) and ``backend`` (tfjs: wasm, webgl, webgpu or gpu)."""

    @property
    def engine(self) -> str:
        return str(self.options.get("engine", "tfjs"))

    @property
    def backend(self) -> str:
        return str(self.options.get("backend", "wasm"))

    def run_job(self, job: Job) -> JobResult:
        """Run the job's artifact in Chromium; write its outputs file and return the measurements."""
        from edgekit.bench import summarize
        from edgekit.web import browser, vendor

        reason = unavailable_reason(self.options)
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
            on_wasm = self.engine == "onnx" or self.backend == "wasm"
            backend = "wasm" if on_wasm else pick_backend(self.backend, session.probe())
            if backend is None:
                raise EdgekitError(f"this Chromium offers no {self.backend} backend")
            r = session.run_harness(self.engine, backend, model,
                                    [(n, feeds[s_]) for n, s_ in zip(in_names, sig_in, strict=True)],
                                    out_names, threads=job.threads, runs=s.runs, warmup=s.warmup,
                                    min_time=s.min_time, max_time=s.max_time, warmup_min_time=s.warmup_min_time,
                                    on_slow=lambda line: LOG.warning("%s: %s", job.runtime, line))
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
