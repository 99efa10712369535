"""The ranking and the budget search on fakes: no TensorFlow, exact numbers."""

from __future__ import annotations

import pytest

from edgekit.quant_debug.records import Budget, Candidate
from edgekit.quant_debug.search import Plan, meets, search

LAYERS = ["a", "b", "spike", "mix", "head"]
READERS = {"a": ["b"], "b": ["spike"], "spike": ["mix"], "mix": ["head"], "head": []}


def fake(scores: dict[tuple[str, frozenset[str]], float], default: float, calls: list) -> object:
    """measure(): score by (layout, float set); bytes grow with float layers, per-channel costs 10 more."""

    def measure(layout: str, floats: tuple[str, ...]) -> Candidate:
        calls.append((layout, floats))
        value = scores.get((layout, frozenset(floats)), default)
        if {"spike", "mix"} <= set(floats):
            value = 0.98
        size = 100 + 10 * (layout == "per-channel") + 50 * len(floats)
        return Candidate(layout=layout, float_layers=list(floats), float_ops=[f"OP#{f}" for f in floats],
                         bytes=size, value=value, drop_points=round((0.98 - value) * 100, 4))

    return measure


def test_plain_int8_within_budget_means_no_search():
    calls: list = []
    out = search(fake({}, 0.975, calls), Plan(Budget(max_drop_points=1.0), ["per-channel"]), LAYERS, READERS.get)
    assert out.met and out.chosen == 0 and calls == [("per-channel", ())]
    assert out.candidates[0].float_layers == [] and out.ranking == []


def test_auto_layout_takes_the_smaller_file_when_it_meets_the_budget():
    calls: list = []
    scores = {("per-tensor", frozenset()): 0.97}
    out = search(fake(scores, 0.975, calls), Plan(Budget(max_drop_points=1.0), ["per-tensor", "per-channel"]),
                 LAYERS, READERS.get)
    assert out.met and out.candidates[out.chosen].layout == "per-tensor" and len(calls) == 1


def test_culprit_pair_found_through_the_output_tensor_then_minimal():
    calls: list = []
    out = search(fake({}, 0.34, calls), Plan(Budget(max_drop_points=2.0), ["per-tensor", "per-channel"]),
                 LAYERS, READERS.get)
    chosen = out.candidates[out.chosen]
    assert out.met and chosen.float_layers == ["spike", "mix"] and chosen.drop_points == 0.0
    assert out.ranking[0].layer == "spike" and out.ranking[0].recovery_points == pytest.approx(64.0)
    assert out.ranking[0].alone == 0.34 and out.ranking[0].with_output == 0.98
    # prune tried dropping each of the two and kept both
    assert ("per-tensor", ("spike",)) in calls and ("per-tensor", ("mix",)) in calls


def test_nothing_meets_the_budget_returns_the_best_with_a_reason():
    calls: list = []
    out = search(fake({("per-channel", frozenset({"a", "b"})): 0.5}, 0.3, calls),
                 Plan(Budget(max_drop_points=0.0 - 5.0), ["per-channel"]), LAYERS, READERS.get)
    assert not out.met and "no candidate" in (out.reason or "")
    assert out.candidates[out.chosen].value == 0.98  # the best one tried is kept


def test_time_bound_marks_unmeasured_layers():
    calls: list = []
    out = search(fake({}, 0.34, calls), Plan(Budget(max_drop_points=2.0), ["per-channel"], time_limit_s=-1.0),
                 LAYERS, READERS.get)
    assert not out.met and all(not e.measured and e.why_not for e in out.ranking)


def test_sqnr_floor():
    c = Candidate(layout="per-channel", bytes=1, value=21.0)
    assert meets(c, Budget(min_sqnr_db=20.0)) and not meets(c, Budget(min_sqnr_db=25.0))
