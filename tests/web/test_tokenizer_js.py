"""The JavaScript tokenizer (edgekit/web/static/tokenizer.js) in Node and in Chromium against the Keras layers
themselves, on hostile strings: ASCII-only lowercasing, Unicode spaces that are not separators, code-point
characters, CJK, emoji, combining marks, empty strings, out-of-vocabulary words, ngrams, every output mode."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.text.extract import spec_from_layer
from edgekit.text.parity import engines
from edgekit.web import tokenizer as js
from tests.helpers import require
from tests.text.test_tokenize import CORPUS, HOSTILE

INPUTS = HOSTILE + CORPUS + ["a\u00a0b", "e\u0301", "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", "Ünïcödé ÀÉÎÕÜ"]
INTS = [5, 7, 9, 0, -1, 123456789]


def _build() -> dict[str, tuple[object, str]]:
    """Layer configurations: name -> (adapted layer, input dtype)."""
    import keras

    def vectorizer(**options):
        layer = keras.layers.TextVectorization(max_tokens=80, **options)
        layer.adapt(CORPUS + ["École élève ΣΑΣ 猫 🙂 don't"])
        return layer

    return {
        "int_len8": (vectorizer(output_sequence_length=8), "string"),
        "int_ngrams2_len10": (vectorizer(output_sequence_length=10, ngrams=2), "string"),
        "int_unpadded_ngrams13": (vectorizer(ngrams=(1, 3)), "string"),
        "raw_chars": (vectorizer(standardize=None, split="character", output_sequence_length=20), "string"),
        "lower_words": (vectorizer(standardize="lower", output_sequence_length=6), "string"),
        "strip_no_split": (vectorizer(standardize="strip_punctuation", split=None), "string"),
        "multi_hot": (vectorizer(output_mode="multi_hot"), "string"),
        "count_ngrams": (vectorizer(output_mode="count", ngrams=2), "string"),
        "string_lookup_mask": (keras.layers.StringLookup(vocabulary=["cat", "École", "猫", "🙂"], mask_token=""),
                               "string"),
        "string_lookup_one_hot": (keras.layers.StringLookup(vocabulary=["cat", "dog"], output_mode="one_hot"),
                                  "string"),
        "integer_lookup": (keras.layers.IntegerLookup(vocabulary=[5, 7, 9]), "int64"),
    }


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[tuple[str, object, list, list]]:
    """(name, tokenizer.json path, inputs, the Keras layer's row for each input alone)."""
    import keras
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("tokenizers")
    out = []
    for name, (layer, dtype) in _build().items():
        inp = keras.Input(shape=(1,), dtype=dtype, name="text")
        spec = spec_from_layer(layer, inp, "text", layer(inp))
        path = folder / f"{name}.json"
        path.write_text(spec.to_json(), encoding="utf-8")
        inputs = INTS if dtype == "int64" else INPUTS
        tf_dtype = tf.int64 if dtype == "int64" else tf.string
        expected = [np.asarray(layer(tf.constant([[x]], dtype=tf_dtype)))[0].tolist() for x in inputs]
        out.append((name, path, inputs, expected))
    return out


def _mismatches(expected: list, got: list, inputs: list) -> list:
    assert len(got) == len(expected)
    return [(x, e, g) for x, e, g in zip(inputs, expected, got, strict=True) if not np.array_equal(e, g)]


def test_node_tokenizer_equals_keras(cases):
    require(js.node_unavailable() is None, f"Node.js: {js.node_unavailable()}")
    total = 0
    for name, path, inputs, expected in cases:
        assert _mismatches(expected, js.run_node(path, inputs), inputs) == [], name
        total += len(inputs)
    assert total == 10 * len(INPUTS) + len(INTS)


def test_chromium_tokenizer_equals_keras(cases):
    require(js.chromium_unavailable() is None, f"Chromium: {js.chromium_unavailable()}")
    from edgekit.web.browser import BrowserSession

    with BrowserSession() as session:
        got = js.run_chromium_many([(path, inputs) for _, path, inputs, _ in cases], session)
        for (name, _, inputs, expected), rows in zip(cases, got, strict=True):
            assert _mismatches(expected, rows, inputs) == [], name
        with pytest.raises(InputError, match="lone surrogate"):  # the page refuses it as Node does
            js.run_chromium(cases[0][1], ["\ud83d"], session)


def test_bad_input_is_refused_in_node(cases, tmp_path):
    require(js.node_unavailable() is None, f"Node.js: {js.node_unavailable()}")
    path = cases[0][1]
    with pytest.raises(InputError, match="lone surrogate"):
        js.run_node(path, ["ok", "bad \ud800 text"])
    with pytest.raises(InputError, match="takes strings"):
        js.run_node(path, [5])
    future = tmp_path / "v2.json"
    future.write_text(path.read_text(encoding="utf-8").replace('"version": 1', '"version": 2'), encoding="utf-8")
    with pytest.raises(InputError, match="version 2"):
        js.run_node(future, ["x"])


def test_node_and_chromium_are_parity_engines():
    assert [e.name for e in engines()][:3] == ["python", "node", "chromium"]
