"""TensorFlow runner for the SavedModel artifact. The only place validation imports TensorFlow,
and only inside the worker process that runs this artifact."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.errors import InputError, RuntimeUnavailable
from edgekit.protocol import Job
from edgekit.runtimes.base import InProcessRunner


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check: the tensorflow package is importable (not imported)."""
    if importlib.util.find_spec("tensorflow"):
        return None
    from edgekit.extras import pip_command, pip_install

    return f"TensorFlow is not installed: {pip_install()} tensorflow (or {pip_command('convert')})"


class SavedModelRunner(InProcessRunner):
    """``options["signature"]``: the signature to run (default ``serving_default``)."""

    @classmethod
    def versions(cls) -> dict[str, str]:
        import tensorflow as tf

        return {"tensorflow": tf.__version__}

    def _open_impl(self, job: Job) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        # Must happen before the first op runs, or TF keeps its default pool (one thread per core).
        tf.config.threading.set_intra_op_parallelism_threads(job.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self._tf = tf
        self._model = tf.saved_model.load(job.artifact_path)
        sigs = self._model.signatures
        key = self.options.get("signature", "serving_default")
        if key not in sigs:
            raise InputError(f"the SavedModel has no signature {key!r}; it has {list(sigs.keys())}")
        self._fn = sigs[key]
        self._in_names = [t.name for t in job.input_specs]
        self._out_names = [t.name for t in job.output_specs]
        _, kw = self._fn.structured_input_signature
        self._in_dtypes = {k: v.dtype for k, v in kw.items()}
        missing = [n for n in self._in_names if n not in kw]
        if missing:
            raise InputError(f"the SavedModel signature has inputs {list(kw)}; the manifest expects {missing}")
        self._staged: dict = {}

    def _feed(self, feeds: dict[str, np.ndarray]) -> dict:
        return {n: self._tf.constant(feeds[n], dtype=self._in_dtypes[n]) for n in self._in_names}

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        self._staged = self._feed(feeds)

    def _invoke_impl(self) -> None:
        self._fn(**self._staged)

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self._fn(**self._feed(feeds))
        missing = [n for n in self._out_names if n not in out]
        if missing:
            raise InputError(f"the SavedModel returned outputs {list(out)}; the manifest expects {missing}")
        return {n: out[n].numpy() for n in self._out_names}

    def _close_impl(self) -> None:
        self._model = self._fn = None


class SavedModelGpuRunner(SavedModelRunner):
    """The SavedModel placed on ``/GPU:0``; a TensorFlow that sees no GPU is unavailable, never a CPU run."""

    def _open_impl(self, job: Job) -> None:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeUnavailable("TensorFlow sees no GPU (pip install 'tensorflow[and-cuda]' and a CUDA driver)")
        with tf.device("/GPU:0"):
            super()._open_impl(job)

    def _invoke_impl(self) -> None:
        with self._tf.device("/GPU:0"):
            super()._invoke_impl()
