"""The tokenizer parity row: engines against the test vectors (no Keras needed: a hand-written spec)."""

from __future__ import annotations

import pytest

from edgekit.text import parity
from edgekit.text.spec import TestVectors, VectorCase, parse_spec, read_test_vectors

SPEC = {"kind": "text_vectorization", "input": {"name": "text", "dtype": "string", "shape": [None, 1]},
        "standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": [1, 2],
        "vocabulary": ["", "[UNK]", "the", "cat", "the cat", "猫"], "oov_id": 1, "mask_token": "",
        "output_sequence_length": 4, "output": {"name": "ids", "dtype": "int64", "shape": [None, 4]}}


@pytest.fixture
def folder(tmp_path):
    spec = parse_spec(SPEC)
    (tmp_path / "tokenizer.json").write_text(spec.to_json(), encoding="utf-8")
    cases = [VectorCase(input="The CAT!", expected=[2, 3, 4, 0]), VectorCase(input="", expected=[0, 0, 0, 0]),
             VectorCase(input="猫 dog\u00a0x", expected=[5, 1, 1, 0])]
    (tmp_path / "v.json").write_text(TestVectors(cases=cases).to_json(), encoding="utf-8")
    return tmp_path


def test_python_engine_passes_and_a_wrong_engine_fails(folder, monkeypatch):
    # The Python engine alone (the JavaScript engines register from edgekit.web.tokenizer: tests/web).
    monkeypatch.setattr(parity, "PLUGINS", [])
    monkeypatch.setattr(parity, "ENGINES", [e for e in parity.ENGINES if e.name == "python"])
    vectors = read_test_vectors(folder / "v.json")
    rows = parity.tokenizer_rows(folder / "tokenizer.json", vectors, "text_vectorization")
    assert [(r.runtime, r.status) for r in rows] == [("python", "pass")]
    p = rows[0].parity
    assert (p["passed"], p["samples"], p["mismatches"], p["first_mismatch"]) == (True, 3, 0, None)
    assert p["outputs"]["ids"]["shape"] == [3, 4] and p["outputs"]["ids"]["max_abs"] == 0.0

    monkeypatch.setattr(parity, "ENGINES", list(parity.ENGINES))
    # an engine that lowercases with str.lower() would still pass these; one that splits on \s would not
    parity.register(parity.TokenizerEngine("naive", lambda p, xs: [[2, 3, 4, 0], [0, 0, 0, 0], [5, 1, 1, 1]]))
    parity.register(parity.TokenizerEngine("absent", lambda p, xs: [], lambda: "node is not installed"))
    rows = {r.runtime: r for r in parity.tokenizer_rows(folder / "tokenizer.json", vectors, "text_vectorization")}
    assert rows["naive"].status == "fail" and rows["naive"].parity["mismatches"] == 1
    assert rows["naive"].parity["first_mismatch"]["index"] == 2 and "1 of 3" in rows["naive"].reason
    assert rows["absent"].status == "unavailable" and rows["absent"].reason == "node is not installed"
