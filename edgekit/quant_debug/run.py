"""The budgeted int8 search as one function: a configured int8 TFLite converter, a golden set and a budget in,
the chosen .tflite bytes and the typed record of the search out (for `convert --int8-max-drop`, and for any
format that needs an int8 flatbuffer within a budget, e.g. TFLite Micro)."""

from __future__ import annotations

import time
from typing import Any

from edgekit.quant_debug import engine
from edgekit.quant_debug.records import Budget, Candidate, SearchRecord
from edgekit.quant_debug.score import Golden, drop_points
from edgekit.quant_debug.search import Measure, Plan, search


def measurer(q: engine.Quantizer, golden: Golden, output: str | None = None) -> Measure:
    """``measure(layout, float_layers)``: quantize, run on the golden inputs, score."""

    def measure(layout: str, floats: tuple[str, ...]) -> Candidate:
        blob = q.quantize(layout, floats)
        value = golden.score(engine.run(blob, golden.inputs, output))
        return Candidate(layout=layout, float_layers=list(floats), float_ops=q.float_ops(floats), bytes=len(blob),
                         value=round(value, 6), drop_points=drop_points(golden, value))

    return measure


def layouts_for(weights: str) -> list[str]:
    """--int8-weights: auto tries the smaller per-tensor file first."""
    return [engine.PER_TENSOR, engine.PER_CHANNEL] if weights == "auto" else [weights]


def search_int8(converter: Any, io: str, golden: Golden, budget: Budget, weights: str = "auto",
                output: str | None = None, time_limit_s: float = 300.0) -> tuple[bytes, SearchRecord]:
    """``converter``: a TFLiteConverter configured for int8 (optimizations, representative_dataset).

    Returns the chosen model (the best one, when none met the budget: ``record.met`` says which)."""
    t0 = time.monotonic()
    q = engine.Quantizer(engine.calibrate(converter), io)
    plan = Plan(budget=budget, layouts=layouts_for(weights), metric=golden.metric, time_limit_s=time_limit_s)
    outcome = search(measurer(q, golden, output), plan, q.graph.layers(), q.graph.consumers)
    chosen = outcome.candidates[outcome.chosen]
    blob = q.quantize(chosen.layout, chosen.float_layers)
    record = SearchRecord(
        metric=golden.metric, budget=budget, reference=round(golden.reference_score(), 6),
        golden_samples=len(golden.reference), candidates=outcome.candidates, chosen=outcome.chosen,
        met=outcome.met, float_layers=chosen.float_layers, float_ops=chosen.float_ops, ranking=outcome.ranking,
        seconds=round(time.monotonic() - t0, 2), reason=outcome.reason)
    record.summary = record.one_line()
    return blob, record
