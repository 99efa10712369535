"""Cutting a Keras model after its text/lookup layer (no conversion: cheap)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.manifest import TensorSpec
from edgekit.text.split import split_model, strings_mode
from edgekit.text.tokenize import tokenize

TEXTS = ["the cat sat", "a dog ran", "The CAT, again!", "", "猫 🙂"]
STRING = [TensorSpec("text", [None, 1], "string")]


def _model(rank=2, **kw):
    import keras

    tv = keras.layers.TextVectorization(max_tokens=20, **kw)
    tv.adapt(TEXTS)
    inp = keras.Input(shape=(1,) if rank == 2 else (), dtype="string", name="text")
    x = tv(inp)
    if kw.get("output_mode", "int") == "int":
        x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(x))
    return keras.Model(inp, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("kw", [{"output_sequence_length": 6}, {"output_mode": "multi_hot"},
                                {"output_mode": "count", "ngrams": 2}])
def test_numeric_model_on_python_ids_equals_the_whole_model(kw):
    import tensorflow as tf

    rank = 2 if "output_sequence_length" in kw else 1  # vector modes: a rank-1 input (see the refusal below)
    model = _model(rank, **kw)
    split, numeric = split_model(model, STRING if rank == 2 else [TensorSpec("text", [None], "string")])
    ids = tokenize(split.spec, TEXTS).astype(split.numeric_inputs[0].dtype)
    assert split.numeric_inputs[0].dtype == ("int32" if rank == 2 else "float32")
    raw = tf.constant([[t] for t in TEXTS] if rank == 2 else TEXTS)
    np.testing.assert_allclose(np.asarray(numeric(ids)), np.asarray(model(raw)), atol=1e-6)


def test_what_cannot_be_cut_exactly_is_refused_with_the_reason():
    with pytest.raises(InputError, match="output_sequence_length None.*set output_sequence_length.*--strings flex"):
        split_model(_model(), STRING)
    # Keras' symbolic shape after multi_hot on [None, 1] is [None, 1, V]; at run time the layer gives [None, V]
    with pytest.raises(InputError, match=r"multi_hot on a \[None, 1\] input.*rank-1 string input"):
        split_model(_model(output_mode="multi_hot"), STRING)


def test_a_model_without_a_text_layer_is_not_split():
    import keras

    inp = keras.Input(shape=(3,))
    assert split_model(keras.Model(inp, keras.layers.Dense(1)(inp)), [TensorSpec("x", [None, 3], "float32")]) is None


def test_strings_flex_applies_to_tflite_only():
    assert strings_mode("flex", {"tflite", "onnx"}) == "flex"
    assert strings_mode("flex", {"onnx", "tfjs"}) == "split"  # convert warns that --strings has no effect
    assert strings_mode("split", {"tflite"}) == "split"


def test_integer_lookup_model_splits():
    import keras
    import tensorflow as tf

    inp = keras.Input(shape=(1,), dtype="int64", name="code")
    x = keras.layers.IntegerLookup(vocabulary=[3, 5, 8, 13])(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Embedding(5, 3)(x))))
    split, numeric = split_model(model, [TensorSpec("code", [None, 1], "int64")])
    codes = np.array([[3], [4], [13], [0], [-1]])
    assert split.spec.kind == "integer_lookup" and split.spec.vocabulary == [-1, 3, 5, 8, 13]
    ids = tokenize(split.spec, codes).astype(split.numeric_inputs[0].dtype)
    assert ids.ravel().tolist() == [1, 0, 4, 0, 0]
    np.testing.assert_allclose(np.asarray(numeric(ids)), np.asarray(model(tf.constant(codes))), atol=1e-6)
