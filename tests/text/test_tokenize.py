"""The Python tokenizer against the real Keras layers, on hostile strings and on generated ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.errors import InputError
from edgekit.text.extract import spec_from_layer
from edgekit.text.spec import TokenizerSpec, parse_spec
from edgekit.text.tokenize import tokenize

CORPUS = ["The cat sat on the mat.", "the dog ran; the CAT didn't!", "École élève naïve café", "猫が座った 猫",
          "emoji 🙂 party 🎉🎉", "a-b c.d e,f", "x"]
HOSTILE = ["", "   ", "THE CAT!!!", "the\tcat\nsat\r\non\x0bthe\x0cmat", "the\u00a0cat\u2003sat\u3000on",
           "ÉCOLE École école", "İstanbul ΣΑΣ Straße", "猫が座った", "🙂🎉 🙂", "unknownword zzz",
           "don't stop-me now", "a,b-c.d", "!!!", "[UNK]", "the the the the the the the the the the",
           "\u200bzero\u200bwidth", "trailing   ", "combining e\u0301 ﬁ ligature"]


def _layers():
    import keras

    def tv(**kw):
        layer = keras.layers.TextVectorization(max_tokens=60, **kw)
        layer.adapt(CORPUS)
        return layer

    return {
        "int_seq": (tv(output_sequence_length=8), "string"),
        "int_seq_ngrams": (tv(output_sequence_length=10, ngrams=2), "string"),
        "ngrams_13": (tv(output_sequence_length=12, ngrams=(1, 3)), "string"),
        "no_standardize": (tv(output_sequence_length=6, standardize=None), "string"),
        "lower_only": (tv(output_sequence_length=6, standardize="lower"), "string"),
        "strip_only_chars": (tv(output_sequence_length=16, standardize="strip_punctuation", split="character"),
                             "string"),
        "ragged_len": (tv(), "string"),
        "multi_hot": (tv(output_mode="multi_hot"), "string"),
        "count_ngrams": (tv(output_mode="count", ngrams=2), "string"),
        "no_split": (tv(split=None), "string"),
        "string_lookup": (keras.layers.StringLookup(vocabulary=["cat", "dog", "École", "猫"]), "string"),
        "string_lookup_mask": (keras.layers.StringLookup(vocabulary=["cat", "dog"], mask_token=""), "string"),
        "string_lookup_multi_hot": (keras.layers.StringLookup(vocabulary=["cat", "dog"], output_mode="multi_hot"),
                                    "string"),
        "string_lookup_one_hot": (keras.layers.StringLookup(vocabulary=["cat", "dog"], output_mode="one_hot"),
                                  "string"),
        "integer_lookup": (keras.layers.IntegerLookup(vocabulary=[5, 7, 9]), "int64"),
    }


@pytest.fixture(scope="module")
def layers() -> dict[str, tuple[object, TokenizerSpec]]:
    import keras

    out = {}
    for name, (layer, dtype) in _layers().items():
        inp = keras.Input(shape=(1,), dtype=dtype, name="text")
        out[name] = (layer, spec_from_layer(layer, inp, "text", layer(inp)))
    return out


def _keras(layer, values) -> np.ndarray:
    import tensorflow as tf

    dtype = tf.int64 if isinstance(values[0], int) else tf.string
    return np.asarray(layer(tf.constant([[v] for v in values], dtype=dtype)))


@pytest.mark.parametrize("name", [
    "int_seq", "int_seq_ngrams", "ngrams_13", "no_standardize", "lower_only", "strip_only_chars", "ragged_len",
    "multi_hot", "count_ngrams", "no_split", "string_lookup", "string_lookup_mask", "string_lookup_multi_hot",
    "string_lookup_one_hot"])
def test_python_tokenizer_matches_keras_on_hostile_strings(layers, name):
    layer, spec = layers[name]
    texts = HOSTILE + CORPUS
    expected = _keras(layer, texts)
    got = tokenize(spec, texts)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected.astype(got.dtype))
    # one at a time as an app does (same ids; only ragged_len pads to the batch's longest)
    if spec.output_sequence_length is not None:
        np.testing.assert_array_equal(tokenize(spec, [texts[2]])[0], got[2])


def test_lowercasing_is_ascii_only_like_tf_strings_lower(layers):
    _, spec = layers["lower_only"]
    ids = tokenize(spec, ["École ÉCOLE école"])[0].tolist()
    assert ids[:3] == [spec.vocabulary.index("École")] * 2 + [spec.oov_id]  # É is never lowered
    assert tokenize(layers["no_split"][1], [""]).ravel().tolist() == [0]  # "" is the mask token


def test_integer_lookup_matches_keras(layers):
    layer, spec = layers["integer_lookup"]
    values = [5, 8, 9, 0, -1, 7]
    np.testing.assert_array_equal(tokenize(spec, np.array(values).reshape(-1, 1)), _keras(layer, values))
    with pytest.raises(InputError, match="takes integers"):
        tokenize(spec, ["5"])


def test_spec_round_trip(layers, tmp_path):
    from edgekit.text.spec import read_spec

    for name, (_, spec) in layers.items():
        path = tmp_path / f"{name}.json"
        path.write_text(spec.to_json(), encoding="utf-8")
        assert read_spec(path) == spec, name


def test_spec_refuses_unknown_fields_and_inconsistency(layers):
    doc = layers["int_seq"][1].model_dump(mode="json")
    with pytest.raises(InputError, match="not a known key"):
        parse_spec({**doc, "lowercase_everything": True})
    with pytest.raises(InputError, match="version"):
        parse_spec({**doc, "version": 2})
    with pytest.raises(InputError, match="oov_token"):
        parse_spec({**doc, "oov_id": 3})
    with pytest.raises(InputError, match="twice"):
        parse_spec({**doc, "vocabulary": [*doc["vocabulary"], "the"]})


def test_bad_text_is_one_error(layers):
    spec = layers["int_seq"][1]
    with pytest.raises(InputError, match="lone surrogate"):
        tokenize(spec, ["a\ud800b"])
    with pytest.raises(InputError, match="takes strings"):
        tokenize(spec, [3])
    assert tokenize(spec, [b"The cat"]).tolist() == tokenize(spec, ["The cat"]).tolist()


ALPHABET = st.sampled_from(list("abcXYZ .,!'-\t\n\u00a0\u3000éÉßİ猫が🙂\u200b") + ["the", "cat", "sat", "mat"])
TEXTS = st.lists(st.lists(ALPHABET, max_size=12).map("".join), min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=TEXTS)
def test_property_python_tokenizer_equals_keras(layers, texts):
    for name in ("int_seq_ngrams", "no_standardize", "strip_only_chars", "count_ngrams"):
        layer, spec = layers[name]
        np.testing.assert_array_equal(tokenize(spec, texts), _keras(layer, texts).astype(spec.output.dtype))
