"""The runtime registry: which runtime runs which artifact format, on which device kinds, with which runner.

One :class:`RuntimeSpec` per runtime, as data. Adding a runtime = its module (a runner and an availability
check) + one entry in :data:`REGISTRY` + its tests. Runner modules are imported lazily: naming a runtime, or
asking whether it is available, never imports its framework.

Device kinds (``edgekit.devices``) say only *where* jobs run: ``local`` (a worker subprocess on this machine),
``ssh`` (the single-file device runner on a board), ``gpu`` and ``edgetpu`` (a worker subprocess whose runner
puts the model on that accelerator). What runs there is this registry's :attr:`RuntimeSpec.runs_on`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from edgekit.errors import InputError

DEVICE_KINDS = ("local", "ssh", "gpu", "edgetpu", "browser", "mcu")


@dataclass(frozen=True)
class Placement:
    """How a runtime runs on one device kind; None fields mean "as the runtime says"."""

    runner: str | None = None  # "module:callable(options) -> Runner" (a class or a factory)
    formats: tuple[str, ...] | None = None
    check: str | None = None  # "module:function(options) -> None or the reason": the accelerator's own needs
    options: Mapping[str, Any] = field(default_factory=dict)


HERE = Placement()


@dataclass(frozen=True)
class RuntimeSpec:
    name: str  # the report's runtime column and Job.runtime
    runner: str  # "module:callable(options) -> Runner" for the local worker
    formats: tuple[str, ...]  # manifest artifact formats it executes
    check: str  # "module:function(options) -> None, or why not with the install hint"; cheap, no framework import
    options: Mapping[str, Any] = field(default_factory=dict)  # fixed runner options
    runs_on: Mapping[str, Placement] = field(default_factory=lambda: MappingProxyType({"local": HERE}))

    def formats_on(self, kind: str) -> tuple[str, ...]:
        """The formats this runtime runs on a device of ``kind`` (none where it does not run)."""
        place = self.runs_on.get(kind)
        if place is None:
            return ()
        return self.formats if place.formats is None else place.formats


_RT = "edgekit.runtimes"
_WEB = MappingProxyType({"local": HERE, "browser": HERE})  # browser rows: with every local run, and --device browser
REGISTRY: tuple[RuntimeSpec, ...] = (
    RuntimeSpec("litert", f"{_RT}.litert:LiteRTRunner", ("tflite",), f"{_RT}.litert:unavailable_reason", runs_on={
        "local": HERE,
        "ssh": HERE,  # the board's own runtime, through edgekit/device_runner/runner.py
        # LiteRT's CompiledModel on the GPU, or an Interpreter with the --delegate library.
        "gpu": Placement(f"{_RT}.litert_accel:gpu_runner", check=f"{_RT}.hardware:delegate_or_gpu_unavailable_reason"),
        # A compiled Edge TPU model is a custom op only libedgetpu runs: the cpu never gets it.
        "edgetpu": Placement(f"{_RT}.litert_accel:edgetpu_runner", formats=("edgetpu",),
                             check=f"{_RT}.hardware:edgetpu_unavailable_reason"),
    }),
    RuntimeSpec("onnxruntime", f"{_RT}.onnxrt:OnnxRuntimeRunner", ("onnx",), f"{_RT}.onnxrt:unavailable_reason",
                runs_on={"local": HERE, "gpu": Placement(
                    f"{_RT}.onnxrt:OnnxRuntimeCudaRunner", check=f"{_RT}.hardware:cuda_unavailable_reason",
                    options={"providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]})}),
    RuntimeSpec("tensorflow", f"{_RT}.tf_saved_model:SavedModelRunner", ("saved_model",),
                f"{_RT}.tf_saved_model:unavailable_reason", runs_on={"local": HERE, "gpu": Placement(
                    f"{_RT}.tf_saved_model:SavedModelGpuRunner", check=f"{_RT}.hardware:gpu_unavailable_reason")}),
    # TF.js in Node: wasm is what apps ship for speed, cpu is the pure-JS fallback every browser has.
    RuntimeSpec("tfjs-wasm", f"{_RT}.tfjs_node:TfjsNodeRunner", ("tfjs",), f"{_RT}.tfjs_node:unavailable_reason",
                options={"backend": "wasm"}),
    RuntimeSpec("tfjs-cpu", f"{_RT}.tfjs_node:TfjsNodeRunner", ("tfjs",), f"{_RT}.tfjs_node:unavailable_reason",
                options={"backend": "cpu"}),
    # The same files in a real headless Chromium: TF.js on wasm, TF.js on the GPU backend the browser offers
    # (WebGPU, else WebGL), and the ONNX file through onnxruntime-web.
    RuntimeSpec("tfjs-browser-wasm", f"{_RT}.browser:BrowserRunner", ("tfjs",), f"{_RT}.browser:unavailable_reason",
                options={"engine": "tfjs", "backend": "wasm"}, runs_on=_WEB),
    RuntimeSpec("tfjs-browser-gpu", f"{_RT}.browser:BrowserRunner", ("tfjs",), f"{_RT}.browser:unavailable_reason",
                options={"engine": "tfjs", "backend": "gpu"}, runs_on=_WEB),
    RuntimeSpec("onnx-web", f"{_RT}.browser:BrowserRunner", ("onnx",), f"{_RT}.browser:unavailable_reason",
                options={"engine": "onnx", "backend": "wasm"}, runs_on=_WEB),
    # The .tflite files themselves in the browser (LiteRT.js): on --device browser only, with every other web row.
    RuntimeSpec("litert-web-wasm", f"{_RT}.browser:BrowserRunner", ("tflite",), f"{_RT}.browser:unavailable_reason",
                options={"engine": "litert", "backend": "wasm"}, runs_on={"browser": HERE}),
    RuntimeSpec("litert-web-gpu", f"{_RT}.browser:BrowserRunner", ("tflite",), f"{_RT}.browser:unavailable_reason",
                options={"engine": "litert", "backend": "webgpu"}, runs_on={"browser": HERE}),
    # TFLite Micro's interpreter on this host (reference kernels); an mcu board profile runs it too, and checks the
    # model and its arena against the board's flash and RAM (edgekit.devices.mcu).
    RuntimeSpec("tflm", f"{_RT}.tflm:TflmRunner", ("tflm",), f"{_RT}.tflm:unavailable_reason",
                runs_on={"local": HERE, "mcu": HERE}),
)


def spec(runtime: str) -> RuntimeSpec:
    """The registry entry named ``runtime``."""
    for rt in REGISTRY:
        if rt.name == runtime:
            return rt
    raise InputError(f"unknown runtime {runtime!r}; known: {', '.join(r.name for r in REGISTRY)}")


def runtimes_for(fmt: str, kind: str) -> list[str] | None:
    """Runtimes that run ``fmt`` on a device of ``kind``, in registry order. None when the format is run only
    on other device kinds (it gets no rows there, not noise); [] when no runtime in edgekit runs it at all."""
    here = [r.name for r in REGISTRY if fmt in r.formats_on(kind)]
    if here:
        return here
    anywhere = any(fmt in r.formats_on(k) for r in REGISTRY for k in r.runs_on)
    return None if anywhere else []


def load_target(target: str) -> Callable[..., Any]:
    """Import ``"module:attr"`` and return the attribute (runner modules import no framework at module level)."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _placement(runtime: str, kind: str) -> tuple[RuntimeSpec, Placement]:
    rt = spec(runtime)
    if kind not in rt.runs_on:
        raise InputError(f"runtime {runtime!r} does not run on {kind} devices; it runs on {', '.join(rt.runs_on)}")
    return rt, rt.runs_on[kind]


def runner_options(runtime: str, kind: str = "local", options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The runtime's fixed options, then the placement's, then ``options`` (the device's and the job's)."""
    rt, place = _placement(runtime, kind)
    return {**rt.options, **place.options, **(options or {})}


def make_runner(runtime: str, options: Mapping[str, Any] | None = None, kind: str = "local") -> Any:
    """The runner (an ``edgekit.runtimes.base.Runner``) for ``runtime`` on a device of ``kind``."""
    rt, place = _placement(runtime, kind)
    return load_target(place.runner or rt.runner)(runner_options(runtime, kind, options))


def _check(runtime: str, check: str | None, options: Mapping[str, Any]) -> str | None:
    if check is None:
        return None
    try:
        return load_target(check)(options) or None
    except ImportError as e:
        return f"the availability check of {runtime} could not be imported ({e})"


def placement_unavailable_reason(runtime: str, kind: str, options: Mapping[str, Any] | None = None) -> str | None:
    """The device kind's own need alone (a GPU, libedgetpu): None when it is met, else why not with the hint."""
    _, place = _placement(runtime, kind)
    return _check(runtime, place.check, runner_options(runtime, kind, options))


def unavailable_reason(runtime: str, kind: str = "local", options: Mapping[str, Any] | None = None) -> str | None:
    """None when ``runtime`` can run on a ``kind`` device here, else why not (with the install hint): the
    runtime's own check (its library), then its placement's on that device kind."""
    rt = spec(runtime)
    reason = _check(runtime, rt.check, runner_options(runtime, kind, options))
    return reason or placement_unavailable_reason(runtime, kind, options)


__all__ = ["DEVICE_KINDS", "REGISTRY", "Placement", "RuntimeSpec", "load_target", "make_runner",
           "placement_unavailable_reason", "runner_options", "runtimes_for", "spec", "unavailable_reason"]
