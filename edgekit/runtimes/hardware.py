"""What accelerators this machine has, and the availability checks of the runtimes' accelerator placements.

Cheap and import-free (device nodes, the dynamic loader's search, package metadata): the parent asks before any
job starts, and ``edgekit doctor`` asks the same questions through the registry.
"""

from __future__ import annotations

import ctypes.util
import glob
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

GPU_NODES = ("/dev/nvidia[0-9]*", "/dev/dri/renderD*", "/dev/kgsl-3d0", "/dev/mali[0-9]*")
EDGETPU_LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}
EDGETPU_INSTALL = ("install Coral's Edge TPU runtime (Debian/Ubuntu: apt-get install libedgetpu1-std from "
                   "https://packages.cloud.google.com/apt coral-edgetpu-stable; macOS/Windows: "
                   "https://coral.ai/software/#edgetpu-runtime) and attach the Edge TPU")


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


def dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def gpu_unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """A GPU device node (or macOS, whose GPU has none)."""
    if not gpu_nodes() and sys.platform != "darwin":
        return ("no GPU on this machine (no /dev/nvidia*, /dev/dri/renderD*, /dev/mali* or /dev/kgsl-3d0); "
                "validate on a machine with a GPU, or give --delegate PATH")
    return None


def delegate_or_gpu_unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """LiteRT on a GPU: a user's ``delegate`` library decides what it needs; without one, a GPU."""
    return None if (options or {}).get("delegate") else gpu_unavailable_reason(options)


def cuda_unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """ONNX Runtime on a GPU: a GPU and the onnxruntime-gpu package."""
    reason = gpu_unavailable_reason(options)
    if reason is None and not dist_version("onnxruntime-gpu"):
        reason = ("ONNX Runtime's CUDA provider needs onnxruntime-gpu: pip install onnxruntime-gpu "
                  "(it replaces onnxruntime)")
    return reason


def edgetpu_unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The Edge TPU runtime library (or a ``delegate`` the user named)."""
    if (options or {}).get("delegate") or find_edgetpu_library():
        return None
    return f"the Edge TPU runtime library {edgetpu_library()} is not installed: {EDGETPU_INSTALL}"
