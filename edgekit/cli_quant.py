"""`edgekit quant-debug DIR`: which layers int8 breaks, ranked by their effect on the golden set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgekit.cli_wrap import cli_errors


def quant_debug_cli(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="An `edgekit convert` output folder (with "
                                           "saved_model/ and its golden set).")],
    calibration: Annotated[str | None, typer.Option(
        "--calibration", help="Calibration data (.npy/.npz, image folder, .toml). Default: what the manifest "
        "records.")] = None,
    calibration_samples: Annotated[int, typer.Option("--calibration-samples",
                                                     help="At most this many calibration samples.")] = 200,
    report: Annotated[Path | None, typer.Option("--report", help="Folder for quant_debug.json/.html. Default: "
                                                "DIR/report.")] = None,
    time_bound: Annotated[float, typer.Option("--time-bound", help="Seconds for the per-layer measurements (one "
                                              "quantization and one golden-set run each); layers left are listed "
                                              "as not measured.")] = 300.0,
    max_layers: Annotated[int, typer.Option("--max-layers", help="Measure every layer up to this many; above it "
                                            "only the suspects (top 6 by each statistic).")] = 48,
) -> None:
    """Per-layer int8 error statistics, then each layer's effect on golden-set accuracy when kept in float."""
    from rich.console import Console
    from rich.table import Table

    from edgekit.quant_debug import page
    from edgekit.quant_debug.debug import DebugOptions, quant_debug

    opts = DebugOptions(calibration=calibration, calibration_samples=calibration_samples, report_dir=report,
                        time_bound_s=time_bound, max_layers=max_layers)
    result, paths = quant_debug(folder, opts)
    table = Table(*page.HEADERS, title="int8 layers ranked by effect")
    bad = set(page.suspects(result))
    for row in page.rows(result):
        table.add_row(*row, style="bold red" if row[0] in bad else None)
    console = Console()
    console.print(table)
    console.print(page.summary(result))
    console.print(f"Next: {result.next_step}")
    console.print(f"Wrote {paths['json']} and {paths['html']}")


def register(app: typer.Typer) -> None:
    app.command("quant-debug")(cli_errors(quant_debug_cli))
