"""LiteRT on an accelerator: the registry's ``gpu`` and ``edgetpu`` placements of the ``litert`` runtime.

- :class:`CompiledModelRunner`: LiteRT's ``CompiledModel`` with the GPU accelerator (the CPU takes the ops the GPU
  cannot run; ``is_fully_accelerated()`` says whether anything fell back);
- :class:`DelegateRunner`: an ``Interpreter`` with an external delegate library (``--delegate PATH``, libedgetpu).

An accelerator that is not there raises :class:`edgekit.errors.RuntimeUnavailable` (the row is ``unavailable``),
never a silent run on the CPU: a GPU number measured on a CPU would be a lie in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.device_runner.runner import Fd2Capture
from edgekit.errors import RuntimeUnavailable
from edgekit.protocol import Job
from edgekit.runtimes.base import InProcessRunner, Runner, paired_names
from edgekit.runtimes.hardware import dist_version, edgetpu_library, find_edgetpu_library
from edgekit.runtimes.litert import LiteRTRunner


class NativeStderr(Fd2Capture):
    """Native stderr around a call: LiteRT says why the GPU failed only there."""

    def reason(self, default: str) -> str:
        keys = ("No adapters found", "Failed to initialize", "Failed to load delegate", "Couldn't load", "ERROR")
        for key in keys:
            for line in self.text.splitlines():
                if key in line:
                    return line.strip()[:200]
        return default


class DelegateRunner(LiteRTRunner):
    """LiteRT Interpreter with an external delegate: ``options["delegate"]`` (a path or a library name) and
    ``options["delegate_options"]``; ``options["accelerator"] == "edgetpu"`` makes a load failure unavailable."""

    def _make_interpreter(self, job: Job) -> Any:
        try:
            from ai_edge_litert.interpreter import Interpreter, load_delegate
        except ImportError:
            from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]
        lib = self.options.get("delegate")
        if not lib:
            raise RuntimeUnavailable("no delegate library was given (--delegate PATH)")
        with NativeStderr() as cap:
            try:
                delegate = load_delegate(lib, self.options.get("delegate_options") or {})
            except (ValueError, OSError, RuntimeError) as e:
                if self.options.get("accelerator") == "edgetpu":
                    raise RuntimeUnavailable(f"the Edge TPU delegate {lib} did not load (no Edge TPU attached, or "
                                             f"no access to it): {str(e).splitlines()[0][:200]}") from e
                raise
        self.notes = [f"delegate {Path(lib).name} loaded"] + ([cap.reason("")] if cap.reason("") else [])
        return Interpreter(model_path=job.artifact_path, num_threads=job.threads, experimental_delegates=[delegate])


class CompiledModelRunner(InProcessRunner):
    """LiteRT's CompiledModel on ``options["accelerator"]`` (``gpu``, with the CPU taking what the GPU cannot
    run; ``cpu`` runs the same code path on the CPU alone)."""

    def _open_impl(self, job: Job) -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator as HW

        accel = self.options.get("accelerator", "gpu")
        flags = HW.GPU | HW.CPU if accel == "gpu" else HW.CPU
        with NativeStderr() as cap:
            try:
                model = CompiledModel.from_file(job.artifact_path, hardware_accel=flags)
            except RuntimeError as e:
                raise RuntimeUnavailable(f"LiteRT could not use a GPU: {cap.reason(str(e).splitlines()[0])}") from e
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

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        for name, (i, det) in self._in.items():
            self._ibuf[i].write(np.ascontiguousarray(feeds[name], dtype=det["dtype"]))

    def _invoke_impl(self) -> None:
        self._model.run_by_index(self._sig, self._ibuf, self._obuf)

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage_impl(feeds)
        self._invoke_impl()
        return {name: self._obuf[i].read(int(np.prod(det["shape"])), det["dtype"]).reshape(det["shape"])
                for name, (i, det) in self._out.items()}

    def _close_impl(self) -> None:
        self._ibuf = self._obuf = self._model = None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"ai-edge-litert": dist_version("ai-edge-litert") or "?"}


def edgetpu_runner(options: dict[str, Any]) -> Runner:
    """The registry's ``litert`` on ``edgetpu``: the libedgetpu delegate (the user's --delegate, else the platform's
    library where the loader finds it, else its bare name for the loader to search)."""
    lib = options.get("delegate") or find_edgetpu_library() or edgetpu_library()
    return DelegateRunner({**options, "delegate": lib})


def gpu_runner(options: dict[str, Any]) -> Runner:
    """The registry's ``litert`` on ``gpu``: the user's delegate library when given, else CompiledModel."""
    return DelegateRunner(options) if options.get("delegate") else CompiledModelRunner(options)
