"""edgekit: from a compact Keras model to validated edge artifacts.

The Python API is the CLI's four verbs, importable from here and loaded on first use (``import edgekit``
imports nothing else): ``edgekit.convert``, ``edgekit.validate``, ``edgekit.bundle``, ``edgekit.train``.
See edgekit/api.py and docs/python-api.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "bundle", "convert", "train", "validate"]


def __getattr__(name: str) -> Any:
    # The verb's module, callable (edgekit/verbs.py): edgekit.convert(...) runs edgekit.api.convert.
    if name in ("convert", "validate", "bundle", "train"):
        return importlib.import_module(f"edgekit.{name}")
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
