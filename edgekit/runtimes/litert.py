"""LiteRT (ai-edge-litert) Interpreter runner for .tflite artifacts, XNNPACK on CPU."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.protocol import Job
from edgekit.runtimes.base import InProcessRunner, paired_names


def _interpreter_class() -> Any:
    # ai_edge_litert is the maintained runtime; tflite_runtime is what older boards carry.
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
    return Interpreter


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check: the LiteRT package (or the older tflite-runtime) is importable."""
    if importlib.util.find_spec("ai_edge_litert") or importlib.util.find_spec("tflite_runtime"):
        return None
    return "LiteRT is not installed: pip install ai-edge-litert (or tflite-runtime on older boards)"


class LiteRTRunner(InProcessRunner):

    @classmethod
    def versions(cls) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        for dist in ("ai-edge-litert", "tflite-runtime"):
            try:
                return {dist: version(dist)}
            except PackageNotFoundError:
                continue
        return {}

    def _make_interpreter(self, job: Job) -> Any:
        """The Interpreter; runners with a delegate library (edgekit.runtimes.litert_accel) override this step."""
        return _interpreter_class()(model_path=job.artifact_path, num_threads=job.threads)

    def _open_impl(self, job: Job) -> None:
        interp = self._make_interpreter(job)
        interp.allocate_tensors()
        self._interp = interp
        sig_in, sig_out, names_in, names_out = paired_names(job)
        self._reset = bool(job.artifact.get("requires_state_reset"))
        sigs = interp._get_full_signature_list() if hasattr(interp, "_get_full_signature_list") else {}
        key = "serving_default" if "serving_default" in sigs else (next(iter(sigs)) if len(sigs) == 1 else None)
        if key is not None:
            sig = sigs[key]
            missing = [n for n in names_in if n not in sig["inputs"]] + [
                n for n in names_out if n not in sig["outputs"]
            ]
            if missing:
                raise InputError(
                    f"the .tflite signature {key!r} has no tensor named {missing}; "
                    f"it has inputs {list(sig['inputs'])} and outputs {list(sig['outputs'])}"
                )
            self._in = {s: sig["inputs"][n] for s, n in zip(sig_in, names_in, strict=True)}
            self._out = {s: sig["outputs"][n] for s, n in zip(sig_out, names_out, strict=True)}
        else:
            # No signature (e.g. an old converter): fall back to the flatbuffer's I/O order.
            ins, outs = interp.get_input_details(), interp.get_output_details()
            if len(ins) != len(names_in) or len(outs) != len(names_out):
                raise InputError(
                    f"the .tflite has {len(ins)} inputs / {len(outs)} outputs and no signature; "
                    f"the manifest expects {len(names_in)} / {len(names_out)}"
                )
            self._in = {n: d["index"] for n, d in zip(sig_in, ins, strict=True)}
            self._out = {n: d["index"] for n, d in zip(sig_out, outs, strict=True)}
        details = {d["index"]: d for d in interp.get_input_details()}
        self._in_dtype = {n: details[i]["dtype"] for n, i in self._in.items()}

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        for name, index in self._in.items():
            self._interp.set_tensor(index, feeds[name].astype(self._in_dtype[name], copy=False))

    def _invoke_impl(self) -> None:
        if self._reset:
            # Timed on purpose: an app must reset the fused LSTM's state before every inference too.
            self._interp.reset_all_variables()
        self._interp.invoke()

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage_impl(feeds)
        self._invoke_impl()
        # get_tensor copies, so nothing keeps a view into the interpreter's buffers.
        return {name: self._interp.get_tensor(index) for name, index in self._out.items()}

    def _close_impl(self) -> None:
        self._interp = None
