"""Keras layer -> tokenizer spec: what is refused, with the reason."""

from __future__ import annotations

import pytest

from edgekit.errors import InputError
from edgekit.text.extract import kind_of, spec_from_layer


def _spec(layer, dtype="string"):
    import keras

    inp = keras.Input(shape=(1,), dtype=dtype, name="text")
    return spec_from_layer(layer, inp, "text", layer(inp))


def my_standardize(x):
    import tensorflow as tf

    return tf.strings.regex_replace(tf.strings.lower(x), "<br />", " ")


@pytest.mark.parametrize("kwargs, fragments", [
    ({"standardize": my_standardize}, ["standardize is a custom function (my_standardize)", "--strings flex"]),
    ({"split": lambda x: x}, ["split is a custom function"]),
    ({"output_mode": "tf_idf"}, ["tf_idf"]),
    ({"ragged": True}, ["ragged=True"]),
])
def test_refused_with_the_reason(kwargs, fragments):
    import keras

    layer = keras.layers.TextVectorization(**kwargs)
    layer.adapt(["a b c", "b c"])
    with pytest.raises(InputError) as e:
        _spec(layer)
    for f in fragments:
        assert f in str(e.value)
    assert "\n" not in str(e.value)


def test_refused_lookups_and_unadapted():
    import keras

    with pytest.raises(InputError, match="num_oov_indices is 2"):
        _spec(keras.layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=2))
    with pytest.raises(InputError, match="Hashing"):
        _spec(keras.layers.Hashing(num_bins=8))
    with pytest.raises(InputError, match="no vocabulary: adapt"):
        _spec(keras.layers.TextVectorization(output_sequence_length=4))
    assert kind_of(keras.layers.Dense(2)) is None


def test_ngrams_int_expands_like_keras():
    import keras

    layer = keras.layers.TextVectorization(ngrams=3, output_sequence_length=5)
    layer.adapt(["a b c d"])
    spec = _spec(layer)
    assert spec.ngrams == [1, 2, 3] and spec.output.shape == [None, 5] and spec.output.dtype == "int64"
    assert spec.vocabulary[:2] == ["", "[UNK]"] and spec.oov_id == 1 and spec.padding_id == 0
