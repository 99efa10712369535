"""The format registry's options as command-line options: flag, default and help come from
edgekit.formats.OPTIONS, so a new format option needs no edit of edgekit/cli.py."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from edgekit.formats import OPTIONS

F = TypeVar("F", bound=Callable[..., Any])


def with_format_options(fn: F) -> F:
    """Give a command one option per format option of the registry (flag, default, help), after
    --golden-samples; the command receives their values as one dict, ``format_options``."""
    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.name != "format_options"]
    at = [p.name for p in params].index("golden_samples") + 1
    added = {o.name: Annotated[o.type, typer.Option(o.flag, help=o.help)] for o in OPTIONS}
    params[at:at] = [inspect.Parameter(o.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=o.default,
                                       annotation=added[o.name]) for o in OPTIONS]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        chosen = {name: kwargs.pop(name) for name in added if name in kwargs}
        return fn(*args, format_options=chosen, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]
