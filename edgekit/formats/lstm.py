"""Lower Keras 3 recurrent layers to something the TFLite converter turns into builtin ops.

Keras 3 exports its RNN layers as a ``tf.while_loop`` over TensorLists that the TFLite converter
cannot lower to builtins ("Lowering tensor list ops is failed"), so without help every LSTM model
would need the Flex delegate. Two ways out, both checked numerically against the source model:

* ``fused``: rebuild the network in tf_keras (Keras 2) with the same weights and convert it with
  ``from_keras_model``; Keras 2 marks its LSTM as fusable, so each LSTM becomes one
  UNIDIRECTIONAL_SEQUENCE_LSTM op (smallest file, int8-capable kernel).
* ``unroll``: clone the Keras 3 model with ``unroll=True`` so the loop becomes a straight chain of
  FULLY_CONNECTED/LOGISTIC/TANH/... ops (needs a static sequence length; grows with it).

Measured facts this module relies on (TF 2.19, tf_keras 2.19, Keras 3.15, ai-edge-litert 2.3.0):

* the fused conversion needs a static batch of 1; with ``batch_size=None`` the converter fails on
  ``TensorListReserve`` ("requires element_shape to be static").
* the fused op keeps its hidden/cell state in *variable tensors* that persist across ``Invoke()``:
  the second call on the same input gives a different answer unless the app calls
  ``interpreter.reset_all_variables()`` (C++ ``ResetVariableTensors``) before each inference.
* with ``Embedding(mask_zero=True)`` / ``Masking`` tf_keras does not emit the fused op (the kernel has
  no mask input); the converter produces a WHILE loop instead, so ``fused`` refuses masked models.
* GRU, SimpleRNN and ConvLSTM have no fused TFLite kernel; only ``unroll`` applies to them.

Which layers count as recurrent is defined once, in edgekit.formats.rnn; the tf_keras rebuild lives in
edgekit.formats.lstm_fused.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConversionError
from edgekit.formats.lstm_fused import FUSED_OP, fused
from edgekit.formats.rnn import RNN_CLASSES, UNROLLABLE, assert_same, check_input, find_rnn_layers, refuse_common
from edgekit.manifest import TensorSpec

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import numpy
    import tensorflow as tf

STRATEGIES = ("fused", "unroll", "auto")
__all__ = ["FUSED_OP", "RNN_CLASSES", "STRATEGIES", "find_rnn_layers", "tflite_converter_for_rnn",
           "unrolled_saved_model"]

# The lowering (rebuild, numeric check, probe conversion or SavedModel export) costs seconds and the
# caller asks once per TFLite variant: keep its result per source model. Weak keys so a dropped model
# frees its rebuild; the lock keeps two variants converted in parallel from lowering twice.
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple, tuple[Any, dict[str, Any]]]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()

# ---------------------------------------------------------------------------------------------------------
# unroll: clone the Keras 3 model with unroll=True


def _unrolled_clone(layer: Any) -> Any:
    name = type(layer).__name__
    cfg = layer.get_config()
    if name in UNROLLABLE:
        return type(layer).from_config({**cfg, "unroll": True})
    if name == "Bidirectional":
        cfg = dict(cfg)
        for key in ("layer", "backward_layer"):
            if cfg.get(key):
                cfg[key] = {**cfg[key], "config": {**cfg[key]["config"], "unroll": True}}
        return type(layer).from_config(cfg)
    return type(layer).from_config(cfg)


def _unroll(keras_model: Any, inputs: list[TensorSpec], x: Any, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The unrolled clone, checked and exported as a SavedModel; returns its path."""
    import keras
    import tensorflow as tf

    spec = inputs[0]
    if len(spec.shape) < 2 or spec.shape[1] is None:
        raise ConversionError(
            f"unrolling needs a static sequence length; input {spec.name!r} has shape {spec.shape}. "
            "Give one with --input-shape (e.g. --input-shape 1,50,8)"
        )
    # Building on a static-length Input propagates the length to every RNN even when the source model
    # was built with Input((None, features)).
    new_input = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype, name=spec.name)
    try:
        clone = keras.models.clone_model(keras_model, input_tensors=new_input,
                                         clone_function=_unrolled_clone, recursive=True)
    except (ValueError, TypeError, NotImplementedError) as e:
        raise ConversionError(f"cannot clone the model with unroll=True: {e}") from e
    src_w, dst_w = keras_model.get_weights(), clone.get_weights()
    if len(src_w) != len(dst_w) or any(a.shape != b.shape for a, b in zip(src_w, dst_w, strict=True)):
        raise ConversionError("the unrolled clone has a different weight layout than the source model")
    clone.set_weights(src_w)
    ref = keras_model.predict(x, verbose=0, batch_size=max(1, len(x)))
    got = clone.predict(x, verbose=0, batch_size=max(1, len(x)))
    diff = assert_same(ref, got, "the unrolled clone")

    path = Path(workdir) / "rnn_unrolled_saved_model"
    signature = [tf.TensorSpec([None] + list(spec.shape[1:]), tf.as_dtype(spec.dtype), name=spec.name)]
    try:
        clone.export(str(path), format="tf_saved_model", input_signature=signature, verbose=False)
    except Exception as e:  # export errors come from deep inside TF tracing
        raise ConversionError(f"exporting the unrolled model failed: {type(e).__name__}: {e}") from e
    notes = [
        f"RNN layers unrolled over {spec.shape[1]} time steps (plain builtin ops, no fused kernel); "
        f"clone max abs diff {diff:.2g} on {len(x)} check inputs",
    ]
    return path, {"lstm_lowering": "unrolled", "notes": notes, "requires_state_reset": False}


# ---------------------------------------------------------------------------------------------------------


def tflite_converter_for_rnn(
    keras_model: Any,
    inputs: list[TensorSpec],
    strategy: str,
    workdir: Path,
    check_inputs: dict[str, numpy.ndarray],
) -> tuple[tf.lite.TFLiteConverter, dict[str, Any]]:
    """A TFLite converter that lowers the model's RNN layers to builtin ops, and how it did so.

    strategy: 'fused' | 'unroll' | 'auto' (fused, then unroll). Returns an UNCONFIGURED converter (the
    caller sets optimizations / representative_dataset / supported ops / inference types per variant
    and calls .convert()) plus info {"lstm_lowering": "fused"|"unrolled", "notes": [...],
    "requires_state_reset": bool, ...}. Raises ConversionError when the strategy cannot apply.

    A fused lowering also returns info["probe_tflite"]: the bytes of the unconfigured conversion made to
    prove the fused op is emitted, i.e. what the float32 variant gives; reuse it instead of converting
    again (the LSTM fusion pass takes seconds). It is bytes: keep it out of JSON.
    """
    import tensorflow as tf

    source, info = _lowered(keras_model, inputs, strategy, workdir, check_inputs)
    if info["lstm_lowering"] == "fused":
        return tf.lite.TFLiteConverter.from_keras_model(source), info
    return tf.lite.TFLiteConverter.from_saved_model(str(source)), info


def unrolled_saved_model(keras_model: Any, inputs: list[TensorSpec], workdir: Path,
                         check_inputs: dict[str, numpy.ndarray]) -> tuple[Path, dict[str, Any]]:
    """The model with every RNN layer unrolled, checked against it and exported as a SavedModel (cached like
    the TFLite lowering): a graph of plain ops for converters whose runtimes cannot run Keras 3's
    While/TensorList loop (TF.js). Raises ConversionError when it cannot unroll (no static length)."""
    return _lowered(keras_model, inputs, "unroll", workdir, check_inputs)


def _lowered(keras_model: Any, inputs: list[TensorSpec], strategy: str, workdir: Path,
             check_inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    if strategy not in STRATEGIES:
        raise ConversionError(f"unknown RNN lowering strategy; received strategy={strategy!r}, "
                              f"expected one of {STRATEGIES}")
    # workdir is not part of the key: a cached unrolled SavedModel is reused while it still exists.
    key = (strategy, tuple((t.name, tuple(t.shape), t.dtype) for t in inputs))
    with _CACHE_LOCK:
        entry = _CACHE.get(keras_model, {}).get(key)
        if entry is None or (entry[1].get("lstm_lowering") == "unrolled" and not Path(entry[0]).exists()):
            try:
                entry = _lower(keras_model, inputs, strategy, Path(workdir), check_inputs)
            except ConversionError as e:  # remembered too: the next variant would fail the same way
                entry = (e, {})
            _CACHE.setdefault(keras_model, {})[key] = entry
    source, info = entry
    if isinstance(source, ConversionError):
        raise ConversionError(str(source))  # a fresh error: re-raising the cached one grows its traceback
    return source, {**info, "notes": list(info["notes"])}  # callers may append to their copy


def _lower(keras_model: Any, inputs: list[TensorSpec], strategy: str, workdir: Path,
           check_inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Do the lowering once: (tf_keras model | SavedModel path, info)."""
    if not find_rnn_layers(keras_model):
        raise ConversionError(f"model {keras_model.name!r} has no RNN layer; nothing to lower")
    refuse_common(keras_model, inputs)
    x = check_input(inputs, check_inputs)
    workdir.mkdir(parents=True, exist_ok=True)
    if strategy == "fused":
        return fused(keras_model, inputs, x)
    if strategy == "unroll":
        return _unroll(keras_model, inputs, x, workdir)
    try:
        return fused(keras_model, inputs, x)
    except ConversionError as fused_error:
        try:
            path, info = _unroll(keras_model, inputs, x, workdir)
        except ConversionError as unroll_error:
            raise ConversionError(f"no RNN lowering applies: fused: {fused_error}; unroll: {unroll_error}") \
                from unroll_error
        info["notes"].insert(0, f"fused LSTM not used: {fused_error}")
        return path, info
