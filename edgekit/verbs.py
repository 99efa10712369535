"""The verbs' modules made callable: ``edgekit.convert(...)`` runs ``edgekit.api.convert`` (see edgekit/api.py).

A leaf module: edgekit.api imports the verbs' modules inside its functions, they import this one, and this one
reaches edgekit.api by name at call time, so there is no import cycle.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class CallableModule(types.ModuleType):
    """A verb's module that, called, runs that verb's function in edgekit.api: ``edgekit.convert(...)`` works
    whether or not ``edgekit.convert`` (the module) was imported before, and ``import edgekit.convert as m``
    still gives the module with everything in it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module("edgekit.api"), self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


def callable_module(name: str) -> None:
    """Make the module ``name`` (one of the verbs' modules) callable; called at the end of each of them."""
    sys.modules[name].__class__ = CallableModule


__all__ = ["CallableModule", "callable_module"]
