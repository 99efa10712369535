"""How the CLI reports errors: one `edgekit: error:` line and the documented exit code, never a traceback.

``cli_errors`` wraps every command (EdgekitError, Ctrl-C); ``OneLineUsageErrors`` is the Typer group class
that does the same for usage errors (a bad option value, a missing option, an unknown command), which
Typer would print as a multi-line box. EDGEKIT_DEBUG=1 shows tracebacks instead.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperGroup

from edgekit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EdgekitError

F = TypeVar("F", bound=Callable[..., Any])


def cli_errors(fn: F) -> F:
    """Turn EdgekitError into one line on stderr and its documented exit code (EDGEKIT_DEBUG=1: traceback).

    Applied to every command so Typer's CliRunner and ``main()`` behave the same.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EdgekitError as e:
            if debug():
                raise
            typer.echo(f"edgekit: error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            if debug():
                raise
            typer.echo("edgekit: interrupted; nothing was left half-written", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def debug() -> bool:
    return os.environ.get("EDGEKIT_DEBUG", "") not in ("", "0")


class OneLineUsageErrors(TyperGroup):
    """Typer prints a usage error as a multi-line box; edgekit's contract is one `edgekit: error:` line, exit 2.

    Overriding ``main`` covers ``edgekit.cli.main()`` and Typer's CliRunner alike (both call it).
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        # typer vendors click; these classes are what its parser raises (pinned typer, see constraints.txt).
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as e:  # the help was printed when it was raised (Typer's rich help)
            rv = e.exit_code
        except ClickException as e:
            if not standalone_mode:
                raise
            typer.echo(f"edgekit: error: {usage_line(e)}", err=True)
            rv = getattr(e, "exit_code", EXIT_BAD_INPUT)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("edgekit: aborted", err=True)
            rv = 1
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def usage_line(e: Exception) -> str:
    """A click usage error as one line: the command, what was wrong, and where the usage is."""
    ctx = getattr(e, "ctx", None)
    message = " ".join(e.format_message().split()) if hasattr(e, "format_message") else str(e)
    if ctx is None:
        return message
    return f"{ctx.command_path}: {message} (see '{ctx.command_path} --help')"
