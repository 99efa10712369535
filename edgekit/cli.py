"""The ``edgekit`` command line. One thin function per verb over a plain library function.

Nothing heavy is imported at module level: ``edgekit --help`` must stay fast (see benchmarks/cli_startup.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from edgekit import __version__
from edgekit import cli_validate_options as vo
from edgekit.cli_compare import register as register_compare
from edgekit.cli_quant import register as register_quant_debug
from edgekit.cli_setup import register as register_setup
from edgekit.cli_wrap import OneLineUsageErrors, cli_errors, debug
from edgekit.errors import EdgekitError
from edgekit.formats import formats_help
from edgekit.formats.cli_options import with_format_options

app = typer.Typer(
    cls=OneLineUsageErrors,
    name="edgekit",
    help="From a compact Keras model to validated TFLite, TF.js and ONNX artifacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"edgekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """edgekit: convert a Keras model to every edge format, then prove each artifact still computes the same."""


# ---------------------------------------------------------------------------------------------------------
# convert

@app.command("convert")
@cli_errors
@with_format_options
def convert_cli(
    model: Annotated[
        Path,
        typer.Argument(metavar="MODEL", help="A Keras 3 .keras file, a legacy .h5 file, a SavedModel folder, or an "
                       "`edgekit train` output folder (its calibration, golden set, labels and preprocessing are "
                       "used unless given)."),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (created; must be empty unless --force). Default for an "
                     "`edgekit train` folder: FOLDER/artifacts."),
    ] = None,
    formats: Annotated[str, typer.Option("--formats", "-f", help=formats_help())] = "all",
    calibration: Annotated[str | None, typer.Option(
        "--calibration", help="Representative data for int8: a .npy/.npz file, a folder of images, a calibration "
        ".toml definition, or 'random' (a loud warning; never the default).")] = None,
    calibration_samples: Annotated[
        int, typer.Option("--calibration-samples", help="At most this many calibration samples are used.")
    ] = 200,
    golden: Annotated[str | None, typer.Option(
        "--golden", help="Held-out inputs for validation (.npy/.npz/image folder; an npz may hold 'labels'). "
        "Default: held out from the calibration data, never used to calibrate.")] = None,
    golden_samples: Annotated[int, typer.Option("--golden-samples", help="Number of golden inputs.")] = 64,
    input_shape: Annotated[list[str] | None, typer.Option(
        "--input-shape", help="Static shape for an input with unknown dimensions, e.g. 1,96,96,3 or "
        "NAME:1,96,96,3. Repeatable.")] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Class labels: a .txt (one per line) or .json list.")
    ] = None,
    preprocessing: Annotated[
        Path | None, typer.Option("--preprocessing", help="A JSON file describing input preprocessing, recorded as is.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Formats converted in parallel (0: one per two cores).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for splitting calibration/golden data.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display; summary only.")] = False,
    trust_source: Annotated[
        bool, typer.Option("--trust-source", help="Convert a SavedModel even when its serving signature reads or "
                           "writes files or calls Python (refused by default; see docs/security.md).")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Export the SavedModel afresh instead of reusing the "
                                           "cached export of an unchanged model (in the user cache folder).")] = False,
    format_options: dict[str, Any] | None = None,  # --int8-io, --opset, ...: see with_format_options
) -> None:
    """Convert MODEL to SavedModel, TFLite (float32/float16/dynamic/int8), TF.js and ONNX, with a manifest."""
    from edgekit.console import print_convert_summary
    from edgekit.convert import ConvertOptions, convert

    opts = ConvertOptions(formats=formats, calibration=calibration, calibration_samples=calibration_samples,
                          golden=golden, golden_samples=golden_samples, input_shapes=list(input_shape or []),
                          labels=labels, preprocessing=preprocessing, jobs=jobs, seed=seed, force=force,
                          progress=not quiet, trust_source=trust_source, cache=not no_cache,
                          **(format_options or {}))
    result = convert(model, out, opts)
    _code_notice(result)
    print_convert_summary(result)
    raise typer.Exit(0 if result.all_ok else 1)


def _code_notice(result: Any) -> None:
    """A SavedModel source is code that convert ran: said on stderr every time (docs/security.md)."""
    if result.manifest.source.get("executes_code"):
        from edgekit.source import SAVED_MODEL_NOTICE

        typer.echo(f"notice: {SAVED_MODEL_NOTICE}", err=True)


# ---------------------------------------------------------------------------------------------------------
# validate


DEVICE_HELP = (
    "Where to run (repeatable; devices run concurrently, one report column each): a profile name (cpu, rpi, gpu, "
    "edgetpu, or your own in ~/.config/edgekit/devices), a .toml path, or ssh://user@host:port. Default: cpu. See "
    "docs/devices.md."
)
TOL_HELP = (
    "Tolerance override [SCOPE.]KEY=VALUE, SCOPE an artifact id or variant, KEY one of atol, rtol, min_cosine, "
    "min_sqnr_db, min_top1, top1_margin, max_accuracy_drop; VALUE a number or none (see docs/report.md). "
    "Repeatable, e.g. --tol tflite-int8.min_top1=0.8"
)


@app.command("validate")
@cli_errors
def validate_cli(
    folder: Annotated[Path, typer.Argument(help="The output folder of `edgekit convert` (holds manifest.json).")],
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help=DEVICE_HELP)] = None,
    accept_new_host_key: vo.AcceptNewHostKey = False,
    delegate: vo.Delegate = None,
    artifact: Annotated[
        list[str] | None, typer.Option("--artifact", "-a", help="Only this artifact id (repeatable). Default: all.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", "-t", help="Runtime threads. Default: min(4, usable cores).")
    ] = None,
    runs: Annotated[int, typer.Option("--runs", help="Timed runs at least (benchmark_model rule).")] = 50,
    warmup: Annotated[int, typer.Option("--warmup", help="Warm-up runs at least.")] = 5,
    min_time: Annotated[float, typer.Option("--min-time", help="Keep timing at least this many seconds.")] = 1.0,
    max_time: Annotated[float, typer.Option("--max-time", help="Stop each loop after this many seconds.")] = 30.0,
    warmup_min_time: Annotated[
        float, typer.Option("--warmup-min-time", help="Keep warming up at least this many seconds.")
    ] = 0.25,
    tol: Annotated[list[str] | None, typer.Option("--tol", help=TOL_HELP)] = None,
    report: vo.ReportDir = None,
    timeout: vo.Timeout = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print report.json on stdout instead of the table.")] = False,
    baseline: vo.Baseline = None,
    max_latency_regression: vo.LatencyGate = "10%",
    max_size_growth: vo.SizeGate = "5%",
    max_accuracy_drop: vo.AccuracyGate = "0.5",
    baseline_any_machine: vo.AnyMachine = False,
    junit: vo.Junit = None,
) -> None:
    """Run every artifact on its runtimes: parity against the source model's outputs, and latency.

    Exit code 0 when every artifact passes, 1 when any fails, errors or was tampered with (or is
    unavailable with CI=true), 2 for bad input."""
    from edgekit.baseline import BaselineRequest
    from edgekit.protocol import BenchSettings
    from edgekit.report import print_console
    from edgekit.validate import ValidateOptions, validate

    opts = ValidateOptions(
        devices=list(device or []) or None,
        accept_new_host_key=accept_new_host_key,
        delegate=delegate,
        artifacts=list(artifact or []) or None,
        threads=threads,
        bench=BenchSettings(runs=runs, warmup=warmup, min_time=min_time, max_time=max_time,
                            warmup_min_time=warmup_min_time),
        tolerances=list(tol or []),
        report_dir=report,
        timeout_s=timeout,
        baseline=None if baseline is None else BaselineRequest(baseline, max_latency_regression, max_size_growth,
                                                               max_accuracy_drop, baseline_any_machine),
        junit=junit,
    )
    result = validate(folder, opts)
    print_console(result, as_json=json_out)
    raise typer.Exit(result["summary"]["exit_code"])


# ---------------------------------------------------------------------------------------------------------
# bundle


@app.command("bundle")
@cli_errors
def bundle_cli(
    folder: Annotated[Path, typer.Argument(help="The output folder of `edgekit convert` (holds manifest.json).")],
    target: Annotated[str, typer.Option("--target", help="web, android, ios or mcu.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder (created; must be empty unless --force).")],
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Class labels (.txt one per line, or a .json list); "
                                  "default: the manifest's.")
    ] = None,
    artifact: Annotated[
        list[str] | None,
        typer.Option("--artifact", "-a", help="android/ios: only this TFLite artifact id (repeatable). Default: all. "
                     "web --runtime litert: the one .tflite to ship (default: int8 if it passed validation, else "
                     "float32)."),
    ] = None,
    onnx: Annotated[bool, typer.Option("--onnx", help="web: also ship the ONNX model with onnxruntime-web.")] = False,
    runtime: Annotated[str | None, typer.Option("--runtime", help="web: litert (the .tflite in LiteRT.js) or tfjs. "
                                                "Default: the one that passed validation with the smaller download.")
                       ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out folder.")] = False,
) -> None:
    """Package the artifacts for an app: a static web app, or TFLite + model card + Kotlin/Swift snippets.

    Exit code 0 on success, 2 for bad input (folder, target, a failed or modified artifact, a non-empty
    --out without --force), 3 when the vendored JS libraries are missing (web)."""
    from edgekit.bundle import BundleOptions, bundle

    res = bundle(folder, out, BundleOptions(target=target, labels=labels, artifacts=list(artifact or []) or None,
                                            onnx=onnx, force=force, runtime=runtime))
    typer.echo(f"{res.target} bundle: {res.out} ({len(res.files)} files, {res.bytes / 1e6:.2f} MB)")
    for note in res.notes:
        typer.echo(f"  {note}")


# ---------------------------------------------------------------------------------------------------------
# doctor


@app.command("doctor")
@cli_errors
def doctor_cli(
    json_out: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Print converter and runtime versions, flag ones outside the known-good set, list optional components."""
    from edgekit.doctor import CORE, print_doctor, run_doctor
    from edgekit.errors import MissingDependency

    report = run_doctor()
    print_doctor(report, as_json=json_out)
    missing_core = [p.name for p in report.packages if p.state == "missing" and p.name in CORE]
    if missing_core:
        raise MissingDependency(", ".join(missing_core), "run `make setup`")


# ---------------------------------------------------------------------------------------------------------
# train / quickstart


@app.command("train")
@cli_errors
def train_cli(
    recipe: Annotated[
        str,
        typer.Argument(help="A built-in recipe (digits, image-classifier, digit-rows-lstm, sunspots-forecaster) "
                       "or a path to a recipe .toml file."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: ./RECIPE-NAME-out).")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Data source, overriding the recipe's data.source (a folder, a "
                                 "CSV file, or builtin:digits / builtin:digit-rows / builtin:sunspots).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a recipe key: SECTION.KEY=VALUE, e.g. --set train.epochs=5 "
                     "--set model.weights=none. Repeatable."),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="none, mirrored (all local devices) or multiworker (TF_CONFIG).")
    ] = "none",
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-epoch lines.")] = False,
) -> None:
    """Train a recipe into a folder that `edgekit convert FOLDER` turns into artifacts with no further flags."""
    from edgekit.train import TrainOptions, train

    result = train(recipe, TrainOptions(out=out, data=data, overrides=list(set_ or []), strategy=strategy,
                                        force=force, log=None if quiet else typer.echo))
    shown = ", ".join(f"{k} {v}" for k, v in result.metrics.items() if v is not None)
    typer.echo(f"trained {result.recipe} in {result.seconds:.1f} s: {shown}")
    typer.echo(f"output: {result.out}   next: edgekit convert {result.out}")


@app.command("quickstart")
@cli_errors
def quickstart_cli(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained model and its artifacts.")] = Path(
        "quickstart-out"),
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a key of the digits recipe, e.g. train.epochs=5.")
    ] = None,
    tol: Annotated[
        list[str] | None, typer.Option("--tol", help="Validate tolerance override, as `edgekit validate --tol`.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
) -> None:
    """Offline end to end: train MobileNetV2 on scikit-learn's digits, convert to every format, validate on CPU."""
    from edgekit.train.quickstart import QuickstartOptions, quickstart

    result = quickstart(QuickstartOptions(out=out, overrides=list(set_ or []), tolerances=list(tol or []),
                                          force=force), say=typer.echo)
    raise typer.Exit(result["report"]["summary"]["exit_code"])


# ---------------------------------------------------------------------------------------------------------
register_quant_debug(app)  # edgekit/cli_quant.py
register_setup(app)  # edgekit/cli_setup.py
register_compare(app)  # edgekit/cli_compare.py: `edgekit compare OLD NEW` (docs/ci.md)


def main(argv: list[str] | None = None) -> None:
    """Entry point. Typer runs in standalone mode (usage errors exit 2, --help exits 0); every command is
    wrapped by ``cli_errors``; this catches what escapes a command (e.g. errors raised in callbacks)."""
    try:
        app(args=argv)
    except EdgekitError as e:
        if debug():
            raise
        sys.stderr.write(f"edgekit: error: {e}\n")
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
