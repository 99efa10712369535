"""ONNX Runtime runner (CPU execution provider; the provider list is an option for later devices)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.errors import InputError, RuntimeUnavailable
from edgekit.protocol import Job
from edgekit.runtimes.base import InProcessRunner


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check: the onnxruntime package is importable."""
    return None if importlib.util.find_spec("onnxruntime") else "ONNX Runtime is not installed: pip install onnxruntime"


class OnnxRuntimeRunner(InProcessRunner):
    """``options["providers"]``: the execution providers in order (default: the CPU's)."""

    @classmethod
    def versions(cls) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}

    def _open_impl(self, job: Job) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = job.threads
        # One sample at a time: inter-op parallelism only adds thread wake-ups.
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        providers = self.options.get("providers") or ["CPUExecutionProvider"]
        self._sess = ort.InferenceSession(job.artifact_path, sess_options=so, providers=providers)
        art = job.artifact_record
        names_in = [t.name for t in job.input_specs]
        names_out = [t.name for t in job.output_specs]
        model_in = [i.name for i in self._sess.get_inputs()]
        model_out = [o.name for o in self._sess.get_outputs()]
        io = art.io_names or {}
        own_in = io.get("inputs") or (names_in if set(names_in) <= set(model_in) else model_in)
        own_out = io.get("outputs") or (names_out if set(names_out) <= set(model_out) else model_out)
        if len(own_in) != len(names_in) or len(own_out) != len(names_out):
            raise InputError(
                f"the ONNX model has inputs {model_in} and outputs {model_out}; the manifest signature "
                f"has {names_in} / {names_out} and io_names {io or None}"
            )
        self._in = dict(zip(names_in, own_in, strict=True))
        self._out_names = list(own_out)
        self._sig_out = names_out
        self._in_types = {i.name: i.type for i in self._sess.get_inputs()}
        self._staged: dict[str, np.ndarray] = {}

    def _feed(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for sig, own in self._in.items():
            x = feeds[sig]
            if self._in_types.get(own) == "tensor(float)" and x.dtype != np.float32:
                x = x.astype(np.float32)
            out[own] = x
        return out

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        self._staged = self._feed(feeds)

    def _invoke_impl(self) -> None:
        self._sess.run(self._out_names, self._staged)

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = self._sess.run(self._out_names, self._feed(feeds))
        return dict(zip(self._sig_out, res, strict=True))

    def _close_impl(self) -> None:
        self._sess = None


class OnnxRuntimeCudaRunner(OnnxRuntimeRunner):
    """ONNX Runtime with the CUDA execution provider first (the registry's ``gpu`` placement gives the list)."""

    def _open_impl(self, job: Job) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            raise RuntimeUnavailable("ONNX Runtime has no CUDA provider here (install onnxruntime-gpu and the "
                                     f"CUDA/cuDNN libraries it needs); available: {', '.join(available)}")
        super()._open_impl(job)
        # Providers that registered: CUDA missing here means the session fell back to the CPU.
        self.notes = [f"ONNX Runtime providers in use: {', '.join(self._sess.get_providers())}"]
