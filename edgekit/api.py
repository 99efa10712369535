"""edgekit's Python API: ``convert``, ``validate``, ``bundle`` and ``train``, the four CLI verbs as functions.

    import edgekit
    result = edgekit.convert("model.keras", "out", formats="tflite,onnx", calibration="calib.npy")
    report = edgekit.validate("out", runs=20)
    edgekit.bundle("out", "app", target="android")

At the package root each name is the module of that verb (``edgekit.convert`` is ``edgekit/convert.py``),
made callable (edgekit/verbs.py): calling it calls the function here. ``import edgekit`` imports none of
them; nothing heavy (TensorFlow, Keras, the converters) is imported before a function runs. For static
type checking import from here: ``from edgekit.api import convert``. Errors are edgekit.errors classes
(InputError for bad input, MissingDependency naming the extra to install); see docs/python-api.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import InputError

if TYPE_CHECKING:
    from edgekit.bundle import BundleResult
    from edgekit.convert import ConvertResult
    from edgekit.train import TrainResult

VERBS = ("convert", "validate", "bundle", "train")
BENCH_KEYS = ("runs", "warmup", "min_time", "max_time", "warmup_min_time")


def _options(cls: type, verb: str, options: dict[str, Any]) -> Any:
    """``cls(**options)``, an unknown name refused with the valid ones (an InputError, like the CLI's)."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise InputError(f"edgekit.{verb}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    return cls(**options)


def convert(model: str | Path, out: str | Path | None = None, **options: Any) -> ConvertResult:
    """Convert ``model`` (.keras, .h5, SavedModel folder or `edgekit train` folder) into ``out``.

    ``options`` are ConvertOptions fields: formats ("all", "tflite,onnx", ...), calibration, golden,
    golden_samples, int8_io, opset, force, ... The result's ``manifest`` lists every artifact and its status;
    ``result.all_ok`` is False when a requested format failed (the CLI's exit code 1)."""
    from edgekit.convert import ConvertOptions
    from edgekit.convert import convert as run

    return run(Path(model), None if out is None else Path(out), _options(ConvertOptions, "convert", options))


def validate(folder: str | Path, **options: Any) -> dict[str, Any]:
    """Run every artifact of a convert folder on its runtimes; returns report.json's content (also written).

    ``options`` are ValidateOptions fields (devices, artifacts, threads, tolerances, report_dir, ...) and the
    benchmark settings runs, warmup, min_time, max_time, warmup_min_time. ``report["summary"]["exit_code"]``
    is the CLI's exit code."""
    from edgekit.protocol import BenchSettings
    from edgekit.validate import ValidateOptions
    from edgekit.validate import validate as run

    bench = {k: options.pop(k) for k in BENCH_KEYS if k in options}
    opts = _options(ValidateOptions, "validate", options)
    if bench:
        opts.bench = _options(BenchSettings, "validate", bench)
    return run(Path(folder), opts)


def bundle(folder: str | Path, out: str | Path, target: str = "web", **options: Any) -> BundleResult:
    """Package a convert folder for an app: ``target`` web, android or ios; ``options`` are BundleOptions fields
    (labels, artifacts, onnx, force)."""
    from edgekit.bundle import BundleOptions
    from edgekit.bundle import bundle as run

    return run(Path(folder), Path(out), _options(BundleOptions, "bundle", {"target": target, **options}))


def train(recipe: str | Path, out: str | Path | None = None, **options: Any) -> TrainResult:
    """Train a recipe (a built-in name such as "digits", or a .toml path) into ``out``; ``options`` are
    TrainOptions fields (data, overrides=["train.epochs=1"], strategy, force, log=print)."""
    from edgekit.train import TrainOptions
    from edgekit.train import train as run

    return run(recipe, _options(TrainOptions, "train", {"out": None if out is None else Path(out), **options}))


__all__ = ["VERBS", "bundle", "convert", "train", "validate"]
