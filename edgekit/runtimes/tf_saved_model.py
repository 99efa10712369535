"""TensorFlow runner for the SavedModel artifact. The only place validation imports TensorFlow,
and only inside the worker process that runs this artifact."""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from edgekit.errors import InputError
from edgekit.protocol import Job
from edgekit.runtimes.base import Runner


class SavedModelRunner(Runner):
    runtime = "tensorflow"
    install_hint = "pip install tensorflow (or pip install 'edgekit[convert]')"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("tensorflow"):
            return None
        return f"TensorFlow is not installed: {cls.install_hint}"

    @classmethod
    def versions(cls) -> dict[str, str]:
        import tensorflow as tf

        return {"tensorflow": tf.__version__}

    def open(self, job: Job) -> None:
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

    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        self._staged = self._feed(feeds)

    def invoke(self) -> None:
        self._fn(**self._staged)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self._fn(**self._feed(feeds))
        missing = [n for n in self._out_names if n not in out]
        if missing:
            raise InputError(f"the SavedModel returned outputs {list(out)}; the manifest expects {missing}")
        return {n: out[n].numpy() for n in self._out_names}

    def close(self) -> None:
        self._model = self._fn = None
