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
* GRU and SimpleRNN have no fused TFLite kernel; only ``unroll`` applies to them.
"""

from __future__ import annotations

import inspect as _pyinspect
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConversionError
from edgekit.manifest import TensorSpec

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import numpy
    import tensorflow as tf

RNN_CLASSES: frozenset[str] = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional"})
# Layers whose Keras 3 config accepts ``unroll`` (Bidirectional is handled through its inner layers).
_UNROLLABLE = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN"})
STRATEGIES = ("fused", "unroll", "auto")
FUSED_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"

# Keras 3 and tf_keras compute the same float32 math with different op orderings (gate matmuls are
# fused differently, the while loop vs the Keras 2 standard_lstm); over a few dozen time steps that
# drifts by ~1e-7..1e-6. 1e-5 of the output scale is well above that and far below any real mismatch
# (a swapped gate or a dropped bias moves outputs by 1e-2 or more).
_REBUILD_RTOL = 1e-5

# Config keys that describe how weights were made, not what the layer computes: weights are copied.
_DROP_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
# The lowering (rebuild, numeric check, probe conversion or SavedModel export) costs seconds and the
# caller asks once per TFLite variant: keep its result per source model. Weak keys so a dropped model
# frees its rebuild; the lock keeps two variants converted in parallel from lowering twice.
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple, tuple[Any, dict[str, Any]]]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()
_ALWAYS_DROP = {"activity_regularizer", "seed", "quantization_config", "build_config", "lora_rank",
                "lora_alpha", "lora_enabled"}


# ---------------------------------------------------------------------------------------------------------
# Discovery


def _walk(layer_or_model: Any) -> list[Any]:
    """Every layer under a model, depth first, nested models included (and listed themselves)."""
    out = []
    for layer in getattr(layer_or_model, "layers", []):
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_walk(layer))
    return out


def _is_rnn(layer: Any) -> bool:
    return type(layer).__name__ in RNN_CLASSES


def find_rnn_layers(keras_model: Any) -> list[str]:
    """Names of the recurrent layers that need lowering (nested models searched); [] when none."""
    return [layer.name for layer in _walk(keras_model) if _is_rnn(layer)]


# ---------------------------------------------------------------------------------------------------------
# Checks shared by both strategies


def _refuse_common(keras_model: Any, inputs: list[TensorSpec]) -> None:
    if len(inputs) != 1 or len(keras_model.inputs) != 1 or len(keras_model.outputs) != 1:
        raise ConversionError(
            f"RNN lowering handles single-input, single-output models; received {len(keras_model.inputs)} "
            f"input(s) and {len(keras_model.outputs)} output(s). Convert with Select TF ops (Flex) instead"
        )
    for layer in _walk(keras_model):
        if _is_rnn(layer) and _rnn_config(layer).get("stateful"):
            raise ConversionError(
                f"RNN layer {layer.name!r} is stateful=True: its state lives across batches, which neither "
                "lowering reproduces. Rebuild the inference model with stateful=False"
            )


def _rnn_config(layer: Any) -> dict[str, Any]:
    """Config of an RNN layer; for Bidirectional, its forward layer's config."""
    if type(layer).__name__ == "Bidirectional":
        return layer.forward_layer.get_config()
    return layer.get_config()


def _check_input(inputs: list[TensorSpec], check_inputs: dict[str, Any]) -> Any:
    """The array to compare rewritten and source model on: by input name, or the only one given."""
    import numpy as np

    if not check_inputs:
        raise ConversionError("RNN lowering needs check_inputs to verify the rewritten model; received none")
    x = check_inputs.get(inputs[0].name)
    if x is None:
        if len(check_inputs) != 1:
            raise ConversionError(
                f"check_inputs has no array for input {inputs[0].name!r}; received keys {sorted(check_inputs)}"
            )
        x = next(iter(check_inputs.values()))
    return np.asarray(x)


def _assert_same(ref: Any, got: Any, what: str) -> float:
    """Max abs diff between two float outputs; ConversionError when above the rebuild tolerance."""
    import numpy as np

    ref = np.asarray(ref, dtype=np.float32)
    got = np.asarray(got, dtype=np.float32)
    if ref.shape != got.shape:
        raise ConversionError(f"{what}: output shape {got.shape} differs from the Keras model's {ref.shape}")
    diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    tol = _REBUILD_RTOL * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if not np.isfinite(diff) or diff > tol:
        raise ConversionError(
            f"{what} does not reproduce the Keras model: max abs diff {diff:.3g} > {tol:.3g} on check_inputs"
        )
    return diff


# ---------------------------------------------------------------------------------------------------------
# fused: rebuild through tf_keras


def _chain_layers(model: Any) -> list[Any]:
    """The layers of a model that is one chain (each layer consumes the previous output), flattened.

    Raises ConversionError for branches, merges, shared inputs or multi-output layers.
    """
    if type(model).__name__ == "Sequential":
        layers = list(model.layers)
    else:
        # Walk back from the single output; any node with more than one input tensor is a merge.
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ConversionError(f"nested model {model.name!r} has several inputs or outputs; not a chain")
        layers = []
        tensor = model.outputs[0]
        target = model.inputs[0]
        while tensor is not target:
            history = getattr(tensor, "_keras_history", None)
            if history is None:
                raise ConversionError(f"cannot trace the layer graph of {model.name!r}")
            op = history.operation
            if type(op).__name__ == "InputLayer":
                raise ConversionError(f"model {model.name!r} is not a single chain of layers")
            node = op._inbound_nodes[history.node_index]
            if len(node.input_tensors) != 1 or len(node.output_tensors) != 1:
                raise ConversionError(
                    f"layer {op.name!r} takes {len(node.input_tensors)} inputs / gives "
                    f"{len(node.output_tensors)} outputs: only single-chain models can be rebuilt"
                )
            layers.append(op)
            tensor = node.input_tensors[0]
        layers.reverse()
    flat: list[Any] = []
    for layer in layers:
        if hasattr(layer, "layers"):
            flat.extend(_chain_layers(layer))
        else:
            flat.append(layer)
    return flat


def _plain_dtype(value: Any) -> Any:
    if isinstance(value, dict):  # Keras 3 DTypePolicy dict -> its policy name ("float32", "mixed_float16")
        return value.get("config", {}).get("name", "float32")
    return value


def _sanitize(class_name: str, config: dict[str, Any], tf_cls: type) -> dict[str, Any]:
    """Keras 3 layer config -> kwargs tf_keras accepts. Keys tf_keras does not declare are dropped;
    the output comparison afterwards catches a dropped key that mattered."""
    accepted = set(_pyinspect.signature(tf_cls.__init__).parameters) | {"name", "trainable", "dtype"}
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in _ALWAYS_DROP or key.endswith(_DROP_SUFFIXES) or key not in accepted:
            continue
        if key == "dtype":
            value = _plain_dtype(value)
        elif isinstance(value, dict) and "class_name" in value:
            # A nested serialized object (custom activation, wrapped layer): cannot map it safely.
            raise ConversionError(
                f"layer {config.get('name')!r} ({class_name}) has a serialized object in {key!r} "
                f"({value.get('class_name')}); the tf_keras rebuild only maps plain configs"
            )
        out[key] = value
    if class_name in _UNROLLABLE:
        # Dropout is inactive at inference, and in tf_keras any recurrent_dropout disables the fusable
        # standard_lstm implementation, so zero both: the output check still guards the result.
        out["dropout"] = 0.0
        out["recurrent_dropout"] = 0.0
        out["unroll"] = False
    return out


def _refuse_for_fused(layer: Any) -> None:
    name = type(layer).__name__
    cfg = layer.get_config()
    if name in ("GRU", "SimpleRNN", "RNN"):
        raise ConversionError(
            f"layer {layer.name!r} is a {name}: TFLite has a fused kernel for LSTM only; use unroll"
        )
    if name == "Bidirectional" and type(layer.forward_layer).__name__ != "LSTM":
        raise ConversionError(f"layer {layer.name!r} wraps a {type(layer.forward_layer).__name__}: "
                              "TFLite has a fused kernel for LSTM only; use unroll")
    if name == "Masking" or (name == "Embedding" and cfg.get("mask_zero")):
        raise ConversionError(
            f"layer {layer.name!r} produces a sequence mask: the fused LSTM kernel has no mask input and "
            "the converter falls back to a WHILE loop, so the fused op cannot be used; use unroll"
        )
    if name in ("LSTM", "Bidirectional"):
        rcfg = _rnn_config(layer)
        if rcfg.get("return_state"):
            raise ConversionError(f"LSTM {layer.name!r} has return_state=True; the chain rebuild needs one "
                                  "output per layer")
        bad = {k: rcfg.get(k) for k, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid"),
                                              ("use_bias", True)) if rcfg.get(k) != want}
        if bad:
            raise ConversionError(
                f"LSTM {layer.name!r} has {bad}: the fused kernel needs activation='tanh', "
                "recurrent_activation='sigmoid', use_bias=True; use unroll"
            )
    if name == "Lambda" or type(layer).__module__.split(".")[0] != "keras":
        raise ConversionError(f"layer {layer.name!r} ({name}) is custom code that tf_keras cannot rebuild")


def _to_tf_keras(layer: Any) -> Any:
    import tf_keras

    name = type(layer).__name__
    if name == "Bidirectional":
        fwd, bwd = layer.forward_layer, layer.backward_layer
        return tf_keras.layers.Bidirectional(
            _to_tf_keras(fwd), backward_layer=_to_tf_keras(bwd), merge_mode=layer.merge_mode, name=layer.name
        )
    tf_cls = getattr(tf_keras.layers, name, None)
    if tf_cls is None:
        raise ConversionError(f"layer {layer.name!r} ({name}) has no tf_keras counterpart to rebuild it with")
    try:
        return tf_cls(**_sanitize(name, layer.get_config(), tf_cls))
    except (TypeError, ValueError) as e:
        raise ConversionError(f"tf_keras cannot rebuild layer {layer.name!r} ({name}): {e}") from e


def _expected_fused_ops(layers: list[Any]) -> int:
    return sum(2 if type(x).__name__ == "Bidirectional" else 1 for x in layers
               if type(x).__name__ in ("LSTM", "Bidirectional"))


def _fused(keras_model: Any, inputs: list[TensorSpec], x: Any) -> tuple[Any, dict[str, Any]]:
    """The tf_keras rebuild, checked against the source and proven to emit the fused op."""
    import tensorflow as tf
    import tf_keras

    from edgekit.tflite_inspect import inspect as inspect_tflite

    layers = [lay for lay in _chain_layers(keras_model) if type(lay).__name__ != "InputLayer"]
    for layer in layers:
        _refuse_for_fused(layer)
    spec = inputs[0]
    # batch 1: measured, the fused conversion fails on TensorListReserve with a None batch. The input
    # keeps the signature's name so the .tflite signature matches the manifest (tf_keras says "input_1").
    rebuilt = tf_keras.Sequential(
        [tf_keras.layers.InputLayer(input_shape=tuple(spec.shape[1:]), batch_size=1, dtype=spec.dtype,
                                    name=spec.name)]
        + [_to_tf_keras(layer) for layer in layers],
        name=f"{keras_model.name}_tf_keras",
    )
    for src, dst in zip(layers, rebuilt.layers, strict=True):
        weights = src.get_weights()
        try:
            dst.set_weights(weights)
        except ValueError as e:
            raise ConversionError(f"weights of layer {src.name!r} do not fit its tf_keras rebuild: {e}") from e
    ref = keras_model.predict(x, verbose=0, batch_size=max(1, len(x)))
    got = rebuilt.predict(x.astype(spec.dtype), verbose=0, batch_size=1)
    diff = _assert_same(ref, got, "the tf_keras rebuild")

    # Convert once here: only the flatbuffer proves the fused op was emitted (the converter silently
    # falls back to a WHILE loop or fails when a layer is not fusable).
    try:
        probe = tf.lite.TFLiteConverter.from_keras_model(rebuilt).convert()
    except Exception as e:  # ConverterError carries MLIR text; its last line is the reason
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConversionError(f"the tf_keras rebuild did not convert to TFLite builtins: {last}") from e
    info = inspect_tflite(probe)
    want = _expected_fused_ops(layers)
    have = info.ops.get(FUSED_OP, {}).get("count", 0)
    if info.requires_flex or have < want:
        raise ConversionError(
            f"the tf_keras rebuild converted to {sorted(info.ops)} with {have}/{want} {FUSED_OP} ops "
            f"(flex: {info.flex_ops}); the fused path does not apply"
        )
    notes = [
        f"LSTM layers rebuilt in tf_keras {tf_keras.__version__} and fused into {have} {FUSED_OP} op(s); "
        f"rebuild max abs diff {diff:.2g} on {len(x)} check inputs",
        "input batch fixed at 1: the fused LSTM conversion needs a static batch",
        f"{FUSED_OP} keeps hidden/cell state in variable tensors that persist across invocations: call "
        "interpreter.reset_all_variables() (C++ ResetVariableTensors) before every inference",
    ]
    return rebuilt, {"lstm_lowering": "fused", "notes": notes, "requires_state_reset": True, "batch_size": 1,
                     "probe_tflite": probe}


# ---------------------------------------------------------------------------------------------------------
# unroll: clone the Keras 3 model with unroll=True


def _unrolled_clone(layer: Any) -> Any:
    name = type(layer).__name__
    cfg = layer.get_config()
    if name in _UNROLLABLE:
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
    diff = _assert_same(ref, got, "the unrolled clone")

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
    info = {**info, "notes": list(info["notes"])}  # callers may append to their copy
    if info["lstm_lowering"] == "fused":
        return tf.lite.TFLiteConverter.from_keras_model(source), info
    return tf.lite.TFLiteConverter.from_saved_model(str(source)), info


def _lower(keras_model: Any, inputs: list[TensorSpec], strategy: str, workdir: Path,
           check_inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Do the lowering once: (tf_keras model | SavedModel path, info)."""
    if not find_rnn_layers(keras_model):
        raise ConversionError(f"model {keras_model.name!r} has no RNN layer; nothing to lower")
    _refuse_common(keras_model, inputs)
    x = _check_input(inputs, check_inputs)
    workdir.mkdir(parents=True, exist_ok=True)
    if strategy == "fused":
        return _fused(keras_model, inputs, x)
    if strategy == "unroll":
        return _unroll(keras_model, inputs, x, workdir)
    try:
        return _fused(keras_model, inputs, x)
    except ConversionError as fused_error:
        try:
            path, info = _unroll(keras_model, inputs, x, workdir)
        except ConversionError as unroll_error:
            raise ConversionError(f"no RNN lowering applies: fused: {fused_error}; unroll: {unroll_error}") \
                from unroll_error
        info["notes"].insert(0, f"fused LSTM not used: {fused_error}")
        return path, info
