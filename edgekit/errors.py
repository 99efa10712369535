"""Typed errors. Library code raises these; only ``edgekit.cli.main`` prints and exits.

Exit codes (documented in README and docs/cli.md):
    0  success
    1  a requested artifact failed to convert, or validation found a failure/error/tampering
    2  bad input: a path, option, model, data file or manifest that cannot be used as given
    3  a required dependency or system component is missing
    130 interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_INTERRUPTED = 130


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (converters print pages), or its type name when empty."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]


class EdgekitError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""

    exit_code = EXIT_FAILED


class InputError(EdgekitError):
    """The user gave something that cannot be used: say what, what was received, and what to do."""

    exit_code = EXIT_BAD_INPUT


class ManifestError(InputError):
    """manifest.json is missing, unreadable, of an unknown schema, or points outside its folder."""


class ConversionError(EdgekitError):
    """A converter failed on a model that was otherwise valid input."""


class RuntimeUnavailable(EdgekitError):
    """Found out in a worker: the accelerator or library a runtime needs is not there (no GPU behind the
    library, no Edge TPU attached). Its report row is ``unavailable``, not ``error``."""


class MissingDependency(EdgekitError):
    """An optional library or system tool is needed for this action and is not installed."""

    exit_code = EXIT_MISSING_DEPENDENCY

    def __init__(self, what: str, hint: str):
        super().__init__(f"{what} is not installed: {hint}")
        self.what = what
        self.hint = hint


class FormatUnavailable(EdgekitError):
    """A format asked for by name cannot be converted in this environment (its converter is missing or does not
    support the installed TensorFlow): the message says why and what to use instead."""

    exit_code = EXIT_MISSING_DEPENDENCY
