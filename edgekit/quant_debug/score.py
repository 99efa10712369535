"""How good a candidate int8 model is on the golden set: task accuracy with labels, else top-1 agreement with
the float model for class scores, else SQNR (dB) of its outputs against the float model's.

Numpy only; the candidate's outputs come from edgekit.quant_debug.engine.run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.compare import accuracy
from edgekit.errors import InputError

ACCURACY, AGREEMENT, SQNR = "accuracy", "agreement", "sqnr_db"
SQNR_EXACT_DB = 200.0  # identical outputs: a finite cap, so records stay valid JSON


@dataclass(frozen=True)
class Golden:
    """Golden inputs (by signature name), the float model's outputs on them, and labels when there are any."""

    inputs: dict[str, np.ndarray]
    reference: np.ndarray  # the first output of the source model
    labels: np.ndarray | None = None
    sqnr_only: bool = False  # an SQNR floor was asked for: score by SQNR even for class scores

    @property
    def metric(self) -> str:
        if self.sqnr_only:
            return SQNR
        if self.labels is not None and _class_scores(self.reference):
            return ACCURACY
        return AGREEMENT if _class_scores(self.reference) else SQNR

    def reference_score(self) -> float:
        """The float model's own score: what a budget's drop is measured from."""
        if self.metric == ACCURACY:
            return float(accuracy(self.reference, self.labels) or 0.0)
        return 1.0 if self.metric == AGREEMENT else SQNR_EXACT_DB

    def score(self, output: np.ndarray) -> float:
        if self.metric == ACCURACY:
            return float(accuracy(output, self.labels) or 0.0)
        if self.metric == AGREEMENT:
            ref = self.reference.reshape(len(self.reference), -1).argmax(1)
            return float((output.reshape(len(output), -1).argmax(1) == ref).mean())
        return sqnr_db(self.reference, output)


def _class_scores(arr: np.ndarray) -> bool:
    return arr.ndim == 2 and arr.shape[-1] > 1


def sqnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    signal = float(np.sum(np.square(reference.astype(np.float64))))
    noise = float(np.sum(np.square(reference.astype(np.float64) - candidate.astype(np.float64))))
    if noise == 0.0:
        return SQNR_EXACT_DB
    return 10.0 * float(np.log10(max(signal, 1e-30) / noise))


def drop_points(golden: Golden, value: float) -> float | None:
    """Percentage points lost against the float model (None for SQNR, which has a floor instead)."""
    if golden.metric == SQNR:
        return None
    return round((golden.reference_score() - value) * 100.0, 4)


def from_folder(folder: Path) -> tuple[Golden, str]:
    """A convert output folder's golden set (checked against its manifest) and the name of its first output."""
    from edgekit.folder import ConvertedFolder, load_golden

    m = ConvertedFolder.open(folder).manifest
    if not m.outputs:
        raise InputError(f"{folder}: the manifest lists no outputs; re-run `edgekit convert`")
    g = load_golden(folder, m)
    first = m.outputs[0].name
    return Golden(g.inputs, g.reference[first], g.labels), first


def budget_failure(search: dict | None, accuracy_delta: float | None, metrics: dict | None) -> str | None:
    """validate's check of the budget `convert --int8-max-drop/--int8-min-sqnr` recorded on the artifact
    (``extra.int8_search``): the reason line when the measured drop (accuracy with labels, else top-1 agreement)
    or output SQNR is beyond it, else None."""
    budget = (search or {}).get("budget") or {}
    max_drop, floor = budget.get("max_drop_points"), budget.get("min_sqnr_db")
    metrics = metrics or {}
    if max_drop is not None:
        if accuracy_delta is not None:
            drop, what = -accuracy_delta * 100.0, "accuracy"
        elif metrics.get("top1") is not None:
            drop, what = (1.0 - metrics["top1"]) * 100.0, "top-1 agreement"
        else:
            return None
        if drop > max_drop + 1e-9:
            return f"{what} drop {drop:.2f} points exceeds the int8 budget (--int8-max-drop {max_drop:g}, recorded " \
                   "at convert)"
    if floor is not None and metrics.get("sqnr_db") is not None and metrics["sqnr_db"] < floor:
        return f"output SQNR {metrics['sqnr_db']:.1f} dB is below the int8 budget (--int8-min-sqnr {floor:g})"
    return None
