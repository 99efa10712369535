"""The ``fused`` RNN lowering: rebuild the network in tf_keras (Keras 2) with the same weights.

Keras 2 marks its LSTM as fusable, so ``TFLiteConverter.from_keras_model`` turns each LSTM into one
UNIDIRECTIONAL_SEQUENCE_LSTM op (smallest file, int8-capable kernel). The rebuild is checked against the
source model and its flatbuffer is inspected to prove the fused op was emitted. See edgekit.formats.lstm.
"""

from __future__ import annotations

import inspect as _pyinspect
from typing import Any

from edgekit.errors import ConversionError
from edgekit.formats.rnn import FUSABLE, UNROLLABLE, assert_same, is_rnn, rnn_config
from edgekit.manifest import TensorSpec

FUSED_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"

# Config keys that describe how weights were made, not what the layer computes: weights are copied.
_DROP_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_ALWAYS_DROP = {"activity_regularizer", "seed", "quantization_config", "build_config", "lora_rank",
                "lora_alpha", "lora_enabled"}

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
    if class_name in UNROLLABLE:
        # Dropout is inactive at inference, and in tf_keras any recurrent_dropout disables the fusable
        # standard_lstm implementation, so zero both: the output check still guards the result.
        out["dropout"] = 0.0
        out["recurrent_dropout"] = 0.0
        out["unroll"] = False
    return out


def _refuse_for_fused(layer: Any) -> None:
    name = type(layer).__name__
    cfg = layer.get_config()
    if is_rnn(layer) and name not in FUSABLE:  # GRU, SimpleRNN, RNN, ConvLSTM1D/2D/3D
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
        rcfg = rnn_config(layer)
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


def fused(keras_model: Any, inputs: list[TensorSpec], x: Any) -> tuple[Any, dict[str, Any]]:
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
    diff = assert_same(ref, got, "the tf_keras rebuild")

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


