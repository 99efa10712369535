"""``edgekit validate``: run every artifact of a convert output folder on every runtime, compare its
outputs with the source model's reference outputs, and measure its latency.

Needs nothing but the folder: no source model, and no TensorFlow in this process (a SavedModel is run
by a worker that imports TensorFlow on its own). Every artifact runs in its own worker process, so a
runtime that crashes on a corrupt file costs one row of the report, not the run.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit import __version__, manifest
from edgekit.baseline import BaselineRequest, apply_request
from edgekit.baseline_recheck import Recheck
from edgekit.bench import check_settings, report_samples, thin
from edgekit.compare import Override, accuracy, check_scopes, compare, degenerate_warnings, parse_overrides, policy_for
from edgekit.errors import EXIT_FAILED, EXIT_OK, InputError
from edgekit.folder import ConvertedFolder, Golden, load_golden
from edgekit.formats.tfjs_check import known_failure
from edgekit.protocol import BenchSettings, Job, default_timeout, load_npz
from edgekit.quant import dequantize, quant_params, quantize
from edgekit.quant_debug.score import budget_failure
from edgekit.row import STATUSES, Row
from edgekit.runtimes import spec, unavailable_reason
from edgekit.text.validate_text import text_golden
from edgekit.verbs import callable_module

if TYPE_CHECKING:
    from edgekit.devices.base import Device, JobOutcome

REPORT_SCHEMA = 1
__all__ = ["REPORT_SCHEMA", "STATUSES", "Golden", "ValidateOptions", "load_golden", "validate"]


@dataclass
class ValidateOptions:
    device: str = "cpu"
    devices: list[str] | None = None  # several --device values, validated concurrently; None = [device]
    accept_new_host_key: bool = False  # SSH: StrictHostKeyChecking=accept-new instead of yes
    delegate: str | None = None  # TFLite delegate library for gpu/edgetpu devices
    artifacts: list[str] | None = None  # ids; None = every produced artifact
    threads: int | None = None  # None = min(4, usable cores)
    bench: BenchSettings = field(default_factory=BenchSettings)
    tolerances: list[str] = field(default_factory=list)  # --tol [SCOPE.]KEY=VALUE
    report_dir: Path | None = None  # None = DIR/report; a report is always written
    timeout_s: float | None = None  # per worker; None = derived from the bench settings
    ci: bool | None = None  # None = read the CI environment variable
    baseline: BaselineRequest | Path | None = None  # --baseline and its gates (a path: default gates; docs/ci.md)
    junit: Path | None = None  # --junit: a JUnit XML file of the rows (edgekit.ci_report)


@dataclass
class RunContext:
    """What every job of one run shares: the folder, its golden data, the options and the policy."""

    source: ConvertedFolder
    golden: Golden
    opts: ValidateOptions
    overrides: list[Override]
    source_acc: float | None
    selected: list[manifest.Artifact]
    recheck: Recheck | None = None  # --baseline: re-measure a row whose latency looks regressed

    @property
    def manifest(self) -> manifest.Manifest:
        return self.source.manifest


@dataclass
class DeviceRun:
    """One device's share of the run: its scratch folder, thread count, and the artifacts it skipped."""

    device: Device
    work: Path
    threads: int
    skipped: list[dict[str, str]] = field(default_factory=list)


def _default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    # Phones and boards are benchmarked at up to 4 threads; more mostly measures the host.
    return max(1, min(4, cores))


def check_options(opts: ValidateOptions) -> None:
    if opts.threads is not None and opts.threads < 1:
        raise InputError(f"--threads must be 1 or more. Received: threads={opts.threads}")
    check_settings(opts.bench)
    if opts.timeout_s is not None and not (math.isfinite(opts.timeout_s) and opts.timeout_s > 0):
        raise InputError(f"--timeout must be a positive, finite number of seconds. Received: timeout={opts.timeout_s}")


# ---------------------------------------------------------------------------------------------------------
# One artifact on one runtime


def _feeds_file(golden: Golden, art: manifest.Artifact, work: Path) -> Path:
    """The golden inputs in the artifact's own dtype (quantized with its recorded params)."""
    qin = quant_params(art, "inputs")
    if not qin and golden.inputs_path is not None:  # None: made here (a text model's tokenized strings)
        return golden.inputs_path
    feeds = {n: quantize(x, qin[n]) if n in qin else x for n, x in golden.inputs.items()}
    path = work / f"{art.id}.feeds.npz"
    np.savez(path, **feeds)
    return path


def _job(ctx: RunContext, run: DeviceRun, art: manifest.Artifact, path: Path, runtime: str) -> Job:
    stem = run.work / f"{art.id}.{runtime}"
    m = ctx.manifest
    return Job(runtime=runtime, artifact=art.to_dict(), artifact_path=str(path),
               inputs=[vars(s) for s in m.inputs], outputs=[vars(s) for s in m.outputs],
               feeds_path=str(_feeds_file(ctx.golden, art, run.work)), outputs_path=f"{stem}.outputs.npz",
               result_path=f"{stem}.result.json", threads=run.threads, bench=ctx.opts.bench)


def _take_timings(row: Row, outcome: JobOutcome) -> None:
    row.wall_s = outcome.wall_s
    if outcome.error and outcome.status:
        row.status = outcome.status  # e.g. unavailable: no GPU / no Edge TPU behind the library
    r = outcome.result
    if r is None:
        return
    row.latency_ms, row.load_ms, row.first_ms = r.latency or None, r.load_ms, r.first_ms
    row.warmup, row.infer_ms, row.peak_rss_mb, row.threads, row.versions = (
        r.warmup or None, r.infer_ms, r.peak_rss_mb, r.threads, r.versions)
    row.notes += r.notes
    row.samples_ms = thin(r.samples_ms)
    row.latency_samples_ms = report_samples(r.samples_ms)
    if r.infer_ms is not None and r.latency.get("p50") is not None:
        row.overhead_ms = r.infer_ms - r.latency["p50"]


def _judge(ctx: RunContext, row: Row, art: manifest.Artifact, raw: dict[str, np.ndarray]) -> None:
    """Parity (and accuracy, with labels) of the artifact's outputs against the reference: pass or fail."""
    qout = quant_params(art, "outputs")
    cand = {n: dequantize(v, qout[n]) if n in qout else v for n, v in raw.items()}
    tol = policy_for(art.id, art.variant, ctx.overrides)
    parity = compare(ctx.golden.reference, cand, tol, resolution={n: q.scale for n, q in qout.items()})
    first = ctx.manifest.outputs[0].name if ctx.manifest.outputs else None
    if ctx.golden.labels is not None and first in cand:
        acc = accuracy(cand[first], ctx.golden.labels)
        if acc is not None:
            delta = None if ctx.source_acc is None else acc - ctx.source_acc
            row.accuracy = {"value": acc, "source": ctx.source_acc, "delta": delta}
            if tol.max_accuracy_drop is not None and delta is not None and -delta > tol.max_accuracy_drop:
                parity.failures.append(f"accuracy drop {-delta:.4g} exceeds {tol.max_accuracy_drop:g}")
    delta = (row.accuracy or {}).get("delta")  # an int8 budget recorded by convert (--int8-max-drop)
    over = budget_failure(art.extra.get("int8_search"), delta, parity.outputs.get(first))
    if over:
        parity.failures.append(over)
    row.parity = parity.to_dict()
    row.status = "pass" if parity.passed else "fail"
    row.reason = None if parity.passed else "; ".join(parity.failures)


def _run_one(ctx: RunContext, run: DeviceRun, art: manifest.Artifact, path: Path, runtime: str) -> Row:
    row = Row.for_artifact(art, runtime, run.device.name, "error")
    job = _job(ctx, run, art, path, runtime)
    outcome = run.device.run(job, ctx.opts.timeout_s or default_timeout(ctx.opts.bench, ctx.golden.samples))
    _take_timings(row, outcome)
    if outcome.error or outcome.result is None or not Path(job.outputs_path).is_file():
        row.reason = outcome.error or "the worker wrote no outputs"
        if outcome.stderr_tail:
            row.stderr_tail = outcome.stderr_tail[-5:]
        return row
    try:
        raw = load_npz(job.outputs_path)
    except (OSError, ValueError) as e:
        row.reason = f"the worker's outputs cannot be read ({e})"
        return row
    _judge(ctx, row, art, raw)
    return row


# ---------------------------------------------------------------------------------------------------------
# Devices


def _devices(opts: ValidateOptions, get_device: Any) -> list[Device]:
    specs = list(dict.fromkeys(opts.devices or [opts.device]))
    devices = [get_device(s, accept_new_host_key=opts.accept_new_host_key, delegate=opts.delegate) for s in specs]
    names = [d.name for d in devices]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"--device: two devices are both named {dupes[0]!r} (the profile's file name or the host); "
                         "rename one profile file so the report columns can tell them apart")
    return devices


def _library_kind(runtime: str, kind: str) -> str:
    """The device kind whose options check the runtime's own library: local, unless it runs only elsewhere."""
    return "local" if "local" in spec(runtime).runs_on else kind


def _validate_on(ctx: RunContext, run: DeviceRun) -> list[Row]:
    """Every selected artifact on every runtime the device runs for its format, one job at a time."""
    device = run.device
    rows: list[Row] = []
    for art in (a for a in ctx.selected if a.ok):
        runtimes = device.runtimes(art.format)
        if runtimes is None:
            run.skipped.append({"artifact": art.id, "reason": f"{device.name} ({device.kind}) does not run the "
                                                               f"{art.format} format"})
            continue
        if not runtimes:
            rows.append(Row.for_artifact(art, "none", device.name, "unavailable",
                                         f"no runtime in edgekit runs the {art.format!r} format yet"))
            continue
        verdict = ctx.source.verify(art)
        for runtime in runtimes:
            if verdict.path is None:
                rows.append(Row.for_artifact(art, runtime, device.name, verdict.status, verdict.reason))
                continue
            # The runtime library must be importable here when the job runs on this machine (not on a board).
            missing = (unavailable_reason(runtime, _library_kind(runtime, device.kind)) if device.local else None
                       ) or device.unavailable_reason(runtime)
            if missing:
                rows.append(Row.for_artifact(art, runtime, device.name, "unavailable", missing))
                continue
            known = known_failure(art, runtime)  # convert's TF.js check already ran this backend: not run again
            if known:
                rows.append(Row.for_artifact(art, runtime, device.name, "error", known))
                continue
            row = _run_one(ctx, run, art, verdict.path, runtime)
            if ctx.recheck is not None and device.local:
                row = ctx.recheck(row, device.describe().get("environment"),
                                  partial(_run_one, ctx, run, art, verdict.path, runtime))
            row.notes = device.preflight(art) + row.notes
            rows.append(row)
    return rows


def _run_devices(ctx: RunContext, devices: list[Device]) -> tuple[list[Row], list[DeviceRun]]:
    with tempfile.TemporaryDirectory(prefix="edgekit-validate-") as tmp:
        runs = []
        for i, d in enumerate(devices):
            (Path(tmp) / f"d{i}").mkdir()
            runs.append(DeviceRun(d, Path(tmp) / f"d{i}", ctx.opts.threads or d.threads or _default_threads()))
        if len(runs) == 1:
            per_device = [_validate_on(ctx, runs[0])]
        else:
            # Devices are independent machines: validate them at the same time (each runs its jobs in turn).
            with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="edgekit-device") as ex:
                per_device = list(ex.map(lambda r: _validate_on(ctx, r), runs))
    return [r for rs in per_device for r in rs], runs


# ---------------------------------------------------------------------------------------------------------
# The whole run


def _prepare(folder: Path | str, opts: ValidateOptions) -> tuple[ConvertedFolder, list[Override],
                                                                 list[manifest.Artifact], Path]:
    """Everything that can make the run impossible, checked before anything runs."""
    from edgekit.report import check_report_dir

    check_options(opts)
    overrides = parse_overrides(opts.tolerances)
    src = ConvertedFolder.open(folder)
    m = src.manifest
    check_scopes(overrides, [a.id for a in m.artifacts], [a.variant for a in m.artifacts])
    report_dir = check_report_dir(opts.report_dir or src.folder / "report", src.folder,
                                  "--report" if opts.report_dir else "report folder",
                                  keep=[src.folder / a.path for a in m.artifacts if a.ok and a.path])
    selected = list(m.artifacts)
    if opts.artifacts:
        selected = [m.artifact(i) for i in dict.fromkeys(opts.artifacts)]  # unknown id -> ManifestError
    for art in selected:  # a manifest that points outside the folder is refused before anything runs
        src.path_of(art)
    if opts.junit is not None:
        from edgekit.ci_report import check_junit_path

        check_junit_path(opts.junit, src.folder, keep=[src.folder / a.path for a in m.artifacts if a.ok and a.path])
    return src, overrides, selected, report_dir


def _warnings(ctx: RunContext, devices: list[Device], rows: list[Row]) -> list[str]:
    # Validate's own warnings are printed loudly; convert's are kept in the report as they were written.
    warnings = degenerate_warnings(ctx.golden.reference)
    if (ctx.manifest.golden or {}).get("random"):
        warnings.append("golden inputs are random noise: parity on noise is weaker evidence than on real "
                        "inputs; re-run `edgekit convert --golden DATA`")
    formats = ", ".join(sorted({a.format for a in ctx.selected if a.ok})) or "none produced"
    warnings += [f"device {d.name} ran nothing: it runs none of the selected artifacts' formats ({formats})"
                 for d in devices if not any(r.device == d.name for r in rows)]
    return warnings


def _report(ctx: RunContext, runs: list[DeviceRun], rows: list[Row], wall: float) -> dict[str, Any]:
    opts, m, golden = ctx.opts, ctx.manifest, ctx.golden
    ci = opts.ci if opts.ci is not None else os.environ.get("CI", "").lower() in ("1", "true", "yes")
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    bad = counts["fail"] + counts["error"] + counts["tampered"] + (counts["unavailable"] if ci else 0)
    described = [{**r.device.describe(), "skipped": r.skipped} for r in runs]
    return {
        "schema": REPORT_SCHEMA,
        "tool": "edgekit validate",
        "edgekit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "folder": str(ctx.source.folder.resolve()),
        "model": m.source,
        "device": described[0],  # the first device (report schema 1); all of them under "devices"
        "devices": described,
        "settings": {"threads": runs[0].threads, "runs": opts.bench.runs, "warmup": opts.bench.warmup,
                     "min_time": opts.bench.min_time, "max_time": opts.bench.max_time,
                     "warmup_min_time": opts.bench.warmup_min_time, "ci": ci,
                     "tolerance_overrides": list(opts.tolerances)},
        "golden": {"samples": golden.samples, "labels": golden.labels is not None,
                   "source": (m.golden or {}).get("source"), "source_accuracy": ctx.source_acc},
        "warnings": _warnings(ctx, [r.device for r in runs], rows),
        "convert_warnings": list(m.warnings),
        "not_produced": [{"artifact": a.id, "reason": a.reason, "status": a.status} for a in ctx.selected if not a.ok],
        "summary": {**counts, "total": len(rows), "exit_code": EXIT_FAILED if bad else EXIT_OK,
                    "wall_s": wall, "timed_s": sum(r.timed_ms() for r in rows) / 1e3},
        "results": [r.to_dict() for r in rows],
    }


def validate(folder: Path | str, opts: ValidateOptions | None = None) -> dict[str, Any]:
    """Validate the convert output ``folder``; write the report and return it (report.json's content).

    Raises InputError/ManifestError (exit 2) only for what makes the whole run impossible: options,
    the manifest, artifact paths that leave the folder, golden data that does not fit the signature,
    a report folder that cannot take the reports.
    """
    from edgekit.devices import get_device
    from edgekit.report import write_reports

    t_start = time.perf_counter()
    opts = opts or ValidateOptions()
    src, overrides, selected, report_dir = _prepare(folder, opts)
    devices = _devices(opts, get_device)
    golden, text_rows = text_golden(src.folder, src.manifest, load_golden(src.folder, src.manifest),
                                    devices[0].name)  # a text model: tokenizer rows, tokenized strings (docs/text.md)
    m = src.manifest
    source_acc = accuracy(golden.reference[m.outputs[0].name], golden.labels) if (
        golden.labels is not None and m.outputs) else None
    ctx = RunContext(source=src, golden=golden, opts=opts, overrides=overrides, source_acc=source_acc,
                     selected=selected, recheck=Recheck.for_request(opts.baseline))
    rows, runs = _run_devices(ctx, devices)
    rows = text_rows + rows
    report = _report(ctx, runs, rows, time.perf_counter() - t_start)
    report["report_dir"] = str(report_dir)
    # A bad --baseline or gate is exit 2, raised only once every report file is written (docs/ci.md).
    baseline_error = apply_request(report, opts.baseline) if opts.baseline else None
    write_reports(report, report_dir, samples=[r.samples_ms for r in rows])
    from edgekit.ci_report import append_step_summary, write_junit

    if opts.junit is not None:
        write_junit(report, opts.junit)
    append_step_summary(report)
    if baseline_error is not None:
        raise baseline_error
    return report


callable_module(__name__)  # edgekit.validate(...) at the package root runs edgekit.api.validate
