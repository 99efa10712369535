"""Option types of `edgekit validate` (and of `edgekit compare`, which shares the baseline gates), kept out of
cli.py so its command functions stay short. Each is an ``Annotated`` type: ``name: Type = default``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

AcceptNewHostKey = Annotated[bool, typer.Option(
    "--accept-new-host-key", help="SSH: record an unknown host key on first contact (a changed key is still refused).")]
Delegate = Annotated[str | None, typer.Option(
    "--delegate", help="TFLite delegate library for --device gpu or edgetpu.")]
ReportDir = Annotated[Path | None, typer.Option(
    "--report", help="Folder for report.json/.md/.html. Default: FOLDER/report.")]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", help="Seconds per runtime worker before it counts as hung.")]

# Baselines and regression gates (edgekit.baseline, docs/ci.md)
Baseline = Annotated[Path | None, typer.Option("--baseline", help=(
    "An accepted earlier report.json (or the folder holding it): each row is compared with the same "
    "artifact/runtime/device row there; beyond a gate it is `regressed` and the exit code 1 (docs/ci.md)."))]
LatencyGate = Annotated[str, typer.Option(
    "--max-latency-regression", help="Gate: a p50 slowdown beyond this percentage, and significant, regresses.")]
SizeGate = Annotated[str, typer.Option("--max-size-growth", help="Gate: artifact size growth, in percent.")]
AccuracyGate = Annotated[str, typer.Option(
    "--max-accuracy-drop", help="Gate: golden-label accuracy drop, in percentage points.")]
AnyMachine = Annotated[bool, typer.Option(
    "--baseline-any-machine", help="Compare latency even when the baseline ran on another machine.")]
Junit = Annotated[Path | None, typer.Option("--junit", help="Also write the rows as a JUnit XML file (for CI).")]
