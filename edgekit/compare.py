"""Reference vs candidate outputs: per-output metrics and a pass/fail verdict by tolerance policy.

numpy only. Each default tolerance carries its reason next to it; every bound can be overridden with
``--tol [SCOPE.]KEY=VALUE`` where SCOPE is an artifact id or a variant (see :func:`parse_overrides`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from edgekit.errors import InputError

# SQNR is reported in dB; bit-identical outputs have no noise at all. JSON has no infinity, so exact
# agreement is written as this cap (float64 round-off alone sits far below it).
SQNR_EXACT_DB = 300.0


@dataclass(frozen=True)
class Tolerance:
    """Bounds checked for each output. ``None`` means the metric is reported but not checked."""

    atol: float | None = None  # every element: |cand - ref| <= atol + rtol * |ref|
    rtol: float | None = None
    min_cosine: float | None = None  # worst per-sample cosine similarity
    min_sqnr_db: float | None = None  # signal-to-quantization-noise ratio over the whole output
    min_top1: float | None = None  # share of samples whose argmax agrees (class-score outputs only)
    # A sample whose reference top-1/top-2 gap is below this share of its score spread (max - min) is a
    # near-tie: the source model itself has not decided, so it does not count for the top-1 check.
    # Gaps below two quantization steps of an int8 output are near-ties too (they cannot be resolved).
    top1_margin: float | None = None
    max_accuracy_drop: float | None = None  # source accuracy - artifact accuracy, when labels exist

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


DEFAULT_POLICY: dict[str, Tolerance] = {
    # float32: the same math in the same precision; only op fusion and accumulation order differ, which
    # moves softmax/logit outputs by ~1e-6. 1e-4 + 1e-3*|ref| leaves room for deep nets and still
    # fails any wrong weight or op.
    "float32": Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999),
    # float16: weights are rounded to 11 significant bits (relative error up to ~4.9e-4 each) and that
    # error adds up across layers; CPU kernels still compute in float32. On a 50-layer MobileNetV2 the
    # softmax of a near-tie sample moved by 4.7e-3 (digits recipe), so the element bound is 2e-2 absolute /
    # 1e-2 relative; overall closeness is held by SQNR >= 40 dB (noise at 1% of the signal; fp16 measured
    # 84 dB on the digits CNN) and a direction change (cosine < 0.999) is a real bug.
    "float16": Tolerance(atol=2e-2, rtol=1e-2, min_cosine=0.999, min_sqnr_db=40.0),
    # dynamic range: int8 weights and activations quantized on the fly per batch. Element-wise bounds
    # are meaningless here; what matters is the decision (top-1) and the overall noise level. 20 dB
    # SQNR is noise at 10% of the signal amplitude.
    # Near-ties (gap < 2% of the sample's score spread) are excluded: activations quantized on the fly
    # reorder them and nothing is wrong with the model.
    "dynamic": Tolerance(min_sqnr_db=20.0, min_top1=0.95, top1_margin=0.02),
    # full int8: every activation and the I/O are 8-bit (1/256 of the range at best), and calibration
    # only sees a sample. Task-level: 90% top-1 agreement and 12 dB SQNR (noise at a quarter of the
    # signal amplitude) are what a calibrated compact net reaches; lower means calibration went wrong.
    # Near-ties: gap < 5% of the score spread, or below two steps of the 8-bit output.
    "int8": Tolerance(min_sqnr_db=12.0, min_top1=0.90, top1_margin=0.05),
    # int16 activations x int8 weights: 256x finer activations than int8, the weights' rounding remains:
    # between dynamic-range and int8 (issue 11).
    "int16x8": Tolerance(min_sqnr_db=20.0, min_top1=0.95, top1_margin=0.02),
}
# Formats without a variant of their own (saved_model, tfjs, onnx) are float32 unless told otherwise.
FALLBACK_VARIANT = "float32"

_KEYS = {f.name for f in fields(Tolerance)}
# The values a bound can take: beyond these it can never pass (or never fail), which is a typo, not a policy.
RANGES: dict[str, tuple[float, float]] = {
    "atol": (0.0, math.inf), "rtol": (0.0, math.inf), "min_cosine": (-1.0, 1.0),
    "min_sqnr_db": (-SQNR_EXACT_DB, SQNR_EXACT_DB), "min_top1": (0.0, 1.0), "top1_margin": (0.0, 1.0),
    "max_accuracy_drop": (0.0, 1.0),
}
Override = tuple[str | None, str, float | None]


def parse_overrides(items: list[str] | None) -> list[tuple[str | None, str, float | None]]:
    """``["atol=1e-3", "tflite-int8.min_top1=0.8", "float16.rtol=none"]`` -> (scope, key, value)."""
    out: list[tuple[str | None, str, float | None]] = []
    for item in items or []:
        lhs, sep, rhs = item.partition("=")
        if not sep or not lhs or not rhs:
            raise InputError(f"--tol wants [SCOPE.]KEY=VALUE, e.g. tflite-int8.min_top1=0.8. Received: {item!r}")
        scope, _, key = lhs.rpartition(".")
        if key not in _KEYS:
            raise InputError(f"--tol key {key!r} is not one of {', '.join(sorted(_KEYS))}. Received: {item!r}")
        if rhs.strip().lower() in ("none", "off"):
            value = None
        else:
            try:
                value = float(rhs)
            except ValueError:
                raise InputError(f"--tol value must be a number or 'none'. Received: {item!r}") from None
            if not math.isfinite(value):
                raise InputError(f"--tol value must be finite. Received: {item!r}")
            low, high = RANGES[key]
            if not low <= value <= high:
                raise InputError(f"--tol {key} must be between {low:g} and {high:g}. Received: {item!r}")
        out.append((scope or None, key, value))
    return out


def check_scopes(overrides: list[Override], artifact_ids: list[str], variants: list[str]) -> None:
    """Refuse an override whose scope names no artifact id and no variant: it would be silently ignored."""
    valid = list(dict.fromkeys([*artifact_ids, *variants, *DEFAULT_POLICY]))
    for scope, key, _ in overrides:
        if scope is not None and scope not in valid:
            raise InputError(f"--tol scope {scope!r} matches no artifact id or variant in this folder; valid "
                             f"scopes: {', '.join(valid)} (or none, for every artifact). Received: {scope}.{key}")


def policy_for(
    artifact_id: str, variant: str, overrides: list[tuple[str | None, str, float | None]] | None = None
) -> Tolerance:
    """The default tolerance for ``variant``, then global, variant and artifact overrides in that order."""
    tol = DEFAULT_POLICY.get(variant, DEFAULT_POLICY[FALLBACK_VARIANT])
    for rank in (None, variant, artifact_id):  # more specific scopes win
        for scope, key, value in overrides or []:
            if scope == rank:
                tol = replace(tol, **{key: value})
    return tol


# ---------------------------------------------------------------------------------------------------------
# Metrics


def looks_like_classes(ref: np.ndarray) -> bool:
    """Class scores: one row of C > 1 scores per sample."""
    return ref.ndim == 2 and ref.shape[1] > 1


def output_metrics(ref: np.ndarray, cand: np.ndarray, tie_rel: float | None = None,
                   tie_abs: float = 0.0) -> dict[str, Any]:
    """max_abs, mean_abs, p99_abs, max_rel, cosine (worst sample), sqnr_db; for class scores top1 (all
    samples) and top1_decisive over the ``decisive`` samples whose reference top-1/top-2 gap is at least
    ``tie_rel`` of their score spread and at least ``tie_abs``."""
    r = np.asarray(ref, dtype=np.float64)
    c = np.asarray(cand, dtype=np.float64)
    m: dict[str, Any] = {"shape": list(c.shape), "reference_shape": list(r.shape)}
    if r.shape != c.shape:
        return m
    finite = bool(np.isfinite(c).all())
    m["finite"] = finite
    if not finite or r.size == 0:
        return m
    d = np.abs(c - r)
    # Relative error floored at 1e-3 of the output's largest magnitude: near-zero elements (most of a
    # softmax) would otherwise turn 1e-9 differences into huge ratios.
    floor = max(1e-3 * float(np.abs(r).max()), 1e-12)
    m["max_abs"] = float(d.max())
    m["mean_abs"] = float(d.mean())
    m["p99_abs"] = float(np.percentile(d, 99))
    m["max_rel"] = float((d / np.maximum(np.abs(r), floor)).max())
    rs, cs = r.reshape(len(r), -1), c.reshape(len(c), -1)
    nr, nc = np.linalg.norm(rs, axis=1), np.linalg.norm(cs, axis=1)
    both_zero = (nr == 0) & (nc == 0)
    cos = np.where(both_zero, 1.0, (rs * cs).sum(axis=1) / np.maximum(nr * nc, 1e-300))
    m["cosine"] = float(cos.min())
    noise = float((d**2).sum())
    signal = float((r**2).sum())
    sqnr = SQNR_EXACT_DB if noise == 0 else 10 * np.log10(max(signal, 1e-300) / noise)
    m["sqnr_db"] = float(min(SQNR_EXACT_DB, sqnr))
    if looks_like_classes(r):
        agree = r.argmax(axis=1) == c.argmax(axis=1)
        m["top1"] = float(agree.mean())
        top2 = np.sort(r, axis=1)[:, -2:]
        gap = top2[:, 1] - top2[:, 0]
        decisive = (gap >= (tie_rel or 0.0) * np.ptp(r, axis=1)) & (gap >= tie_abs)
        if tie_rel is None and tie_abs == 0.0:
            decisive[:] = True
        m["decisive"] = int(decisive.sum())
        m["top1_decisive"] = float(agree[decisive].mean()) if decisive.any() else None
    return m


def _checks(m: dict[str, Any], ref: np.ndarray, cand: np.ndarray, tol: Tolerance) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    if m["shape"] != m["reference_shape"]:
        return [{"metric": "shape", "value": m["shape"], "bound": m["reference_shape"], "ok": False}]
    if not m.get("finite", True):
        return [{"metric": "finite", "value": False, "bound": True, "ok": False}]
    if tol.atol is not None or tol.rtol is not None:
        atol, rtol = tol.atol or 0.0, tol.rtol or 0.0
        excess = np.abs(cand.astype(np.float64) - ref) - rtol * np.abs(ref.astype(np.float64))
        worst = float(excess.max()) if excess.size else 0.0
        checks.append({"metric": "allclose", "value": worst, "bound": atol, "ok": worst <= atol,
                       "detail": f"max(|d| - {rtol:g}*|ref|) = {worst:.3g} vs atol {atol:g}"})
    if tol.min_cosine is not None:
        checks.append({"metric": "cosine", "value": m["cosine"], "bound": tol.min_cosine,
                       "ok": m["cosine"] >= tol.min_cosine})
    if tol.min_sqnr_db is not None:
        checks.append({"metric": "sqnr_db", "value": m["sqnr_db"], "bound": tol.min_sqnr_db,
                       "ok": m["sqnr_db"] >= tol.min_sqnr_db})
    if tol.min_top1 is not None and "top1" in m:
        value = m["top1_decisive"]
        if value is None:  # every sample a near-tie: no decision to agree on; SQNR still checks the values
            checks.append({"metric": "top1", "value": None, "bound": tol.min_top1, "ok": True,
                           "detail": "every golden sample is a near-tie in the reference; not checked"})
        else:
            checks.append({"metric": "top1", "value": value, "bound": tol.min_top1, "ok": value >= tol.min_top1,
                           "detail": f"on {m['decisive']} of {m['shape'][0]} samples that are not near-ties"})
    return checks


@dataclass
class ParityResult:
    """Per-output metrics and checks; truthy when every check passed."""

    tolerance: Tolerance
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "tolerance": self.tolerance.to_dict(), "outputs": self.outputs,
                "failures": self.failures, "notes": self.notes}


def compare(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], tol: Tolerance,
            resolution: dict[str, float] | None = None) -> ParityResult:
    """Compare every reference output with the candidate's output of the same name.

    ``resolution``: the smallest step an output can express (an int8 output's scale), per name."""
    res = ParityResult(tolerance=tol)
    for name, ref in reference.items():
        if name not in candidate:
            res.failures.append(f"{name}: missing from the artifact's outputs (got {sorted(candidate)})")
            continue
        cand = candidate[name]
        step = (resolution or {}).get(name, 0.0)
        m = output_metrics(ref, cand, tol.top1_margin, 2 * step if tol.top1_margin is not None else 0.0)
        m["checks"] = _checks(m, np.asarray(ref), np.asarray(cand), tol)
        res.outputs[name] = m
        if tol.min_top1 is not None and "decisive" in m and m["decisive"] < len(ref) / 2:
            res.notes.append(f"{name}: top-1 agreement rests on {m['decisive']} of {len(ref)} golden samples; "
                             "the others are near-ties in the reference (a barely trained model?)")
        for c in m["checks"]:
            if not c["ok"]:
                res.failures.append(f"{name}: {c['metric']} {_fmt(c['value'])} outside bound {_fmt(c['bound'])}")
    return res


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------------------------------
# Reference sanity and task accuracy


def degenerate_warnings(reference: dict[str, np.ndarray]) -> list[str]:
    """Say loudly when the reference outputs cannot tell a right model from a wrong one."""
    warns: list[str] = []
    for name, ref in reference.items():
        r = np.asarray(ref, dtype=np.float64)
        if r.size == 0:
            warns.append(f"reference output {name!r} is empty: parity proves nothing")
            continue
        scale = max(float(np.abs(r).max()), 1e-12)
        if float(np.ptp(r)) <= 1e-6 * scale:
            warns.append(f"reference output {name!r} is constant ({float(r.flat[0]):.4g} everywhere): "
                         "parity proves nothing; was the source model trained?")
        elif len(r) < 2:
            warns.append(f"only {len(r)} golden sample: parity cannot tell input-dependent behaviour apart")
        elif float(np.ptp(r, axis=0).max()) <= 1e-6 * scale:
            warns.append(f"reference output {name!r} is the same for every golden input: parity proves "
                         "nothing; was the source model trained, and do the golden inputs differ?")
        elif looks_like_classes(r) and len(np.unique(r.argmax(axis=1))) == 1:
            warns.append(f"every golden input gets class {int(r[0].argmax())} in {name!r}: top-1 agreement "
                         "is weak evidence; use a golden set that covers several classes")
    return warns


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Top-1 accuracy of class scores against integer labels (or one-hot rows)."""
    s = np.asarray(scores)
    y = np.asarray(labels)
    if not looks_like_classes(s) or len(y) != len(s):
        return None
    if y.ndim == 2:
        y = y.argmax(axis=1)
    return float((s.argmax(axis=1) == y.reshape(-1)).mean())
