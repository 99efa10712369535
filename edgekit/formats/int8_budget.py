"""tflite-int8 within an accuracy budget (`--int8-max-drop`, `--int8-min-sqnr`, `--int8-weights auto`).

The search itself is edgekit.quant_debug.run.search_int8 (docs/quant-debug.md); this module feeds it the
conversion's golden set and records what it did on the artifact: ``extra.int8_search`` (a SearchRecord), the
one-line summary in the notes, and ``failed`` with the best candidate's figures when nothing met the budget
(the file is still written).
"""

from __future__ import annotations

from typing import Any

from edgekit.errors import ConversionError
from edgekit.manifest import STATUS_FAILED, Artifact


def wanted(options: Any) -> bool:
    return (getattr(options, "int8_max_drop", None) is not None
            or getattr(options, "int8_min_sqnr", None) is not None)


def search(conv: Any, ctx: Any) -> tuple[bytes, Any]:
    """(the chosen .tflite bytes, the SearchRecord) for a converter configured for int8."""
    from edgekit.quant_debug.records import Budget
    from edgekit.quant_debug.run import search_int8
    from edgekit.quant_debug.score import SQNR, Golden

    opts = ctx.options
    if ctx.golden is None or not ctx.reference:
        raise ConversionError("an int8 budget needs the golden set, which this conversion did not receive")
    first = ctx.outputs[0].name
    budget = Budget(max_drop_points=opts.int8_max_drop, min_sqnr_db=opts.int8_min_sqnr)
    golden = Golden(dict(ctx.golden.arrays), ctx.reference[first], ctx.golden.labels,
                    sqnr_only=budget.max_drop_points is None)
    if budget.max_drop_points is not None and golden.metric == SQNR:
        raise ConversionError(f"--int8-max-drop measures class scores, but output {first!r} has shape "
                              f"{list(golden.reference.shape)}: give --int8-min-sqnr DB instead")
    return search_int8(conv, opts.int8_io, golden, budget, opts.int8_weights, output=first)


def record(art: Artifact, rec: Any) -> None:
    """Put the search on the artifact; a budget not met makes it failed (its file is kept)."""
    chosen = rec.candidates[rec.chosen]
    art.extra["int8_search"] = rec.model_dump()
    art.converter.setdefault("options", {})["per_channel"] = chosen.layout == "per-channel"
    art.notes.append(rec.summary)
    if not rec.met:
        art.status = STATUS_FAILED
        art.reason = f"{rec.summary}: {rec.reason}"
