"""Accelerators on this machine: ``--device gpu`` and ``--device edgetpu``.

Both run the usual worker (``python -m edgekit.runtimes.worker``) in a local subprocess; the job's
``accelerator`` option makes the worker build the registry's runner for that device kind
(``edgekit.runtimes.REGISTRY``: LiteRT's CompiledModel or a ``--delegate`` library, ONNX Runtime's CUDA provider,
TensorFlow on ``/GPU:0``, the libedgetpu delegate for compiled Edge TPU models).

A missing accelerator, library or package makes the row ``unavailable`` with the reason, never a silent run
on the CPU: a GPU number measured on a CPU would be a lie in the report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgekit.devices.local import LocalCPU
from edgekit.devices.profiles import Profile
from edgekit.errors import InputError


def check_delegate_path(delegate: str | None) -> None:
    """``--delegate PATH`` must be a file; a bare library name (libfoo.so.1) is left to the loader."""
    if delegate and ("/" in delegate or os.sep in delegate) and not Path(delegate).expanduser().is_file():
        raise InputError(f"--delegate {delegate}: no such file; give the path of a TFLite delegate library")


class AcceleratorDevice(LocalCPU):
    """A local worker whose jobs carry ``accelerator`` (the device kind) and the ``delegate`` library."""

    def __init__(self, profile: Profile, delegate: str | None = None):
        self.profile = profile
        self.name = profile.name
        self.delegate = delegate or profile.delegate
        check_delegate_path(self.delegate)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["profile"] = self.profile.source
        if self.delegate:
            d["delegate"] = self.delegate
        return d

    def runner_options(self) -> dict[str, Any]:
        return {"accelerator": self.kind, "delegate": self.delegate}


class GPUDevice(AcceleratorDevice):
    kind = "gpu"


class EdgeTPUDevice(AcceleratorDevice):
    kind = "edgetpu"

    def runner_options(self) -> dict[str, Any]:
        return {"accelerator": "edgetpu", "delegate": self.delegate,
                "delegate_options": {"device": self.profile.device} if self.profile.device else {}}


__all__ = ["AcceleratorDevice", "EdgeTPUDevice", "GPUDevice", "check_delegate_path"]
