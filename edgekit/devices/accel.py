"""Accelerators on this machine: ``--device gpu`` and ``--device edgetpu``.

Both run the usual worker protocol in a local subprocess (``python -m edgekit.devices.accel_worker``), with
runners that put the model on the accelerator:

- gpu, TFLite: LiteRT's ``CompiledModel`` with the GPU accelerator (CPU as the fallback for ops the GPU
  cannot run; ``is_fully_accelerated()`` says whether anything fell back), or an ``Interpreter`` with the
  delegate library given by ``--delegate PATH``;
- gpu, ONNX: ONNX Runtime's CUDA execution provider (needs the ``onnxruntime-gpu`` package);
- gpu, SavedModel: TensorFlow with the model placed on ``/GPU:0``;
- edgetpu: the compiled ``edgetpu`` artifact through an ``Interpreter`` with the libedgetpu delegate.

A missing accelerator, library or package makes the row ``unavailable`` with the reason, never a silent run
on the CPU: a GPU number measured on a CPU would be a lie in the report.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.device_runner.runner import Fd2Capture
from edgekit.devices.base import JobOutcome
from edgekit.devices.local import LocalCPU
from edgekit.devices.profiles import Profile
from edgekit.errors import InputError
from edgekit.protocol import Job
from edgekit.runtimes.base import Runner, paired_names
from edgekit.runtimes.litert import LiteRTRunner

GPU_NODES = ("/dev/nvidia[0-9]*", "/dev/dri/renderD*", "/dev/kgsl-3d0", "/dev/mali[0-9]*")
EDGETPU_LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}
EDGETPU_INSTALL = ("install Coral's Edge TPU runtime (Debian/Ubuntu: apt-get install libedgetpu1-std from "
                   "https://packages.cloud.google.com/apt coral-edgetpu-stable; macOS/Windows: "
                   "https://coral.ai/software/#edgetpu-runtime) and attach the Edge TPU")


class Unavailable(Exception):
    """The accelerator cannot run here (no device, no library): the row is ``unavailable``, not ``error``."""


def gpu_nodes() -> list[str]:
    return sorted(p for pattern in GPU_NODES for p in glob.glob(pattern))


def edgetpu_library() -> str:
    return EDGETPU_LIBRARY.get(sys.platform, EDGETPU_LIBRARY["linux"])


def find_edgetpu_library() -> str | None:
    """Where the platform's libedgetpu is, or None (the dynamic loader's own search, without loading it)."""
    name = edgetpu_library()
    if ctypes.util.find_library("edgetpu"):
        return name
    for d in ("/usr/lib", "/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
              "/opt/homebrew/lib"):
        if (Path(d) / name).exists():
            return str(Path(d) / name)
    return None


def _dist(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def check_delegate_path(delegate: str | None) -> None:
    """``--delegate PATH`` must be a file; a bare library name (libfoo.so.1) is left to the loader."""
    if delegate and ("/" in delegate or os.sep in delegate) and not Path(delegate).expanduser().is_file():
        raise InputError(f"--delegate {delegate}: no such file; give the path of a TFLite delegate library")


class _AccelDevice(LocalCPU):
    worker_module = "edgekit.devices.accel_worker"
    formats: dict[str, list[str]] = {}

    def __init__(self, profile: Profile, delegate: str | None = None):
        self.profile = profile
        self.name = profile.name
        self.delegate = delegate or profile.delegate
        check_delegate_path(self.delegate)

    def runtimes(self, fmt: str) -> list[str] | None:
        return self.formats.get(fmt)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["profile"] = self.profile.source
        if self.delegate:
            d["delegate"] = self.delegate
        return d

    def _options(self, job: Job) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        job.options = {**job.options, **self._options(job)}
        outcome = super().run(job, timeout_s)
        if outcome.result is not None and outcome.result.status == "unavailable":
            outcome.status = "unavailable"
        return outcome


class GPUDevice(_AccelDevice):
    kind = "gpu"
    formats = {"tflite": ["litert"], "onnx": ["onnxruntime"], "saved_model": ["tensorflow"]}

    def unavailable_reason(self, runtime: str) -> str | None:
        if runtime == "litert" and self.delegate:
            return None  # the user's delegate decides what it needs
        if not gpu_nodes() and sys.platform != "darwin":
            return ("no GPU on this machine (no /dev/nvidia*, /dev/dri/renderD*, /dev/mali* or /dev/kgsl-3d0); "
                    "validate on a machine with a GPU, or give --delegate PATH")
        if runtime == "onnxruntime" and not _dist("onnxruntime-gpu"):
            return ("ONNX Runtime's CUDA provider needs onnxruntime-gpu: pip install onnxruntime-gpu "
                    "(it replaces onnxruntime)")
        return None

    def _options(self, job: Job) -> dict[str, Any]:
        return {"accelerator": "gpu", "delegate": self.delegate}


class EdgeTPUDevice(_AccelDevice):
    kind = "edgetpu"
    formats = {"edgetpu": ["litert"]}

    def unavailable_reason(self, runtime: str) -> str | None:
        if self.delegate or find_edgetpu_library():
            return None
        return f"the Edge TPU runtime library {edgetpu_library()} is not installed: {EDGETPU_INSTALL}"

    def _options(self, job: Job) -> dict[str, Any]:
        return {"accelerator": "edgetpu", "delegate": self.delegate or find_edgetpu_library() or edgetpu_library(),
                "delegate_options": {"device": self.profile.device} if self.profile.device else {}}


# ---------------------------------------------------------------------------------------------------------
# Runners used by accel_worker (in the worker process only)


class _Fd2(Fd2Capture):
    """Native stderr around a call: LiteRT says why the GPU failed only there."""

    def reason(self, default: str) -> str:
        keys = ("No adapters found", "Failed to initialize", "Failed to load delegate", "Couldn't load", "ERROR")
        for key in keys:
            for line in self.text.splitlines():
                if key in line:
                    return line.strip()[:200]
        return default


class DelegateRunner(LiteRTRunner):
    """LiteRT Interpreter with an external delegate (--delegate PATH, libedgetpu)."""

    def _make_interpreter(self, job: Job) -> Any:
        try:
            from ai_edge_litert.interpreter import Interpreter, load_delegate
        except ImportError:
            from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]
        lib = self.options["delegate"]
        with _Fd2() as cap:
            try:
                delegate = load_delegate(lib, self.options.get("delegate_options") or {})
            except (ValueError, OSError, RuntimeError) as e:
                if self.options.get("accelerator") == "edgetpu":
                    raise Unavailable(f"the Edge TPU delegate {lib} did not load (no Edge TPU attached, or no "
                                      f"access to it): {str(e).splitlines()[0][:200]}") from e
                raise
        self.notes = [f"delegate {Path(lib).name} loaded"] + ([cap.reason("")] if cap.reason("") else [])
        return Interpreter(model_path=job.artifact_path, num_threads=job.threads, experimental_delegates=[delegate])


class CompiledModelRunner(Runner):
    """LiteRT's CompiledModel on a hardware accelerator (GPU, with the CPU taking what the GPU cannot run)."""

    runtime = "litert"

    def open(self, job: Job) -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator as HW

        accel = self.options.get("accelerator", "gpu")
        flags = HW.GPU | HW.CPU if accel == "gpu" else HW.CPU
        with _Fd2() as cap:
            try:
                model = CompiledModel.from_file(job.artifact_path, hardware_accel=flags)
            except RuntimeError as e:
                raise Unavailable(f"LiteRT could not use a GPU: {cap.reason(str(e).splitlines()[0])}") from e
        self._model = model
        sigs = model.get_signature_list()
        key = "serving_default" if "serving_default" in sigs else next(iter(sigs))
        self._sig = model.get_signature_index(key)
        in_det, out_det = model.get_input_tensor_details(key), model.get_output_tensor_details(key)
        sig_in, sig_out, own_in, own_out = paired_names(job)
        order_in, order_out = list(in_det), list(out_det)  # buffers follow the signature's own order
        self._in = {s: (order_in.index(o), in_det[o]) for s, o in zip(sig_in, own_in, strict=True)}
        self._out = {s: (order_out.index(o), out_det[o]) for s, o in zip(sig_out, own_out, strict=True)}
        self._ibuf = model.create_input_buffers(self._sig)
        self._obuf = model.create_output_buffers(self._sig)
        full = model.is_fully_accelerated()
        self.notes = [f"CompiledModel accelerator: {accel}" + (
            "; every op on it" if full else "; some ops fell back to the CPU (is_fully_accelerated() is False)")]

    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        for name, (i, det) in self._in.items():
            self._ibuf[i].write(np.ascontiguousarray(feeds[name], dtype=det["dtype"]))

    def invoke(self) -> None:
        self._model.run_by_index(self._sig, self._ibuf, self._obuf)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.stage(feeds)
        self.invoke()
        return {name: self._obuf[i].read(int(np.prod(det["shape"])), det["dtype"]).reshape(det["shape"])
                for name, (i, det) in self._out.items()}

    def close(self) -> None:
        self._ibuf = self._obuf = self._model = None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"ai-edge-litert": _dist("ai-edge-litert") or "?"}


def make_accel_runner(job: Job) -> Runner:
    """The runner for this job's runtime on its accelerator (job.options["accelerator"])."""
    accel = job.options.get("accelerator")
    if job.runtime == "litert":
        if job.options.get("delegate"):
            return DelegateRunner(job.options)
        if accel == "edgetpu":
            raise Unavailable(f"no Edge TPU delegate library: {EDGETPU_INSTALL}")
        return CompiledModelRunner(job.options)
    if job.runtime == "onnxruntime":
        import onnxruntime as ort

        from edgekit.runtimes.onnxrt import OnnxRuntimeRunner

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Unavailable("ONNX Runtime has no CUDA provider here (install onnxruntime-gpu and the CUDA/cuDNN "
                              f"libraries it needs); available: {', '.join(ort.get_available_providers())}")
        class _OnCUDA(OnnxRuntimeRunner):
            def open(self, job: Job) -> None:
                super().open(job)
                # Providers that registered: CUDA missing here means the session fell back to the CPU.
                self.notes = [f"ONNX Runtime providers in use: {', '.join(self._sess.get_providers())}"]

        return _OnCUDA({"providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]})
    if job.runtime == "tensorflow":
        import tensorflow as tf

        from edgekit.runtimes.tf_saved_model import SavedModelRunner

        if not tf.config.list_physical_devices("GPU"):
            raise Unavailable("TensorFlow sees no GPU (pip install 'tensorflow[and-cuda]' and a CUDA driver)")

        class _OnGPU(SavedModelRunner):
            def open(self, job: Job) -> None:
                with tf.device("/GPU:0"):
                    super().open(job)

            def invoke(self) -> None:
                with tf.device("/GPU:0"):
                    super().invoke()

        return _OnGPU(job.options)
    raise Unavailable(f"{job.runtime} has no accelerator path in edgekit")


__all__ = ["EdgeTPUDevice", "GPUDevice", "Unavailable", "find_edgetpu_library", "gpu_nodes"]
