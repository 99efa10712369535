"""``edgekit validate``: run every artifact of a convert output folder on every runtime, compare its
outputs with the source model's reference outputs, and measure its latency.

Needs nothing but the folder: no source model, and no TensorFlow in this process (a SavedModel is run
by a worker that imports TensorFlow on its own). Every artifact runs in its own worker process, so a
runtime that crashes on a corrupt file costs one row of the report, not the run.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__, manifest
from edgekit.bench import check_settings, thin
from edgekit.compare import accuracy, compare, degenerate_warnings, parse_overrides, policy_for
from edgekit.errors import EXIT_FAILED, EXIT_OK, InputError, ManifestError
from edgekit.protocol import BenchSettings, Job, default_timeout, load_npz
from edgekit.quant import dequantize, quant_params, quantize
from edgekit.runtimes import unavailable_reason

REPORT_SCHEMA = 1
STATUSES = ("pass", "fail", "error", "tampered", "unavailable")


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


@dataclass
class Golden:
    inputs: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    labels: np.ndarray | None
    inputs_path: Path
    samples: int


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
    if opts.timeout_s is not None and opts.timeout_s <= 0:
        raise InputError(f"--timeout must be positive. Received: timeout={opts.timeout_s}")


# ---------------------------------------------------------------------------------------------------------
# Golden data


def load_golden(folder: Path, m: manifest.Manifest) -> Golden:
    """Read and check the golden inputs, reference outputs and labels against the signature."""
    g = m.golden or {}
    if not g.get("inputs") or not g.get("outputs"):
        raise ManifestError("the manifest has no golden data (golden.inputs/outputs); re-run `edgekit convert`")
    hashes = g.get("sha256") or {}
    paths: dict[str, Path] = {}
    for key in ("inputs", "outputs", "labels"):
        rel = g.get(key)
        if not rel:
            continue
        p = manifest.safe_join(folder, rel)
        if not p.is_file():
            raise ManifestError(f"golden {key} file {rel!r} is missing from {folder}; re-run `edgekit convert`")
        want = hashes.get(rel)
        if want and manifest.sha256_file(p) != want:
            raise ManifestError(f"golden {key} file {rel!r} does not match its sha256 in the manifest: "
                                "it was modified after conversion; re-run `edgekit convert`")
        paths[key] = p
    try:
        inputs = load_npz(paths["inputs"])
        reference = load_npz(paths["outputs"])
        labels = np.load(paths["labels"], allow_pickle=False) if "labels" in paths else None
    except (OSError, ValueError) as e:
        raise InputError(f"golden data in {folder} cannot be read ({e}); re-run `edgekit convert`") from e

    counts = set()
    for spec in m.inputs:
        if spec.name not in inputs:
            raise InputError(f"golden inputs have no array {spec.name!r} (signature input); "
                             f"they have {sorted(inputs)}")
        _check_shape("golden input", spec, inputs[spec.name])
        counts.add(len(inputs[spec.name]))
    for spec in m.outputs:
        if spec.name not in reference:
            raise InputError(f"reference outputs have no array {spec.name!r} (signature output); "
                             f"they have {sorted(reference)}")
        _check_shape("reference output", spec, reference[spec.name])
        counts.add(len(reference[spec.name]))
    if labels is not None:
        counts.add(len(labels))
    if len(counts) != 1 or 0 in counts:
        raise InputError(f"golden inputs, reference outputs and labels disagree on the sample count: {sorted(counts)}")
    return Golden(inputs={s.name: inputs[s.name] for s in m.inputs},
                  reference={s.name: reference[s.name] for s in m.outputs},
                  labels=labels, inputs_path=paths["inputs"], samples=counts.pop())


def _check_shape(what: str, spec: manifest.TensorSpec, arr: np.ndarray) -> None:
    want = spec.shape
    ok = arr.ndim == len(want) and all(w is None or w == -1 or w == a for w, a in zip(want[1:], arr.shape[1:],
                                                                                      strict=True))
    if not ok:
        raise InputError(f"{what} {spec.name!r} has shape {list(arr.shape)}; the signature says {want} "
                         "(first axis: samples). Give golden data that matches the model")
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{what} {spec.name!r} has dtype {arr.dtype}; expected numbers ({spec.dtype})")


# ---------------------------------------------------------------------------------------------------------
# One row of the report


def _row(art: manifest.Artifact, runtime: str, device: str, status: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "artifact": art.id, "format": art.format, "variant": art.variant, "runtime": runtime, "device": device,
        "status": status, "reason": reason, "path": art.path, "bytes": art.bytes, "sha256": art.sha256,
        "parity": None, "accuracy": None, "latency_ms": None, "load_ms": None, "first_ms": None,
        "warmup": None, "infer_ms": None, "overhead_ms": None, "peak_rss_mb": None, "threads": None,
        "versions": {}, "notes": list(art.notes), "wall_s": None,
    }


def _verify(folder: Path, art: manifest.Artifact) -> tuple[Path | None, str | None, str | None]:
    """(path, status, reason): status is None when the artifact may run."""
    path = manifest.safe_join(folder, art.path)
    if not path.exists():
        return None, "error", f"artifact file {art.path!r} is missing from the folder"
    if not art.sha256:
        return None, "tampered", "the manifest records no sha256 for it, so it cannot be trusted"
    actual = manifest.sha256_path(path)
    if actual != art.sha256:
        return None, "tampered", f"sha256 {actual[:12]}... does not match the manifest's {art.sha256[:12]}..."
    return path, None, None


def _feeds_file(golden: Golden, art: manifest.Artifact, work: Path) -> Path:
    """The golden inputs in the artifact's own dtype (quantized with its recorded params)."""
    qin = quant_params(art, "inputs")
    if not qin:
        return golden.inputs_path
    feeds = {n: quantize(x, qin[n]) if n in qin else x for n, x in golden.inputs.items()}
    path = work / f"{art.id}.feeds.npz"
    np.savez(path, **feeds)
    return path


def _run_one(art: manifest.Artifact, path: Path, runtime: str, device: Any, golden: Golden,
             m: manifest.Manifest, opts: ValidateOptions, threads: int, overrides: list, work: Path,
             source_acc: float | None) -> dict[str, Any]:
    row = _row(art, runtime, device.name, "error")
    stem = work / f"{art.id}.{runtime}"
    job = Job(runtime=runtime, artifact=art.to_dict(), artifact_path=str(path),
              inputs=[vars(s) for s in m.inputs], outputs=[vars(s) for s in m.outputs],
              feeds_path=str(_feeds_file(golden, art, work)), outputs_path=f"{stem}.outputs.npz",
              result_path=f"{stem}.result.json", threads=threads, bench=opts.bench)
    timeout = opts.timeout_s or default_timeout(opts.bench, golden.samples)
    outcome = device.run(job, timeout)
    row["wall_s"] = outcome.wall_s
    if outcome.error and outcome.status:
        row["status"] = outcome.status  # e.g. unavailable: no GPU / no Edge TPU behind the library
    r = outcome.result
    if r is not None:
        row.update(latency_ms=r.latency or None, load_ms=r.load_ms, first_ms=r.first_ms, warmup=r.warmup or None,
                   infer_ms=r.infer_ms, peak_rss_mb=r.peak_rss_mb, threads=r.threads, versions=r.versions)
        row["notes"] += r.notes
        row["_samples_ms"] = thin(r.samples_ms)  # for the HTML plot; not written to report.json
        if r.infer_ms is not None and r.latency.get("p50") is not None:
            row["overhead_ms"] = r.infer_ms - r.latency["p50"]
    if outcome.error or r is None or not Path(job.outputs_path).is_file():
        row["reason"] = outcome.error or "the worker wrote no outputs"
        if outcome.stderr_tail:
            row["stderr_tail"] = outcome.stderr_tail[-5:]
        return row

    try:
        raw = load_npz(job.outputs_path)
    except (OSError, ValueError) as e:
        row["reason"] = f"the worker's outputs cannot be read ({e})"
        return row
    qout = quant_params(art, "outputs")
    cand = {n: dequantize(v, qout[n]) if n in qout else v for n, v in raw.items()}
    tol = policy_for(art.id, art.variant, overrides)
    parity = compare(golden.reference, cand, tol, resolution={n: q.scale for n, q in qout.items()})
    pd = parity.to_dict()
    if golden.labels is not None and m.outputs:
        first = m.outputs[0].name
        acc = accuracy(cand[first], golden.labels) if first in cand else None
        if acc is not None:
            delta = None if source_acc is None else acc - source_acc
            row["accuracy"] = {"value": acc, "source": source_acc, "delta": delta}
            if tol.max_accuracy_drop is not None and delta is not None and -delta > tol.max_accuracy_drop:
                parity.failures.append(f"accuracy drop {-delta:.4g} exceeds {tol.max_accuracy_drop:g}")
                pd = parity.to_dict()
    row["parity"] = pd
    row["status"] = "pass" if parity.passed else "fail"
    row["reason"] = None if parity.passed else "; ".join(parity.failures)
    return row


def _timed_ms(row: dict[str, Any]) -> float:
    """Milliseconds spent inside the timed loops (warm-up and steady state) of one row."""
    lat, warm = row["latency_ms"] or {}, row["warmup"] or {}
    return lat.get("count", 0) * lat.get("mean", 0.0) + warm.get("count", 0) * (warm.get("mean_ms") or 0.0)


def _devices(opts: ValidateOptions, get_device: Any) -> list[Any]:
    specs = list(dict.fromkeys(opts.devices or [opts.device]))
    devices = [get_device(s, accept_new_host_key=opts.accept_new_host_key, delegate=opts.delegate) for s in specs]
    names = [d.name for d in devices]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"--device: two devices are both named {dupes[0]!r} (the profile's file name or the host); "
                         "rename one profile file so the report columns can tell them apart")
    return devices


def _validate_on(device: Any, selected: list[manifest.Artifact], folder: Path, golden: Golden, m: manifest.Manifest,
                 opts: ValidateOptions, threads: int, overrides: list, work: Path, source_acc: float | None,
                 skipped: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Every selected artifact on every runtime ``device`` runs for its format, one job at a time."""
    rows: list[dict[str, Any]] = []
    for art in selected:
        if not art.ok:
            continue
        runtimes = device.runtimes(art.format)
        if runtimes is None:
            skipped.append({"artifact": art.id, "reason": f"{device.name} ({device.kind}) does not run the "
                                                           f"{art.format} format"})
            continue
        if not runtimes:
            rows.append(_row(art, "none", device.name, "unavailable",
                             f"no runtime in edgekit runs the {art.format!r} format yet"))
            continue
        path, status, reason = _verify(folder, art)
        for runtime in runtimes:
            if status is not None:
                rows.append(_row(art, runtime, device.name, status, reason))
                continue
            # The runtime library must be importable here when the job runs on this machine (not on a board).
            missing = (unavailable_reason(runtime) if device.local else None) or device.unavailable_reason(runtime)
            if missing:
                rows.append(_row(art, runtime, device.name, "unavailable", missing))
                continue
            row = _run_one(art, path, runtime, device, golden, m, opts, threads, overrides, work, source_acc)
            row["notes"] = device.preflight(art) + row["notes"]
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------------
# The whole run


def validate(folder: Path | str, opts: ValidateOptions | None = None) -> dict[str, Any]:
    """Validate the convert output ``folder``; write the report and return it (report.json's content).

    Raises InputError/ManifestError (exit 2) only for what makes the whole run impossible: options,
    the manifest, artifact paths that leave the folder, golden data that does not fit the signature.
    """
    from edgekit.devices import get_device
    from edgekit.report import write_reports

    t_start = time.perf_counter()
    opts = opts or ValidateOptions()
    check_options(opts)
    overrides = parse_overrides(opts.tolerances)
    folder = Path(folder)
    m = manifest.load(folder)
    devices = _devices(opts, get_device)
    ci = opts.ci if opts.ci is not None else os.environ.get("CI", "").lower() in ("1", "true", "yes")

    selected = list(m.artifacts)
    if opts.artifacts:
        selected = [m.artifact(i) for i in dict.fromkeys(opts.artifacts)]  # unknown id -> ManifestError
    # Refuse a manifest that points outside the folder before anything runs.
    for art in selected:
        manifest.safe_join(folder, art.path)
    golden = load_golden(folder, m)
    # Validate's own warnings are printed loudly; convert's are kept in the report as they were written.
    warnings = degenerate_warnings(golden.reference)
    if (m.golden or {}).get("random"):
        warnings.append("golden inputs are random noise: parity on noise is weaker evidence than on real "
                        "inputs; re-run `edgekit convert --golden DATA`")
    source_acc = accuracy(golden.reference[m.outputs[0].name], golden.labels) if (
        golden.labels is not None and m.outputs) else None

    not_produced = [{"artifact": a.id, "reason": a.reason} for a in selected if not a.ok]
    skipped: dict[str, list[dict[str, str]]] = {d.name: [] for d in devices}
    with tempfile.TemporaryDirectory(prefix="edgekit-validate-") as tmp:
        def one_device(i: int, device: Any) -> list[dict[str, Any]]:
            work = Path(tmp) / f"d{i}"
            work.mkdir()
            threads = opts.threads or device.threads or _default_threads()
            return _validate_on(device, selected, folder, golden, m, opts, threads, overrides, work, source_acc,
                                skipped[device.name])

        if len(devices) == 1:
            per_device = [one_device(0, devices[0])]
        else:
            # Devices are independent machines: validate them at the same time (each runs its jobs in turn).
            with ThreadPoolExecutor(max_workers=len(devices), thread_name_prefix="edgekit-device") as ex:
                per_device = list(ex.map(one_device, range(len(devices)), devices))
    rows = [r for rs in per_device for r in rs]
    threads = opts.threads or devices[0].threads or _default_threads()
    for d in devices:
        if not any(r["device"] == d.name for r in rows):
            warnings.append(f"device {d.name} ran nothing: it runs none of the selected artifacts' formats "
                            f"({', '.join(sorted({a.format for a in selected if a.ok})) or 'none produced'})")

    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    bad = counts["fail"] + counts["error"] + counts["tampered"] + (counts["unavailable"] if ci else 0)
    wall = time.perf_counter() - t_start
    timed = sum(_timed_ms(r) for r in rows)
    described = [{**d.describe(), "skipped": skipped[d.name]} for d in devices]
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "tool": "edgekit validate",
        "edgekit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "folder": str(folder.resolve()),
        "model": m.source,
        "device": described[0],  # the first device (report schema 1); all of them under "devices"
        "devices": described,
        "settings": {"threads": threads, "runs": opts.bench.runs, "warmup": opts.bench.warmup,
                     "min_time": opts.bench.min_time, "max_time": opts.bench.max_time,
                     "warmup_min_time": opts.bench.warmup_min_time, "ci": ci,
                     "tolerance_overrides": list(opts.tolerances)},
        "golden": {"samples": golden.samples, "labels": golden.labels is not None,
                   "source": (m.golden or {}).get("source"), "source_accuracy": source_acc},
        "warnings": warnings,
        "convert_warnings": list(m.warnings),
        "not_produced": not_produced,
        "summary": {**counts, "total": len(rows), "exit_code": EXIT_FAILED if bad else EXIT_OK,
                    "wall_s": wall, "timed_s": timed / 1e3},
        "results": rows,
    }
    report_dir = opts.report_dir or folder / "report"
    report["report_dir"] = str(report_dir)
    write_reports(report, report_dir)
    return report
