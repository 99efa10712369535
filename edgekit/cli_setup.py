"""``edgekit setup``: install what a wheel cannot carry, and say how to get the rest on this machine.

The JavaScript runtimes (TF.js, onnxruntime-web, LiteRT.js) are installed with ``npm ci`` from the lockfile
edgekit ships, into a per-user cache keyed by the lockfile's hash (edgekit/setup_js.py). The system parts
(Node.js, chromium, ssh/sshd, edgetpu_compiler) are reported with the command that installs each one on this
OS (edgekit/system_deps.py); ``edgekit doctor`` shows the same table.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from edgekit.cli_wrap import cli_errors


def setup(check: bool = False, force: bool = False) -> dict[str, Any]:
    """Install the JS runtimes (unless ``check``); returns what was found and done, JSON-ready."""
    from edgekit import doctor, setup_js, system_deps

    s = system_deps.detect()
    js: dict[str, Any] = {"cache": str(setup_js.cache_home()), "lock_sha256": setup_js.lock_hash(),
                          "complete": setup_js.is_complete(setup_js.cache_home())}
    if not check:
        done = setup_js.install(force=force)
        js.update(complete=True, installed=done.installed, seconds=round(done.seconds, 1), bytes=done.bytes)
    js["used"] = str(setup_js.node_modules())
    return {"system": {"name": s.name, "package_manager": s.manager, "machine": s.machine}, "js": js,
            "components": [vars(c) for c in doctor.components()]}


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console

    from edgekit.doctor import Component, components_table

    con = Console()
    s, js = result["system"], result["js"]
    con.print(f"system: {s['name']} ({s['machine']}), package manager: {s['package_manager'] or 'none found'}")
    if "installed" not in js:
        state = "installed" if js["complete"] else "not installed: run `edgekit setup`"
        con.print(f"JavaScript runtimes: {state} ({js['cache']}); in use: {js['used']}", highlight=False)
    elif js["installed"]:
        con.print(f"JavaScript runtimes: npm ci into {js['cache']} ({js['bytes'] / 1e6:.0f} MB, "
                  f"{js['seconds']:.1f} s)", highlight=False)
    else:
        con.print(f"JavaScript runtimes: already installed in {js['cache']} (--force reinstalls)", highlight=False)
    con.print(components_table([Component(**c) for c in result["components"]]))


def register(app: typer.Typer) -> None:
    @app.command("setup")
    @cli_errors
    def setup_cli(
        check: Annotated[bool, typer.Option("--check", help="Report only: install nothing.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Reinstall the JavaScript runtimes.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    ) -> None:
        """Install the JavaScript runtimes (npm ci from edgekit's lockfile into a per-user cache) and say how to
        get Node.js, chromium, ssh/sshd and edgetpu_compiler on this machine.

        Exit code 0 when the JavaScript runtimes are in place (or with --check), 3 when npm is missing."""
        result = setup(check=check, force=force)
        if json_out:
            typer.echo(json.dumps(result, indent=2))
        else:
            _print(result)
