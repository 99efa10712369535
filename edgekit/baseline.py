"""Baselines and regression gates: compare a validation report with an earlier, accepted one (docs/ci.md).

Rows are matched by artifact x runtime x device. Per matched row: the size delta, the accuracy and parity
deltas, the p50 latency ratio with a bootstrap confidence interval, and a verdict. A row is ``regressed``
when it grew, lost accuracy or slowed beyond a gate (``Gates``); latency only when the slowdown is beyond
the gate *and* significant (the whole confidence interval of the p50 ratio lies above ``1 + gate``) *and*
the fastest run slowed beyond the gate too: a busy machine moves a run's median, a model that computes
more moves its fastest run as well (measurements and reasons: docs/ci.md).

numpy and pydantic only: used by ``edgekit validate --baseline`` and ``edgekit compare``, never runs a model.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekit import schemas
from edgekit.errors import EXIT_FAILED, InputError

SUPPORTED_SCHEMAS = (1,)
RESAMPLES = 1000  # bootstrap resamples per row: ~0.1 s for 1000 x 1000 samples; bounds stable to ~0.5%
SEED = 0  # fixed: the same two reports always get the same verdict
MACHINE_KEYS = ("cpu", "machine", "cores", "usable_cores")  # what makes two latency figures comparable


@dataclass(frozen=True)
class BaselineRequest:
    """``validate --baseline``'s options as given: checked after the run, so a bad one still leaves a report."""

    path: Path
    max_latency_regression: str = "10%"
    max_size_growth: str = "5%"
    max_accuracy_drop: str = "0.5"
    any_machine: bool = False


@dataclass(frozen=True)
class Gates:
    """Regression thresholds, as fractions (defaults and their reasons: docs/ci.md)."""

    max_latency_regression: float = 0.10
    max_size_growth: float = 0.05
    max_accuracy_drop: float = 0.005  # 0.5 percentage points
    any_machine: bool = False  # compare latency even when the machine fingerprints differ
    confidence: float = 0.95

    @classmethod
    def parse(cls, latency: str = "10%", size: str = "5%", accuracy: str = "0.5", any_machine: bool = False) -> Gates:
        return cls(max_latency_regression=parse_threshold(latency, "--max-latency-regression", "%"),
                   max_size_growth=parse_threshold(size, "--max-size-growth", "%"),
                   max_accuracy_drop=parse_threshold(accuracy, "--max-accuracy-drop", "pt"),
                   any_machine=any_machine)


_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%|pt)?\s*$")


def parse_threshold(text: str, option: str, unit: str) -> float:
    """"10%" / "10" (percent) or "0.5" / "0.5pt" (accuracy points) as a fraction: 0.10, 0.005."""
    m = _NUMBER.match(str(text))
    if not m or (m.group(2) and m.group(2) != unit):
        shape = "a percentage such as 10% or 2.5" if unit == "%" else "percentage points such as 0.5 or 0.5pt"
        raise InputError(f"{option} must be {shape} (0 or more). Received: {text!r}")
    value = float(m.group(1))
    if not math.isfinite(value) or value > (1000 if unit == "%" else 100):
        raise InputError(f"{option} must be a finite number of {'percent' if unit == '%' else 'points'} "
                         f"(at most {'1000' if unit == '%' else '100'}). Received: {text!r}")
    return value / 100


# ---------------------------------------------------------------------------------------------------------
# Reading a baseline


class _BaselineRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    artifact: str
    runtime: str
    device: str
    status: str
    bytes: int | None = None
    accuracy: dict[str, float | None] | None = None
    latency_ms: dict[str, float] | None = None
    latency_samples_ms: list[float] | None = None


class _BaselineReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    schema_: int = Field(alias="schema")
    tool: str
    results: list[_BaselineRow]


def find_report(path: Path | str, option: str = "--baseline") -> Path:
    """``path`` itself, or the report.json in the folder it names (FOLDER/report.json, FOLDER/report/report.json)."""
    p = Path(path)
    if p.is_dir():
        found = [c for c in (p / "report.json", p / "report" / "report.json") if c.is_file()]
        if not found:
            raise InputError(f"{option} {p} is a folder without report.json (nor report/report.json); give the "
                             "report.json of an earlier `edgekit validate` or the folder that holds it")
        return found[0]
    if not p.is_file():
        raise InputError(f"{option} {p} does not exist; give the report.json of an earlier `edgekit validate`")
    return p


def load_report(path: Path | str, option: str = "--baseline") -> dict[str, Any]:
    """A report.json of a known schema, as a dict; anything else is one InputError line."""
    p = find_report(path, option)
    data = schemas.read_json(p, f"{option} {p}")
    if not isinstance(data, dict) or data.get("tool") != "edgekit validate" or "results" not in data:
        raise InputError(f"{option} {p} is not a report of `edgekit validate` (no \"tool\": \"edgekit validate\" "
                         "with \"results\"); give the report.json that validate wrote")
    if data.get("schema") not in SUPPORTED_SCHEMAS:
        raise InputError(f"{option} {p} is report schema {data.get('schema')!r}; this edgekit reads schema "
                         f"{', '.join(map(str, SUPPORTED_SCHEMAS))}. Validate the baseline again with this edgekit")
    schemas.validate(_BaselineReport, data, f"{option} {p}")
    return data


# ---------------------------------------------------------------------------------------------------------
# Latency statistics


def p50_ratio_ci(old: list[float], new: list[float], confidence: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = SEED) -> tuple[float, float, float]:
    """(ratio, low, high): median(new) / median(old) and its percentile-bootstrap confidence interval.

    Each resample draws both sample sets with replacement (they are independent runs); the interval is the
    central ``confidence`` share of the resampled ratios. Medians are floored at 1 ns (no division by 0)."""
    a, b = np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64)
    floor = 1e-6
    ratio = max(float(np.median(b)), floor) / max(float(np.median(a)), floor)
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, a.size, (resamples, a.size))], axis=1)
    mb = np.median(b[rng.integers(0, b.size, (resamples, b.size))], axis=1)
    ratios = np.maximum(mb, floor) / np.maximum(ma, floor)
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return ratio, float(low), float(high)


def spread(samples: list[float]) -> float:
    """A run's own noise: its interquartile range relative to its median. A runtime whose middle half of runs
    spans 40% of the median cannot place that median within 10% from one run to the next."""
    q25, q50, q75 = np.quantile(np.asarray(samples, dtype=np.float64), [0.25, 0.5, 0.75])
    return float((q75 - q25) / max(q50, 1e-6))


def same_machine(old_env: dict[str, Any] | None, new_env: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether two device fingerprints describe the same kind of machine, and what differs."""
    old_env, new_env = old_env or {}, new_env or {}
    diff = [f"{k} {old_env.get(k)!r} vs {new_env.get(k)!r}" for k in MACHINE_KEYS if old_env.get(k) != new_env.get(k)]
    return not diff, "; ".join(diff)


def environments(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    devices = report.get("devices") or [report.get("device") or {}]
    return {d.get("name"): d.get("environment") or {} for d in devices}


# ---------------------------------------------------------------------------------------------------------
# Row comparison


def _pct(old: float, new: float) -> float | None:
    return None if not old else (new - old) / old


def _parity_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """Worst-output parity figures, old vs new (informational: parity has its own gate, the tolerance policy)."""
    def worst(r: dict[str, Any], key: str, pick: Any) -> float | None:
        vals = [o[key] for o in ((r.get("parity") or {}).get("outputs") or {}).values() if o.get(key) is not None]
        return pick(vals) if vals else None

    out = {}
    for key, pick in (("max_abs", max), ("sqnr_db", min), ("top1", min), ("cosine", min)):
        a, b = worst(old, key, pick), worst(new, key, pick)
        if a is not None and b is not None:
            out[key] = {"old": a, "new": b, "delta": b - a}
    return out or None


def latency_delta(old: dict[str, Any], new: dict[str, Any], gates: Gates, machine_note: str | None) -> dict[str, Any]:
    """The latency comparison of one row: p50s, ratio, its CI, and whether it counts as a regression."""
    op50, np50 = (old.get("latency_ms") or {}).get("p50"), (new.get("latency_ms") or {}).get("p50")
    out: dict[str, Any] = {"old_p50": op50, "new_p50": np50, "ratio": None, "ci": None,
                           "confidence": gates.confidence, "min_ratio": None, "noise": None, "limit": None,
                           "compared": False, "regressed": False, "improved": False, "note": None}
    if op50 is None or np50 is None:
        out["note"] = "no latency in " + ("both reports" if op50 is None and np50 is None else
                                          "the baseline" if op50 is None else "this run")
        return out
    if machine_note and not gates.any_machine:
        out["note"] = f"not compared: measured on another machine ({machine_note}); --baseline-any-machine compares it"
        return out
    a, b = old.get("latency_samples_ms"), new.get("latency_samples_ms")
    if not a or not b:
        which = "the baseline" if not a else "this run"
        out["note"] = (f"not compared: {which} has no latency samples (a report written before edgekit kept them); "
                       "validate the accepted model again with this edgekit to make a new baseline")
        return out
    ratio, low, high = p50_ratio_ci(a, b, gates.confidence)
    omin, nmin = (old.get("latency_ms") or {}).get("min"), (new.get("latency_ms") or {}).get("min")
    min_ratio = nmin / max(omin, 1e-6) if omin is not None and nmin is not None else ratio
    noise = max(spread(a), spread(b))
    limit = 1 + max(gates.max_latency_regression, noise)
    out.update(ratio=ratio, ci=[low, high], min_ratio=min_ratio, noise=noise, limit=limit, compared=True,
               regressed=ratio > limit and low > limit and min_ratio > limit,
               improved=ratio < 1 / limit and high < 1 / limit and min_ratio < 1 / limit)
    if ratio > limit and low > limit and not min_ratio > limit:
        out["note"] = (f"p50 x{ratio:.2f} but the fastest run only x{min_ratio:.2f} (limit x{limit:.2f}): the machine "
                       "was busier, the model did not compute more; not called")
    if machine_note:
        across = f"compared across machines (--baseline-any-machine): {machine_note}"
        out["note"] = f"{out['note']}; {across}" if out["note"] else across
    return out


def compare_rows(old: dict[str, Any], new: dict[str, Any], gates: Gates, machine_note: str | None = None) -> dict:
    """The ``baseline`` entry of one new row against its baseline row: deltas, reasons, verdict."""
    reasons: list[str] = []
    size = None
    if old.get("bytes") and new.get("bytes") is not None:
        size = {"old": old["bytes"], "new": new["bytes"], "delta": new["bytes"] - old["bytes"],
                "growth": _pct(old["bytes"], new["bytes"])}
        if size["growth"] > gates.max_size_growth:
            reasons.append(f"size grew {size['growth']:.1%} ({old['bytes']} -> {new['bytes']} bytes), "
                           f"more than {gates.max_size_growth:.1%}")
    acc = None
    oa, na = (old.get("accuracy") or {}).get("value"), (new.get("accuracy") or {}).get("value")
    if oa is not None and na is not None:
        acc = {"old": oa, "new": na, "delta": na - oa}
        if oa - na > gates.max_accuracy_drop + 1e-12:
            reasons.append(f"accuracy dropped {100 * (oa - na):.2f} points ({oa:.4f} -> {na:.4f}), more than "
                           f"{100 * gates.max_accuracy_drop:.2f}")
    lat = latency_delta(old, new, gates, machine_note)
    if lat["regressed"]:
        low, high = lat["ci"]
        noisy = f" (the runs' own noise: {lat['noise']:.0%})" if lat["limit"] > 1 + gates.max_latency_regression else ""
        reasons.append(f"p50 latency x{lat['ratio']:.3f} ({lat['old_p50']:.4g} -> {lat['new_p50']:.4g} ms, "
                       f"{gates.confidence:.0%} CI x{low:.3f}..x{high:.3f}), beyond +{lat['limit'] - 1:.0%}{noisy}")
    improved = lat["improved"] or (size is not None and size["growth"] < -gates.max_size_growth)
    verdict = "regressed" if reasons else "improved" if improved else "ok"
    return {"verdict": verdict, "reasons": reasons, "baseline_status": old.get("status"), "size": size,
            "accuracy": acc, "parity": _parity_delta(old, new), "latency": lat}


def row_key(r: dict[str, Any]) -> tuple[str, str, str]:
    return r["artifact"], r["runtime"], r["device"]


def compare_reports(old: dict[str, Any], new: dict[str, Any], gates: Gates, where: str = "--baseline"
                    ) -> tuple[dict[str, Any], dict[tuple[str, str, str], dict[str, Any]]]:
    """(the report's ``baseline`` section, the ``baseline`` entry of each matched new row by key).

    Raises InputError when no row is in common (the baseline is of another model or selection)."""
    old_rows = {row_key(r): r for r in old["results"]}
    common = [r for r in new["results"] if row_key(r) in old_rows]
    if not common:
        theirs = ", ".join(sorted({"/".join(k) for k in old_rows})[:6]) or "none"
        raise InputError(f"{where}: no artifact x runtime x device row in common with this run (baseline rows: "
                         f"{theirs}); give the baseline of the same model, artifacts and devices")
    old_env, new_env = environments(old), environments(new)
    machines: dict[str, dict[str, Any]] = {}
    entries = {}
    for r in common:
        same, diff = same_machine(old_env.get(r["device"]), new_env.get(r["device"]))
        machines[r["device"]] = {"same_machine": same, "differences": diff or None}
        entries[row_key(r)] = compare_rows(old_rows[row_key(r)], r, gates, None if same else diff)
    counts = {v: sum(e["verdict"] == v for e in entries.values()) for v in ("regressed", "improved", "ok")}
    lat_note = _latency_note(machines, gates, entries)
    new_keys = {row_key(r) for r in new["results"]}
    section = {
        "created": old.get("created"), "edgekit_version": old.get("edgekit_version"), "folder": old.get("folder"),
        "gates": asdict(gates), "method": f"percentile bootstrap of the p50 ratio, {RESAMPLES} resamples, seed {SEED}",
        "machines": machines, "latency": lat_note,
        "summary": {**counts, "compared": len(entries), "new": len(new["results"]) - len(common),
                    "missing": len(old_rows.keys() - new_keys)},
        "missing": sorted("/".join(k) for k in old_rows.keys() - new_keys),
    }
    return section, entries


def _latency_note(machines: dict[str, dict[str, Any]], gates: Gates, entries: dict[Any, dict[str, Any]]) -> str:
    """One sentence for the report: was latency compared, and on what grounds."""
    other = {d: m["differences"] for d, m in machines.items() if not m["same_machine"]}
    if other and not gates.any_machine:
        return ("latency NOT compared for " + ", ".join(other) + ": the baseline was measured on another machine ("
                + "; ".join(other.values()) + "); pass --baseline-any-machine to compare it anyway")
    if other:
        return "latency compared across different machines (--baseline-any-machine): " + "; ".join(other.values())
    if not any(e["latency"]["compared"] for e in entries.values()):
        notes = {e["latency"]["note"] for e in entries.values() if e["latency"]["note"]}
        return "latency not compared: " + ("; ".join(sorted(notes)) or "no latency measured")
    return "latency compared on the same machine"


def apply(report: dict[str, Any], old: dict[str, Any], gates: Gates, source: str = "") -> dict[str, Any]:
    """Add the comparison with ``old`` to ``report`` (in place): a ``baseline`` section, a ``baseline`` entry per
    matched row, ``regressed`` rows (a passing row beyond a gate) and the exit code. Returns the section."""
    section, entries = compare_reports(old, report, gates)
    section["path"] = source
    summary = report["summary"]
    for r in report["results"]:  # a report judged before (compare NEW): judge it afresh
        if r["status"] == "regressed":
            r["status"], r["reason"] = "pass", None
            summary["pass"], summary["regressed"] = summary["pass"] + 1, summary["regressed"] - 1
    for r in report["results"]:
        entry = entries.get(row_key(r))
        if entry is None:
            r["baseline"] = {"verdict": "new", "reasons": []}
            continue
        r["baseline"] = entry
        if entry["verdict"] == "regressed" and r["status"] == "pass":
            r["status"], r["reason"] = "regressed", "; ".join(entry["reasons"])
            summary["pass"] -= 1
            summary["regressed"] = summary.get("regressed", 0) + 1
    if section["summary"]["regressed"]:
        summary["exit_code"] = max(summary["exit_code"], EXIT_FAILED)
    report["baseline"] = section
    return section


def apply_request(report: dict[str, Any], req: BaselineRequest | Path | str) -> InputError | None:
    """``apply`` for validate: a bad baseline or threshold is recorded in the report and returned (not raised),
    so validate writes the report first and exits 2 after. A bare path means the default gates."""
    req = req if isinstance(req, BaselineRequest) else BaselineRequest(Path(req))
    try:
        gates = Gates.parse(req.max_latency_regression, req.max_size_growth, req.max_accuracy_drop, req.any_machine)
        path = find_report(req.path)
        apply(report, load_report(path), gates, str(path))
    except InputError as e:
        report["baseline"] = {"path": str(req.path), "error": str(e)}
        report["warnings"].append(f"not compared with the baseline: {e}")
        return e
    return None

