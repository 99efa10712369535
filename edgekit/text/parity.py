"""Tokenizer parity: every tokenizer engine against the ids the Keras layer produced (the test vectors).

An engine is a tokenizer implementation edgekit can run here (Python in-process; JavaScript in Node or
Chromium, registered by their own modules). Each gives one report row (docs/text.md, "Validate").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.row import Row
from edgekit.text.spec import TestVectors, read_spec

Run = Callable[[Path, list[Any]], list[Any]]


@dataclass(frozen=True)
class TokenizerEngine:
    name: str
    run: Run  # (tokenizer.json path, inputs) -> one output row per input, as in the test vectors
    unavailable: Callable[[], str | None] = lambda: None  # why it cannot run here, or None


ENGINES: list[TokenizerEngine] = []
# Modules that register further engines when imported (one line each; e.g. the Node/Chromium tokenizer).
PLUGINS: list[str] = ["edgekit.web.tokenizer"]  # node, chromium: the JavaScript tokenizer


def register(engine: TokenizerEngine) -> None:
    """Add (or replace, by name) an engine."""
    ENGINES[:] = [e for e in ENGINES if e.name != engine.name] + [engine]


def _python(spec_path: Path, inputs: list[Any]) -> list[Any]:
    from edgekit.text.tokenize import tokenize

    spec = read_spec(spec_path)
    return [tokenize(spec, [x])[0].tolist() for x in inputs]


register(TokenizerEngine("python", _python))


def engines() -> list[TokenizerEngine]:
    for mod in PLUGINS:
        importlib.import_module(mod)
    return list(ENGINES)


def compare_rows(expected: list[Any], got: list[Any], inputs: list[Any]) -> dict[str, Any]:
    """Exact comparison, sample by sample, as a report parity object (report.schema.json) plus the count of
    mismatching samples and the first one."""
    mismatches = [i for i, (e, g) in enumerate(zip(expected, got, strict=False))
                  if np.shape(e) != np.shape(g) or not np.array_equal(np.asarray(e), np.asarray(g))]
    if len(got) != len(expected):
        mismatches.append(min(len(got), len(expected)))
    first = None
    if mismatches:
        i = mismatches[0]
        first = {"index": i, "input": inputs[i] if i < len(inputs) else None,
                 "expected": expected[i] if i < len(expected) else None, "got": got[i] if i < len(got) else None}
    diffs = [float(np.max(np.abs(np.asarray(e, float) - np.asarray(g, float)), initial=0.0))
             for e, g in zip(expected, got, strict=False) if np.shape(e) == np.shape(g)]
    metrics = {"shape": [len(got), *_row_shape(got)], "reference_shape": [len(expected), *_row_shape(expected)],
               "finite": True, "max_abs": max(diffs, default=0.0)}
    failures = [f"{len(mismatches)} of {len(expected)} inputs tokenized differently from the Keras layer"] \
        if mismatches else []
    return {"passed": not mismatches, "tolerance": {"mismatches": 0}, "outputs": {"ids": metrics},
            "failures": failures, "notes": [], "samples": len(expected), "mismatches": len(mismatches),
            "first_mismatch": first}


def _row_shape(rows: list[Any]) -> list[int]:
    shapes = {np.shape(r) for r in rows}
    return [int(d) for d in shapes.pop()] if len(shapes) == 1 else []


def engine_row(engine: TokenizerEngine, spec_path: Path, vectors: TestVectors, kind: str, device: str) -> Row:
    row = Row(artifact="tokenizer", format="tokenizer", variant=kind, runtime=engine.name, device=device,
              status="error", path=spec_path.name)
    why = engine.unavailable()
    if why:
        row.status, row.reason = "unavailable", why
        return row
    inputs = [c.input for c in vectors.cases]
    try:
        got = engine.run(spec_path, inputs)
    except (EdgekitError, OSError, ValueError, RuntimeError) as e:
        row.reason = f"the {engine.name} tokenizer failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        return row
    parity = compare_rows([c.expected for c in vectors.cases], got, inputs)
    row.parity = parity
    row.status = "pass" if parity["mismatches"] == 0 else "fail"
    if parity["mismatches"]:
        f = parity["first_mismatch"]
        row.reason = (f"{parity['mismatches']} of {parity['samples']} inputs tokenized differently from the Keras "
                      f"layer; first: {f['input']!r} -> {f['got']}, Keras {f['expected']}")
    return row


def tokenizer_rows(spec_path: Path, vectors: TestVectors, kind: str, device: str = "local") -> list[Row]:
    """One row per engine."""
    return [engine_row(e, spec_path, vectors, kind, device) for e in engines()]
