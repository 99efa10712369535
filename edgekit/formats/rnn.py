"""Recurrent layers: which Keras layer classes they are, where they sit in a model, and the checks that
every lowering of them (edgekit.formats.lstm) shares. The one definition of "an RNN layer" in edgekit:
TFLite conversion asks it whether a model needs lowering, and the lowering uses the same answer.
"""

from __future__ import annotations

from typing import Any

from edgekit.errors import ConversionError
from edgekit.manifest import TensorSpec

# Keras 3 exports all of these as a tf.while_loop over TensorLists, which TFLite cannot lower to builtins.
RNN_CLASSES: frozenset[str] = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D",
                                         "ConvLSTM2D", "ConvLSTM3D"})
# Layers whose Keras 3 config accepts ``unroll`` (Bidirectional is handled through its inner layers).
UNROLLABLE: frozenset[str] = RNN_CLASSES - {"Bidirectional"}
# Layers TFLite has a fused kernel for (UNIDIRECTIONAL_SEQUENCE_LSTM), directly or inside Bidirectional.
FUSABLE: frozenset[str] = frozenset({"LSTM", "Bidirectional"})


# Keras 3 and tf_keras compute the same float32 math with different op orderings (gate matmuls are
# fused differently, the while loop vs the Keras 2 standard_lstm); over a few dozen time steps that
# drifts by ~1e-7..1e-6. 1e-5 of the output scale is well above that and far below any real mismatch
# (a swapped gate or a dropped bias moves outputs by 1e-2 or more).
REBUILD_RTOL = 1e-5


# ---------------------------------------------------------------------------------------------------------
# Discovery


def walk(layer_or_model: Any) -> list[Any]:
    """Every layer under a model, depth first, nested models included (and listed themselves)."""
    out = []
    for layer in getattr(layer_or_model, "layers", []):
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(walk(layer))
    return out


def is_rnn(layer: Any) -> bool:
    return type(layer).__name__ in RNN_CLASSES


def find_rnn_layers(keras_model: Any) -> list[str]:
    """Names of the recurrent layers that need lowering (nested models searched); [] when none."""
    return [layer.name for layer in walk(keras_model) if is_rnn(layer)]


# ---------------------------------------------------------------------------------------------------------
# Checks shared by both strategies


def refuse_common(keras_model: Any, inputs: list[TensorSpec]) -> None:
    if len(inputs) != 1 or len(keras_model.inputs) != 1 or len(keras_model.outputs) != 1:
        raise ConversionError(
            f"RNN lowering handles single-input, single-output models; received {len(keras_model.inputs)} "
            f"input(s) and {len(keras_model.outputs)} output(s). Convert with Select TF ops (Flex) instead"
        )
    for layer in walk(keras_model):
        if is_rnn(layer) and rnn_config(layer).get("stateful"):
            raise ConversionError(
                f"RNN layer {layer.name!r} is stateful=True: its state lives across batches, which neither "
                "lowering reproduces. Rebuild the inference model with stateful=False"
            )


def rnn_config(layer: Any) -> dict[str, Any]:
    """Config of an RNN layer; for Bidirectional, its forward layer's config."""
    if type(layer).__name__ == "Bidirectional":
        return layer.forward_layer.get_config()
    return layer.get_config()


def check_input(inputs: list[TensorSpec], check_inputs: dict[str, Any]) -> Any:
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


def assert_same(ref: Any, got: Any, what: str) -> float:
    """Max abs diff between two float outputs; ConversionError when above the rebuild tolerance."""
    import numpy as np

    ref = np.asarray(ref, dtype=np.float32)
    got = np.asarray(got, dtype=np.float32)
    if ref.shape != got.shape:
        raise ConversionError(f"{what}: output shape {got.shape} differs from the Keras model's {ref.shape}")
    diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    tol = REBUILD_RTOL * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if not np.isfinite(diff) or diff > tol:
        raise ConversionError(
            f"{what} does not reproduce the Keras model: max abs diff {diff:.3g} > {tol:.3g} on check_inputs"
        )
    return diff


