"""``edgekit compare OLD NEW``: the baseline comparison of two existing reports, without running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgekit import cli_validate_options as vo
from edgekit.cli_wrap import cli_errors


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cli)


@cli_errors
def compare_cli(
    old: Annotated[Path, typer.Argument(help="The accepted report.json (or the folder holding it): the baseline.")],
    new: Annotated[Path, typer.Argument(help="The report.json to judge (or the folder holding it).")],
    max_latency_regression: vo.LatencyGate = "10%",
    max_size_growth: vo.SizeGate = "5%",
    max_accuracy_drop: vo.AccuracyGate = "0.5",
    any_machine: vo.AnyMachine = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (a pull-request comment).")
                        ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare NEW with OLD row by row (size, accuracy, parity, latency with a confidence interval).

    Exit code 0 when nothing regressed, 1 when a row regressed beyond a gate, 2 for bad input."""
    from edgekit.baseline import Gates, apply, find_report, load_report
    from edgekit.baseline_view import print_console

    gates = Gates.parse(max_latency_regression, max_size_growth, max_accuracy_drop, any_machine)
    old_path = find_report(old, "OLD")
    baseline = load_report(old_path, "OLD")
    report = load_report(new, "NEW")
    report["summary"]["exit_code"] = 0  # judged here on the comparison alone; NEW's own verdicts are in NEW
    section = apply(report, baseline, gates, str(old_path))
    print_console(report, as_json=json_out, markdown=markdown)
    raise typer.Exit(1 if section["summary"]["regressed"] else 0)
