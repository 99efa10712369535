"""TF.js and ONNX models in a real headless Chromium (the page edgekit/web/static/harness.js).

Runtimes (the registry ``edgekit.runtimes.REGISTRY`` gives each its fixed ``engine`` and ``backend`` options):

- ``tfjs-browser-wasm``: TF.js with its wasm backend, what most web apps ship;
- ``tfjs-browser-gpu``: TF.js on the best GPU backend this browser offers, WebGPU first, else WebGL;
  the row says which ran and on what (a headless machine without a GPU renders with SwiftShader, a
  CPU emulation: numbers are still checked, the latency then says nothing about a GPU);
- ``onnx-web``: the ONNX artifact through onnxruntime-web's wasm backend;
- ``litert-web-wasm`` / ``litert-web-gpu`` (``--device browser``): the .tflite artifact itself in LiteRT.js
  (@litertjs/core) on its wasm (XNNPACK) or WebGPU accelerator; WebGPU only where the browser offers an
  adapter, else the row is unavailable with the reason (never a CPU run reported as GPU). int8/uint8 inputs
  arrive quantized by the parent and outputs leave as the model's own dtype (the parent dequantizes).
  What LiteRT.js cannot run is refused with the reason before the browser starts: models with variable
  tensors (the fused UNIDIRECTIONAL_SEQUENCE_LSTM's state: LiteRT's CompiledModel says "Variable tensors not
  yet supported"; ``--lstm unroll`` runs) and Flex (Select TF) ops.

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

from edgekit.errors import EdgekitError, RuntimeUnavailable
from edgekit.protocol import Job, JobResult
from edgekit.runtimes.base import OutOfProcessRunner, paired_io

# The worker's stderr tail is kept on the row: a row that times out while busy then says which stage it was in.
LOG = logging.getLogger(__name__)
ENGINES = ("tfjs", "onnx", "litert")
TFJS_BACKENDS = ("wasm", "webgl", "webgpu", "gpu")  # gpu: webgpu when offered, else webgl
LITERT_BACKENDS = ("wasm", "webgpu")
WEBGPU_HINT = ("EDGEKIT_CHROMIUM_FLAGS='--enable-unsafe-webgpu --enable-unsafe-swiftshader' offers SwiftShader's "
               "WebGPU adapter, a CPU emulation: outputs are checked, its latency is not a GPU's")


def _vendor_groups(engine: str, backend: str) -> tuple[str, ...]:
    if engine == "onnx":
        return ("ort",)
    if engine == "litert":
        return ("litert", "litert-jspi") if backend == "webgpu" else ("litert", "litert-threads")
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
    if engine not in ENGINES or backend not in (LITERT_BACKENDS if engine == "litert" else TFJS_BACKENDS):
        return f"unknown browser runtime options {dict(options)}"
    reason = browser.unavailable_reason(*_vendor_groups(engine, backend))
    if reason or engine == "onnx" or backend == "wasm":
        return reason
    caps = browser.capabilities()
    if caps.get("error"):
        return caps["error"]
    if engine == "litert":
        return None if caps.get("webgpu") else (
            f"this Chromium offers no WebGPU adapter (no GPU here, or --disable-gpu); LiteRT.js's GPU accelerator "
            f"needs one; {WEBGPU_HINT}")
    if pick_backend(backend, caps) is None:
        want = "WebGPU or WebGL" if backend == "gpu" else backend
        return (f"this Chromium offers no {want} (webgl: {caps.get('webgl')}, webgpu adapter: "
                f"{caps.get('webgpu')}); EDGEKIT_CHROMIUM_FLAGS can pass flags that enable it")
    return None


def litert_refusal(artifact: Mapping[str, Any]) -> str | None:
    """Why LiteRT.js cannot run this .tflite artifact (from its manifest record), or None."""
    if artifact.get("requires_state_reset"):
        return ("LiteRT.js cannot load this model: the fused LSTM op keeps its state in variable tensors and "
                "LiteRT's CompiledModel (which LiteRT.js is) refuses them ('Variable tensors not yet supported'); "
                "convert with --lstm unroll for the web")
    if artifact.get("requires_flex"):
        return "LiteRT.js has no Flex (Select TF ops) delegate: this model needs one"
    return None


class BrowserRunner(OutOfProcessRunner):
    """``options``: ``engine`` (tfjs, onnx or litert) and ``backend`` (tfjs: wasm, webgl, webgpu or gpu;
    litert: wasm or webgpu)."""

    @property
    def engine(self) -> str:
        return str(self.options.get("engine", "tfjs"))

    @property
    def backend(self) -> str:
        return str(self.options.get("backend", "wasm"))

    def _page_backend(self, session: Any) -> str:
        # The GPU backend is chosen by asking this very browser, not the parent's earlier probe.
        if self.engine == "onnx" or self.backend == "wasm":
            return "wasm"
        caps = session.probe()
        backend = ("webgpu" if caps.get("webgpu") else None) if self.engine == "litert" else pick_backend(
            self.backend, caps)
        if backend is None:
            raise RuntimeUnavailable(f"this Chromium offers no {self.backend} backend (webgpu adapter: "
                                     f"{caps.get('webgpu')}); {WEBGPU_HINT}")
        return backend

    def run_job(self, job: Job) -> JobResult:
        """Run the job's artifact in Chromium; write its outputs file and return the measurements."""
        from edgekit.bench import summarize
        from edgekit.web import browser, vendor

        reason = unavailable_reason(self.options)
        if reason:
            raise EdgekitError(reason)
        refusal = litert_refusal(job.artifact) if self.engine == "litert" else None
        if refusal:
            raise EdgekitError(refusal)
        pio = paired_io(job)
        model = Path(job.artifact_path)
        if self.engine == "tfjs" and model.is_file():
            model = model.parent
        s = job.bench
        with browser.BrowserSession() as session:
            backend = self._page_backend(session)
            feeds = [(n, pio.feeds[s_]) for n, s_ in zip(pio.inputs, pio.signature_inputs, strict=True)]
            r = session.run_harness(self.engine, backend, model, feeds, pio.outputs, threads=job.threads,
                                    runs=s.runs, warmup=s.warmup,
                                    min_time=s.min_time, max_time=s.max_time, warmup_min_time=s.warmup_min_time,
                                    on_slow=lambda line: LOG.warning("%s: %s", job.runtime, line),
                                    requires_state_reset=bool(job.artifact.get("requires_state_reset")))
        np.savez(job.outputs_path, **{sig: r["outputs"][name]
                                      for name, sig in zip(pio.outputs, pio.signature_outputs, strict=True)})
        versions = {"chromium": str(r["browser_version"]), **{k: str(v) for k, v in r["versions"].items()},
                    **vendor.versions(*_vendor_groups(self.engine, self.backend)), "backend": str(r["backend"])}
        times = [float(t) for t in r["latency"]]
        return JobResult(
            runtime=job.runtime, versions=versions, threads=int(r["threads"]),
            load_ms=float(r["backend_init_ms"]) + float(r["load_ms"]), first_ms=float(r["first_ms"]),
            warmup=r["warmup"], latency=summarize(times), samples_ms=times, infer_ms=r.get("infer_ms"),
            peak_rss_mb=r.get("peak_rss_mb"), notes=self._notes(r),
        )

    def _notes(self, r: dict[str, Any]) -> list[str]:
        notes = list(r.get("notes") or [])
        if self.backend != "wasm" and self.engine != "onnx":
            notes.append(f"ran on {r['backend']}" + (f" ({r['device']})" if r.get("device") else ""))
            if "swiftshader" in str(r.get("device") or "").lower():
                shown = {"webgl": "WebGL", "webgpu": "WebGPU"}.get(str(r["backend"]), str(r["backend"]))
                notes.append(f"{shown} is rendered by SwiftShader (CPU emulation, no GPU here): outputs are "
                             "checked, the latency is not a GPU's")
        if not r.get("cross_origin_isolated"):
            notes.append("page not cross-origin isolated: single-threaded wasm, 100 us timer resolution")
        notes.append(f"load_ms includes {r['backend_init_ms']:.1f} ms of library/backend start-up in the page")
        return notes
