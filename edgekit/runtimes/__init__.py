"""Runtimes that execute artifacts. Imported lazily: naming a runtime must not import its framework.

``RUNTIMES`` maps a runtime name to ``"module:Class"`` plus fixed options for the runner;
``FORMAT_RUNTIMES`` says which runtimes run each artifact format (one report row per pair).
"""

from __future__ import annotations

import importlib
from typing import Any

from edgekit.errors import InputError
from edgekit.runtimes.base import Runner

RUNTIMES: dict[str, tuple[str, dict[str, Any]]] = {
    "litert": ("edgekit.runtimes.litert:LiteRTRunner", {}),
    "onnxruntime": ("edgekit.runtimes.onnxrt:OnnxRuntimeRunner", {}),
    "tensorflow": ("edgekit.runtimes.tf_saved_model:SavedModelRunner", {}),
    # TF.js in Node: wasm is what apps ship for speed, cpu is the pure-JS fallback every browser has.
    "tfjs-wasm": ("edgekit.runtimes.tfjs_node:TfjsNodeRunner", {"backend": "wasm"}),
    "tfjs-cpu": ("edgekit.runtimes.tfjs_node:TfjsNodeRunner", {"backend": "cpu"}),
    # The same files in a real headless Chromium (edgekit.runtimes.browser): TF.js on wasm, TF.js on the
    # GPU backend the browser offers (WebGPU, else WebGL), and the ONNX file through onnxruntime-web.
    "tfjs-browser-wasm": ("edgekit.runtimes.browser:TfjsBrowserWasm", {}),
    "tfjs-browser-gpu": ("edgekit.runtimes.browser:TfjsBrowserGpu", {}),
    "onnx-web": ("edgekit.runtimes.browser:OnnxWeb", {}),
}

FORMAT_RUNTIMES: dict[str, list[str]] = {
    "saved_model": ["tensorflow"],
    "tflite": ["litert"],
    "onnx": ["onnxruntime", "onnx-web"],
    "tfjs": ["tfjs-wasm", "tfjs-cpu", "tfjs-browser-wasm", "tfjs-browser-gpu"],
}


def runner_class(runtime: str) -> type[Runner]:
    """Import and return the runner class for ``runtime`` (its module has no heavy imports)."""
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    target, _ = RUNTIMES[runtime]
    module_name, cls_name = target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)


def make_runner(runtime: str, options: dict[str, Any] | None = None) -> Runner:
    """A runner for ``runtime`` with its registry options, overridden by ``options``."""
    cls = runner_class(runtime)
    merged = dict(RUNTIMES[runtime][1])
    merged.update(options or {})
    return cls(merged)


def unavailable_reason(runtime: str) -> str | None:
    """None when ``runtime`` can run here, else why not (with the install hint)."""
    try:
        cls = runner_class(runtime)
    except ImportError as e:
        return f"runner module for {runtime} could not be imported ({e})"
    return cls.unavailable_reason()
