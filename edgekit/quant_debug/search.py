"""The effect ranking and the budget search, as plain logic over a ``measure`` callable (no TensorFlow here).

``measure(layout, float_layers) -> Candidate`` quantizes with those layers kept in float and scores the result on
the golden set (edgekit.quant_debug.run wires it to the TFLite quantizer); tests drive it with fakes.

Ranking: for each layer, the score of int8 with only that layer in float, and with its output tensor kept float
too (the layer and the layers that read it: an outlier tensor is quantized wherever it is stored, so keeping its
writer alone, or its reader alone, in float changes nothing). A layer's recovery is the better of the two minus
plain int8's score. Per-tensor statistics rank badly on their own: a tensor with huge outlier channels has a huge
scale, so its error divided by that scale looks small.

Search, cheapest first: each weight layout with no float layer (smallest file first); then, on the most accurate
layout, layers added in ranking order until the budget is met; then each float layer is dropped again if the
budget still holds without it, so the result keeps the fewest float layers the search found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgekit.quant_debug.records import Budget, Candidate, LayerEffect

Measure = Callable[[str, tuple[str, ...]], Candidate]


@dataclass
class Plan:
    budget: Budget
    layouts: list[str]  # smallest file first: per-tensor, per-channel (auto) or the one layout asked for
    metric: str = "accuracy"
    time_limit_s: float = 300.0  # ranking and search together; what is not measured by then is said so
    max_candidates: int = 64


@dataclass
class Outcome:
    candidates: list[Candidate] = field(default_factory=list)
    chosen: int = 0
    met: bool = False
    ranking: list[LayerEffect] = field(default_factory=list)
    reason: str | None = None


def meets(c: Candidate, budget: Budget) -> bool:
    if budget.max_drop_points is not None:
        return c.drop_points is not None and c.drop_points <= budget.max_drop_points + 1e-9
    if budget.min_sqnr_db is not None:
        return c.value >= budget.min_sqnr_db
    return True


def recovery(c: Candidate | None, plain: Candidate, metric: str) -> float | None:
    if c is None:
        return None
    scale = 1.0 if metric == "sqnr_db" else 100.0
    return round((c.value - plain.value) * scale, 4)


def rank(measure: Measure, layout: str, layers: list[str], consumers: Callable[[str], list[str]],
         plain: Candidate, metric: str, deadline: float) -> list[LayerEffect]:
    """LayerEffect per layer, largest recovery first; layers past the deadline are listed as not measured."""
    effects: list[LayerEffect] = []
    for layer in layers:
        readers = consumers(layer)
        eff = LayerEffect(layer=layer, ops=[], consumers=readers)
        if time.monotonic() > deadline:
            eff.measured, eff.why_not = False, "time bound reached before this layer"
            effects.append(eff)
            continue
        alone = measure(layout, (layer,))
        eff.ops, eff.alone = alone.float_ops, alone.value
        both = measure(layout, (layer, *readers)) if readers else None
        eff.with_output = both.value if both else None
        gains = [g for g in (recovery(alone, plain, metric), recovery(both, plain, metric)) if g is not None]
        eff.recovery_points = max(gains)
        effects.append(eff)
    order = {e.layer: i for i, e in enumerate(effects)}
    return sorted(effects, key=lambda e: (not e.measured, -(e.recovery_points or 0.0), order[e.layer]))


def unit(eff: LayerEffect) -> list[str]:
    """The layers to add for one ranking entry: with its readers when that recovered more."""
    if eff.with_output is not None and (eff.alone is None or eff.with_output > eff.alone):
        return [eff.layer, *eff.consumers]
    return [eff.layer]


def search(measure: Measure, plan: Plan, layers: list[str], consumers: Callable[[str], list[str]]) -> Outcome:
    deadline = time.monotonic() + plan.time_limit_s
    out = Outcome()
    seen: dict[tuple[str, tuple[str, ...]], Candidate] = {}

    def tried(layout: str, floats: list[str]) -> Candidate:
        key = (layout, tuple(sorted(floats)))
        if key not in seen:
            c = measure(layout, tuple(floats))
            c.meets = meets(c, plan.budget)
            seen[key] = c
            out.candidates.append(c)
        return seen[key]

    plains = []
    for layout in plan.layouts:  # smallest file first: the first that meets the budget wins
        plains.append(tried(layout, []))
        if plains[-1].meets:
            return _finish(out, plains[-1], None)
    best_plain = max(plains, key=lambda c: c.value)
    out.ranking = rank(measure, best_plain.layout, layers, consumers, best_plain, plan.metric, deadline)
    floats: list[str] = []
    hit: Candidate | None = None
    for eff in (e for e in out.ranking if e.measured):
        new = [name for name in unit(eff) if name not in floats]
        if not new:
            continue
        if len(floats) + len(new) >= len(layers) or _spent(out, plan, deadline):
            break
        floats += new
        c = tried(best_plain.layout, floats)
        if c.meets:
            hit = c
            break
    if hit is None:
        return _finish(out, max(out.candidates, key=lambda c: c.value),
                       f"no candidate within the search met the budget ({len(out.candidates)} tried, up to "
                       f"{len(floats)} float layers); the best is recorded")
    for name in list(reversed(floats)):  # drop what the budget does not need
        if len(floats) == 1 or _spent(out, plan, deadline):
            break
        trial = [n for n in floats if n != name]
        c = tried(best_plain.layout, trial)
        if c.meets:
            floats, hit = trial, c
    return _finish(out, hit, None)


def _spent(out: Outcome, plan: Plan, deadline: float) -> bool:
    return len(out.candidates) >= plan.max_candidates or time.monotonic() > deadline


def _finish(out: Outcome, chosen: Candidate, reason: str | None) -> Outcome:
    out.chosen = out.candidates.index(chosen)
    out.met = bool(chosen.meets)
    out.reason = reason
    return out
