"""Convert-time TF.js run check: one golden sample through TF.js in Node, compared with the source model.

tensorflowjs converts graphs that TF.js then cannot execute (a fusion or an op a backend lacks: "FusedConv2D
only supports rank-1 bias but got rank 4" on wasm, Keras 3's While/TensorList loop on every backend), so
convert used to say ``tfjs: ok`` and validate found out. Right after converting, this check runs the first
golden sample on TF.js's two Node backends in turn, wasm (what validate, the browser and the web bundle use)
and cpu, in one Node process (runner.js's ``check_backends`` job: one Node start per conversion), and records
the outcome in the artifact's typed ``run_check`` (docs/manifest.md):

* ``runnable``: both backends ran it and agree with the source model;
* ``partly-runnable``: one backend ran it; validate reports the other's rows from this record, never runs them;
* ``not-runnable``: neither ran it: the artifact's status becomes ``not-runnable`` (kept in the folder, never
  bundled, listed by validate with the reason), and convert exits 1 as for a failed format;
* ``mismatch``: it ran, but an output is grossly off (max |diff| > 10% of max(1, max |reference|)); the
  artifact stays ok and validate's tolerances judge it;
* ``skipped``: Node or the TF.js packages are not installed (or the run timed out): said so, with the hint.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, InputError, first_line
from edgekit.manifest import STATUS_NOT_RUNNABLE, Artifact, RunCheck

BACKENDS = ("wasm", "cpu")
RAN = "ran"
SKIPPED = "not checked"
GROSS = 0.1  # relative to max(1, max |reference|): float rounding and uint8 weights stay far below it
TIMEOUT_S = 120.0
# validate's runtimes that execute each backend's kernels (tfjs-browser-gpu runs WebGL/WebGPU: not checked).
RUNTIMES = {"wasm": ("tfjs-wasm", "tfjs-browser-wasm"), "cpu": ("tfjs-cpu",)}


def _diff(ctx: Any, outs: list[str], result: Any) -> tuple[float, bool] | None:
    """(max |TF.js - source|, whether it is gross) over the outputs for the checked sample; None without a
    reference. NaN or infinity in TF.js's output is gross."""
    reference = getattr(ctx, "reference", None) or {}
    worst, gross, seen = 0.0, False, False
    for spec, name in zip(ctx.outputs, outs, strict=False):
        if spec.name not in reference or name not in result.outputs:
            continue
        ref = np.asarray(reference[spec.name][:1], dtype=np.float64)
        got = np.asarray(result.outputs[name], dtype=np.float64)
        if got.size != ref.size:
            return np.inf, True
        d = float(np.max(np.abs(got.reshape(ref.shape) - ref), initial=0.0))
        seen, worst = True, max(worst, d) if np.isfinite(d) else np.inf
        gross = gross or not np.isfinite(d) or d > GROSS * max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    return (worst, gross) if seen else None


def check(ctx: Any, path: Path, art: Artifact, sample: dict[str, np.ndarray]) -> str:
    """Run the check on ``art`` (written at ``path``); set ``art.run_check`` (and its status when nothing runs
    it). Returns the ``extra["load_check"]`` line. Raises InputError when Node cannot even load the model."""
    from edgekit.runtimes.tfjs_node import TfjsNodeRunner, unavailable_reason

    t0 = time.perf_counter()
    why = unavailable_reason() or ("" if sample else "no golden sample to run")
    if why:
        art.run_check = RunCheck("skipped", reason=f"TF.js run check skipped: {why}")
        return f"skipped: {why}"
    names = art.io_names or {}
    ins, outs = list(names.get("inputs") or sample), list(names.get("outputs") or [])
    feeds = {k: v[:1] for k, v in sample.items()}
    try:  # runner.js exits 2 (InputError) when the model files cannot be loaded: the artifact is unusable
        results: dict[str, Any] = TfjsNodeRunner().check(path, feeds, ins, outs, BACKENDS, timeout=TIMEOUT_S)
    except InputError:
        raise
    except EdgekitError as e:  # Node crashed or timed out: no verdict on the artifact
        results = dict.fromkeys(BACKENDS, EdgekitError(f"{SKIPPED}: {first_line(e)}"))
    art.run_check = record(ctx, art, outs, results)
    art.run_check.seconds = round(time.perf_counter() - t0, 3)
    return _load_line(results)


def record(ctx: Any, art: Artifact, outs: list[str], results: dict[str, Any]) -> RunCheck:
    """The check's verdict from each backend's result (or error); sets the artifact's status when none ran it."""
    backends: dict[str, str] = {}
    diffs: list[tuple[float, bool] | None] = []
    for b, r in results.items():
        if isinstance(r, EdgekitError):
            timed_out = str(r).startswith(SKIPPED) or "deadline" in str(r)
            backends[b] = f"{SKIPPED}: {first_line(r)}" if timed_out else first_line(r)
        else:
            backends[b] = RAN
            diffs.append(_diff(ctx, outs, r))
    failed = {b: m for b, m in backends.items() if m != RAN and not m.startswith(SKIPPED)}
    known = [d for d in diffs if d is not None]
    diff = max((d[0] for d in known), default=None)
    rc = RunCheck("runnable", backends=backends, max_abs_diff=None if diff is None or not np.isfinite(diff) else diff)
    if not diffs and not failed:
        rc.status = "skipped"
        rc.reason = "TF.js run check skipped: " + "; ".join(f"{b}: {m}" for b, m in backends.items())
    elif not diffs:
        rc.status = "not-runnable"
        rc.reason = ("converted, but TF.js in Node cannot run one golden sample ("
                     + "; ".join(f"{b}: {m}" for b, m in failed.items()) + "); use the ONNX artifact "
                     "(onnxruntime-web) or the .tflite (LiteRT.js) in the browser")
        art.status, art.reason = STATUS_NOT_RUNNABLE, rc.reason
    elif any(d[1] for d in known):
        rc.status = "mismatch"
        rc.reason = (f"TF.js runs it but one golden sample's output is off by {diff:.3g} (over {GROSS:g} x "
                     "max(1, max |reference|)): validate's tolerances judge it")
        art.notes.append(rc.reason)
    elif failed:
        rc.status = "partly-runnable"
        rc.reason = "; ".join(f"TF.js's {b} backend cannot run it: {m}" for b, m in failed.items())
        art.notes.append(rc.reason)
    return rc


def _load_line(results: dict[str, Any]) -> str:
    parts = []
    for b in ("cpu", "wasm"):
        r = results[b]
        if isinstance(r, EdgekitError):
            parts.append(f"TF.js in Node ({b}): loaded; one inference failed ({first_line(r)})")
        else:
            parts.append(f"TF.js in Node ({b}): loaded in {r.load_ms:.0f} ms, one inference ran")
    return "; ".join(parts)


def known_failure(art: Artifact, runtime: str) -> str | None:
    """Why validate need not run ``art`` on ``runtime``: convert's check found that backend cannot run it."""
    rc = art.run_check
    if art.format != "tfjs" or rc is None:
        return None
    for b, runtimes in RUNTIMES.items():
        said = rc.backends.get(b)
        if runtime in runtimes and said and said != RAN and not said.startswith(SKIPPED):
            return f"not run: edgekit convert's TF.js check found the {b} backend cannot run it ({said})"
    return None
