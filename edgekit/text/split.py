"""Splitting a Keras model at its leading TextVectorization / StringLookup / IntegerLookup layer.

The layer becomes ``tokenizer.json``; the rest of the model (token ids in) is converted to every format.
Golden and calibration data stay raw strings for the user; the numeric artifacts get the ids the Python
tokenizer makes of them, and the reference outputs are the FULL Keras model's on the raw strings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import manifest as mf
from edgekit.data import DataSet
from edgekit.errors import InputError
from edgekit.text.extract import kind_of, spec_from_layer
from edgekit.text.record import TextRecord
from edgekit.text.spec import FILENAME, TEST_VECTORS, TestVectors, TokenizerSpec, VectorCase
from edgekit.text.tokenize import tokenize

GOLDEN_STRINGS = "golden_strings.npz"
IDS_INPUT = "token_ids"


@dataclass
class TextSplit:
    spec: TokenizerSpec
    layer: Any  # the Keras preprocessing layer
    full_model: Any  # the whole Keras model (strings in): reference outputs
    string_inputs: list[mf.TensorSpec]  # the whole model's signature
    numeric_inputs: list[mf.TensorSpec]  # what the artifacts take

    def to_ids(self, ds: DataSet | None) -> DataSet | None:
        """Raw samples -> token ids through the Python tokenizer (what validate and the apps do)."""
        if ds is None:
            return None
        raw = ds.arrays[self.string_inputs[0].name]
        ids = tokenize(self.spec, raw).astype(self.numeric_inputs[0].dtype)
        return DataSet({IDS_INPUT: ids}, source=ds.source, labels=ds.labels,
                       warnings=list(ds.warnings))

    def reference(self, golden: DataSet, outputs: list[mf.TensorSpec]) -> dict[str, np.ndarray]:
        """The full model's outputs on the raw golden strings (so an error in either half fails validate)."""
        import tensorflow as tf

        raw = golden.arrays[self.string_inputs[0].name]
        dtype = tf.string if self.spec.input.dtype == "string" else tf.int64
        res = [np.asarray(self.full_model(tf.constant(raw[i:i + 32], dtype=dtype), training=False))
               for i in range(0, len(raw), 32)]
        arr = np.concatenate(res, axis=0)
        if len(outputs) != 1:
            raise InputError(f"the text model has {len(outputs)} outputs; edgekit splits text models with one output")
        return {outputs[0].name: arr}

    def keras_ids(self, raw: np.ndarray) -> list[list[Any]]:
        """The Keras layer's own output for each sample alone (the test vectors)."""
        import tensorflow as tf

        dtype = tf.string if self.spec.input.dtype == "string" else tf.int64
        rows = []
        for x in raw:
            rows.append(np.asarray(self.layer(tf.constant(np.asarray(x).reshape(1, -1), dtype=dtype)))[0].tolist())
        return rows

    def write(self, staging: Path, golden: DataSet) -> dict[str, Any]:
        """tokenizer.json, the test vectors and the golden strings; the manifest's ``text`` record."""
        raw = golden.arrays[self.string_inputs[0].name]
        (staging / FILENAME).write_text(self.spec.to_json(), encoding="utf-8")
        spec_sha = mf.sha256_file(staging / FILENAME)
        values = [x.item() for x in np.asarray(raw).reshape(len(raw), -1)[:, 0]]
        cases = [VectorCase(input=v, expected=e) for v, e in zip(values, self.keras_ids(raw), strict=True)]
        vectors = TestVectors(tokenizer_sha256=spec_sha, cases=cases)
        (staging / TEST_VECTORS).write_text(vectors.to_json(), encoding="utf-8")
        np.savez(staging / GOLDEN_STRINGS, **{self.string_inputs[0].name: raw})
        record = TextRecord(
            mode="split", kind=self.spec.kind, tokenizer=FILENAME, test_vectors=TEST_VECTORS,
            golden_strings=GOLDEN_STRINGS, inputs=[_tensor(t) for t in self.string_inputs], artifacts_take=IDS_INPUT,
            sha256={f: mf.sha256_file(staging / f) for f in (FILENAME, TEST_VECTORS, GOLDEN_STRINGS)})
        return record.model_dump(mode="json")


def _tensor(t: mf.TensorSpec) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}


def first_layer(model: Any) -> tuple[Any, Any] | None:
    """(the preprocessing layer, the model input it reads) when the model starts with one, else None."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        return None
    layers = [lyr for lyr in model.layers if type(lyr).__name__ != "InputLayer"]
    if not layers or kind_of(layers[0]) is None:
        return None
    return layers[0], inputs[0]


def split_model(model: Any, string_inputs: list[mf.TensorSpec]) -> tuple[TextSplit, Any] | None:
    """The split and the numeric Keras model (token ids in), or None when the model does not start with a
    text/lookup layer. Refuses (InputError) what cannot be split exactly."""
    found = first_layer(model)
    if found is None:
        return None
    layer, inp = found
    import keras

    out = _output_of(layer, inp)
    spec = spec_from_layer(layer, inp, string_inputs[0].name, out, IDS_INPUT)
    if any(d is None for d in spec.output.shape[1:]):
        raise InputError(f"layer '{layer.name}' has output_sequence_length None: its output length changes with "
                         "each batch, and the numeric model needs a fixed one; set output_sequence_length on the "
                         "layer, or convert with --strings flex")
    symbolic = [None if d is None else int(d) for d in out.shape]
    if spec.output_mode != "int" and len(symbolic) != 2:
        raise InputError(f"layer '{layer.name}' has output_mode {spec.output_mode} on a {spec.input.shape} input: "
                         f"Keras builds the rest of the model for {symbolic} but the layer gives [None, "
                         f"{spec.output.shape[-1]}] at run time, so the model cannot be cut exactly; give the model "
                         "a rank-1 string input (keras.Input(shape=(), dtype='string')), or convert with --strings "
                         "flex")
    ids = keras.Input(shape=tuple(spec.output.shape[1:]), dtype=_keras_dtype(spec), name=IDS_INPUT)
    try:
        if isinstance(model, keras.Sequential):
            rest = [lyr for lyr in model.layers if lyr is not layer]
            numeric = keras.Sequential([ids, *rest], name=f"{model.name}_numeric")
        else:
            # A flat copy of the graph after the layer (the same layers and weights) on the ids input: a nested
            # model here made the LSTM lowering for int8 call the TextVectorization layer again.
            rest = keras.Model(inputs=out, outputs=model.outputs, name=f"{model.name}_numeric")
            numeric = keras.models.clone_model(rest, input_tensors=ids, clone_function=lambda lyr: lyr)
    except Exception as e:  # Keras raises ValueError and friends when the graph cannot be cut there
        raise InputError(f"cannot split the model after layer '{layer.name}' ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200] if str(e) else ''}); the layer's output must be the only "
                         "path from the input, or convert with --strings flex") from e
    numeric_inputs = [mf.TensorSpec(IDS_INPUT, [None, *spec.output.shape[1:]], _keras_dtype(spec))]
    return TextSplit(spec, layer, model, string_inputs, numeric_inputs), numeric


def _output_of(layer: Any, inp: Any) -> Any:
    """The layer's output where it reads the model input (a layer shared with another model has several)."""
    for node in getattr(layer, "_inbound_nodes", []):
        if any(t is inp for t in node.input_tensors):
            return node.output_tensors[0]
    return layer.output


def _keras_dtype(spec: TokenizerSpec) -> str:
    # int32 ids: every runtime takes them (TF.js and onnxruntime-web have no int64 on their wires, TFLite's
    # GATHER takes int32 indices); the layer's int64 ids always fit (a vocabulary has far fewer than 2**31 tokens).
    return "int32" if spec.output_mode == "int" else "float32"


def strings_mode(strings: str, formats: set[str]) -> str:
    """--strings flex applies to TFLite only: without a tflite target it has no effect (convert warns) and the
    model is split as usual."""
    return "flex" if strings == "flex" and "tflite" in formats else "split"


def split_source(source: Any, strings: str) -> tuple[TextSplit | None, Any]:
    """(the split, the source to convert): the numeric model when the Keras model starts with a text/lookup
    layer and ``--strings split``; the source unchanged otherwise."""
    if source.keras_model is None or strings == "flex":
        return None, source
    found = split_model(source.keras_model, source.inputs)
    if found is None:
        return None, source
    split, numeric = found
    return split, dataclasses.replace(source, keras_model=numeric, inputs=split.numeric_inputs)


def flex_record(inputs: list[mf.TensorSpec], strings: str) -> dict[str, Any] | None:
    """--strings flex on a string-input model: the manifest says the artifacts take raw strings."""
    if strings != "flex" or not any(t.dtype == "string" for t in inputs):
        return None
    return TextRecord(mode="flex", inputs=[_tensor(t) for t in inputs]).model_dump(mode="json")

