"""``edgekit convert``: one process, TensorFlow imported once, the SavedModel exported once, every format.

Outputs are built in a temporary sibling of DIR and moved into place at the end, so an interrupted or
failed run never leaves a DIR that looks complete, and an existing DIR is only replaced with --force.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgekit import __version__, artifact_check, export_cache, extras, isolate, outdir
from edgekit import golden as gd
from edgekit import manifest as mf
from edgekit.data import describe, input_paths
from edgekit.errors import ConversionError, EdgekitError, InputError, first_line
from edgekit.formats import (
    OPTIONS,
    TARGETS,
    Context,
    Target,
    by_cost,
    check_options,
    left_out,
    module,
    parse_formats,
    unavailable_targets,
)
from edgekit.formats import unused_options as unused_format_options
from edgekit.schemas import read_labels, read_preprocessing, read_train_record
from edgekit.text import split as text_split
from edgekit.train.engine import TRAIN_MARKER
from edgekit.verbs import callable_module

CONVERT_LOG = "convert.log"


@dataclass
class CommonOptions:
    """What every conversion reads; each format's own options are added from the registry below."""

    formats: str = "all"
    calibration: str | None = None
    calibration_samples: int = 200
    golden: str | None = None
    golden_samples: int = 64
    input_shapes: list[str] = field(default_factory=list)
    labels: Path | None = None
    preprocessing: Path | None = None
    jobs: int = 0
    seed: int = 0
    force: bool = False
    progress: bool = False
    trust_source: bool = False  # run a SavedModel even when its signature has file/process ops (graph_check.py)
    cache: bool = True  # reuse the canonical SavedModel export of an unchanged source (edgekit/export_cache.py)


# CommonOptions plus one field per format option (int8_io, int8_weights, lstm, tfjs_quantize, opset, ...),
# declared once, with its default, check and help text, in edgekit.formats.
ConvertOptions = dataclasses.make_dataclass(
    "ConvertOptions", [(o.name, o.type, field(default=o.default)) for o in OPTIONS], bases=(CommonOptions,))
ConvertOptions.__module__ = __name__
ConvertOptions.__doc__ = "Options of `edgekit convert`: CommonOptions plus every format option of the registry."


@dataclass
class ConvertResult:
    out: Path
    manifest: mf.Manifest
    seconds: float

    @property
    def all_ok(self) -> bool:
        return all(a.ok for a in self.manifest.artifacts)


# Called as hook(step id, "running" | "done" | "failed", artifact or None) from worker threads.
ProgressHook = Callable[[str, str, Any], None]


# ---------------------------------------------------------------------------------------------------------
# Cheap checks: everything that can be refused before TensorFlow is imported.


def quiet_tensorflow() -> None:
    """TensorFlow's C++ INFO/WARNING lines drown the progress display; EDGEKIT_DEBUG=1 keeps them."""
    if os.environ.get("EDGEKIT_DEBUG", "") in ("", "0"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")


def _check_options(opts: ConvertOptions) -> list[Target]:
    targets = parse_formats(opts.formats)
    check_options(opts)
    extras.require("tensorflow", "keras")  # exit 3 naming the extra, before anything else is read
    targets = unavailable_targets(opts.formats, targets)[0]  # e.g. tfjs on a TensorFlow tensorflowjs refuses
    for name, value, low in (("--golden-samples", opts.golden_samples, 1),
                             ("--calibration-samples", opts.calibration_samples, 1), ("--jobs", opts.jobs, 0),
                             ("--seed", opts.seed, 0)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if any(t.needs_calibration for t in targets) and not opts.calibration:
        raise InputError("int8 quantization needs representative data: give --calibration PATH (.npy/.npz, an "
                         "image folder or a .toml definition), or leave int8 out with --formats")
    return targets


# ---------------------------------------------------------------------------------------------------------


TRAINED_ARTIFACTS = "artifacts"


def discover_training_output(model: Path, out: Path | None, opts: ConvertOptions) -> tuple[Path, Path | None]:
    """An `edgekit train` folder (or its model.keras) needs no flags: fill what the user left unset.

    Calibration, golden set (all of it), labels and preprocessing come from train.json's file list, the
    formats from the recipe's export.formats; --out defaults to FOLDER/artifacts. Explicit options win.
    """
    folder = model if model.is_dir() else model.parent
    marker = folder / TRAIN_MARKER
    if not marker.is_file() or (model.is_dir() and (model / "saved_model.pb").is_file()):
        return model, out
    record = read_train_record(marker)
    files = record.files

    def path(key: str) -> Path | None:
        name = files.get(key)
        return folder / name if isinstance(name, str) and (folder / name).exists() else None

    if model.is_dir():
        model = path("model") or model
    if opts.calibration is None and path("calibration"):
        opts.calibration = str(path("calibration"))
    if opts.golden is None and path("golden"):
        opts.golden = str(path("golden"))
        if opts.golden_samples == ConvertOptions.golden_samples:  # not set: validate on the whole hold-out
            opts.golden_samples = max(opts.golden_samples, record.golden_samples or 0)
    if opts.formats == ConvertOptions.formats and record.formats is not None:
        opts.formats = record.formats  # the recipe's export.formats
    if opts.int8_max_drop is None and opts.int8_min_sqnr is None and record.int8_max_drop is not None:
        opts.int8_max_drop = record.int8_max_drop  # the recipe's export.int8_max_drop (docs/quant-debug.md)
        if opts.int8_weights == ConvertOptions.int8_weights and record.int8_weights:
            opts.int8_weights = record.int8_weights
    if opts.labels is None:
        opts.labels = path("labels")
    if opts.preprocessing is None:
        opts.preprocessing = path("preprocessing")
    return model, out if out is not None else folder / TRAINED_ARTIFACTS


def convert(model: Path, out: Path | None, opts: ConvertOptions, hook: ProgressHook | None = None) -> ConvertResult:
    """Convert ``model`` into ``out``. Raises InputError for bad input; failed formats are recorded, not raised.

    ``model`` may be an `edgekit train` output folder; then ``out`` may be None (FOLDER/artifacts).
    """
    from edgekit import source as src

    quiet_tensorflow()
    t0 = time.perf_counter()
    opts = dataclasses.replace(opts)  # discovery fills unset options; the caller's object stays as given
    model, out = discover_training_output(Path(model), Path(out) if out is not None else None, opts)
    if out is None:
        raise InputError("--out is required (it defaults to FOLDER/artifacts only for an `edgekit train` folder)")
    kind = src.sniff(model)
    targets = _check_options(opts)
    input_shapes = src.parse_input_shapes(opts.input_shapes)
    labels = read_labels(opts.labels)
    preprocessing = read_preprocessing(opts.preprocessing)
    protected = [model, *input_paths(opts.calibration), *input_paths(opts.golden)]
    protected += [p for p in (opts.labels, opts.preprocessing) if p is not None]
    outdir.check_out(out, opts.force, protected)

    return _convert(model, kind, out, opts, targets, input_shapes, labels, preprocessing, hook, t0)


def _convert(model: Path, kind: str, out: Path, opts: ConvertOptions, targets: list[Target],
             input_shapes: dict[str | None, list[int]], labels: list[str] | None,
             preprocessing: dict[str, Any] | None, hook: ProgressHook | None, t0: float) -> ConvertResult:

    try:
        with outdir.staging(out) as st, contextlib.ExitStack() as stack:
            term = stack.enter_context(outdir.native_stderr_to(st.path / CONVERT_LOG))
            stack.enter_context(isolate.prestart(model, kind, targets))  # crash containment (edgekit/isolate.py)
            if hook is None and opts.progress:
                from edgekit.console import ConvertProgress

                hook = stack.enter_context(ConvertProgress(["load"] + [t.id for t in targets], term)).hook
            manifest = _build(model, kind, st.path, opts, targets, input_shapes, labels, preprocessing,
                              hook or (lambda *_: None), st.notices)
        return ConvertResult(out=out, manifest=manifest, seconds=time.perf_counter() - t0)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise InputError(f"no space left on the device while writing {out}; free some space or choose "
                             "another --out") from e
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise InputError(f"cannot write {e.filename or out} ({e.strerror}); choose a writable --out") from e
        raise


def _build(model: Path, kind: str, staging: Path, opts: ConvertOptions, targets: list[Target],
           input_shapes: dict[str | None, list[int]], labels: list[str] | None,
           preprocessing: dict[str, Any] | None, notify: ProgressHook, notices: list[str]) -> mf.Manifest:
    """Everything that writes into the staging folder; returns the manifest it saved there."""
    from edgekit import source as src

    notify("load", "running", None)
    source, loaded = src.load(model, kind, input_shapes, trust=opts.trust_source)
    strings = text_split.strings_mode(opts.strings, {t.format for t in targets})
    split, source = text_split.split_source(source, strings)  # docs/text.md
    loaded = source.keras_model if split is not None else loaded
    sm_dir = staging / TARGETS["saved_model"].path
    warnings: list[str] = list(notices)  # stale staging folders removed (a killed earlier run)
    cached = export_cache.export(source, loaded, sm_dir, opts.cache, warnings,
                                 part="whole" if split is None else "text-split")
    sig_inputs, sig_outputs = src.saved_model_signature(sm_dir)
    sig_outputs = sorted(sig_outputs, key=lambda t: gd.natural_key(t.name))
    warnings += unused_format_options(opts, targets) + left_out(opts.formats)

    calib, golden, raw_golden, reference = _data(opts, source, loaded, split, sig_inputs, sig_outputs, warnings)
    if labels is not None and len(sig_outputs) == 1 and sig_outputs[0].shape[-1] not in (None, len(labels)):
        raise InputError(f"--labels has {len(labels)} labels but the model's output has "
                         f"{sig_outputs[0].shape[-1]} classes")
    gd.warn_degenerate(reference, warnings)
    notify("load", "done", None)

    # Closing the context removes the scratch folders the formats asked for.
    with Context(staging=staging, saved_model_dir=sm_dir, inputs=sig_inputs, outputs=sig_outputs,
                 keras_model=source.keras_model, calibration=calib, options=opts,
                 check_inputs={k: v[:8] for k, v in golden.arrays.items()}, golden=golden,
                 reference=reference, shared={"export_cache": cached}) as ctx:
        artifacts = _run_targets(ctx, targets, notify)
    if "saved_model" not in {t.id for t in targets}:
        shutil.rmtree(sm_dir)

    golden_meta = gd.write(staging, golden, reference)
    manifest = mf.Manifest(
        edgekit_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        source=source.describe(),
        inputs=sig_inputs,
        outputs=sig_outputs,
        artifacts=artifacts,
        golden=golden_meta,
        calibration=describe(calib) if calib is not None else None,
        labels=labels,
        preprocessing=preprocessing,
        warnings=warnings + (calib.warnings if calib is not None else []),
        text=split.write(staging, raw_golden) if split is not None else text_split.flex_record(sig_inputs, strings),
    )
    mf.save(manifest, staging)
    return manifest


def _data(opts: ConvertOptions, source: Any, loaded: Any, split: text_split.TextSplit | None,
          sig_inputs: list[mf.TensorSpec], sig_outputs: list[mf.TensorSpec],
          warnings: list[str]) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(calibration, golden, raw golden, reference outputs). A split text model reads raw strings, gives the
    artifacts the Python tokenizer's ids and is judged against the whole Keras model on the strings."""
    if split is None:
        calib, golden = gd.datasets(opts, sig_inputs, warnings)
        return calib, golden, golden, gd.reference_outputs(source, loaded, sig_inputs, sig_outputs, golden.arrays)
    calib, raw = gd.datasets(opts, split.string_inputs, warnings)
    return split.to_ids(calib), split.to_ids(raw), raw, split.reference(raw, sig_outputs)


def _run_targets(ctx: Context, targets: list[Target], notify: ProgressHook) -> list[mf.Artifact]:
    from edgekit.formats import shared_load

    def one(target: Target) -> mf.Artifact:
        notify(target.id, "running", None)
        t = time.perf_counter()
        try:
            art = isolate.convert(module(target), ctx, target)
            if art.ok:  # a converter may return a failed artifact that keeps its findings (edgetpu pre-flight)
                path = mf.safe_join(ctx.staging, art.path)
                art.sha256 = mf.sha256_path(path)
                art.bytes = mf.size_path(path)
                artifact_check.check(ctx, art)  # ok only when its runtime loads it (edgekit/artifact_check.py)
        except EdgekitError as e:
            if isinstance(e, InputError) and not isinstance(e, ConversionError):
                raise
            art = _failed(target, str(e))
        except Exception as e:  # a converter bug must not take the other formats down
            art = _failed(target, f"{type(e).__name__}: {first_line(e) if str(e).strip() else ''}")
        art.seconds = round(time.perf_counter() - t, 3)
        if target.needs_calibration and ctx.calibration is not None:
            art.calibration = describe(ctx.calibration)
        notify(target.id, "done" if art.ok else "failed", art)
        return art

    results: dict[str, mf.Artifact] = {}
    shared_load.share(ctx.saved_model_dir)
    try:
        _run_pool(ctx, targets, one, results)
    finally:
        shared_load.release(ctx.saved_model_dir)
    return [results[t.id] for t in targets]


def _run_pool(ctx: Context, targets: list[Target], one: Callable[[Target], mf.Artifact],
              results: dict[str, mf.Artifact]) -> None:
    serial = [t for t in targets if not t.threadable]
    # Longest first, so the pool's last job is a short one (int8 calibrates; tflite-float32 is quickest).
    parallel = by_cost([t for t in targets if t.threadable])
    for t in serial:
        results[t.id] = one(t)
    # Each conversion already keeps about two cores busy (measured on 2 cores: 22.3 s with one worker,
    # 23.3 s with two), so the default is one worker per two cores.
    jobs = ctx.options.jobs or max(1, (os.cpu_count() or 1) // 2)
    if jobs <= 1 or len(parallel) <= 1:
        for t in parallel:
            results[t.id] = one(t)
    else:
        with ThreadPoolExecutor(max_workers=min(jobs, len(parallel)), thread_name_prefix="edgekit-convert") as ex:
            for t, art in zip(parallel, ex.map(one, parallel), strict=True):
                results[t.id] = art


def _failed(target: Target, reason: str) -> mf.Artifact:
    return mf.Artifact(id=target.id, format=target.format, variant=target.variant, path=target.path,
                       status=mf.STATUS_FAILED, reason=reason)


callable_module(__name__)  # edgekit.convert(...) at the package root runs edgekit.api.convert
