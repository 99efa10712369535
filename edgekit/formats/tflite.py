"""TFLite variants: float32, float16, dynamic-range and full-integer int8.

All four start from the canonical SavedModel (``TFLiteConverter.from_keras_model`` is broken on Keras 3),
except models with recurrent layers, which go through edgekit.formats.lstm to get builtin ops.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from edgekit import tflite_inspect
from edgekit.errors import ConversionError, first_line
from edgekit.formats import Context, Target, int8_budget, shared_load
from edgekit.formats.rnn import find_rnn_layers
from edgekit.manifest import Artifact, QuantParams

_FLEX_HINTS = ("Select TF ops", "tensor list ops", "SELECT_TF_OPS", "flex")


def _is_flex_error(msg: str) -> bool:
    return any(h.lower() in msg.lower() for h in _FLEX_HINTS)


def _from_saved_model(ctx: Context) -> Any:
    import tensorflow as tf

    shared_load.install("tensorflow.lite.python.lite")
    # One explicit signature key: TF then never mutates the (shared) loaded object.
    return tf.lite.TFLiteConverter.from_saved_model(str(ctx.saved_model_dir), signature_keys=["serving_default"])


def _base_converter(ctx: Context) -> tuple[Any, dict[str, Any]]:
    """A fresh, unconfigured converter plus notes on how recurrent layers were lowered."""

    opts = ctx.options
    if _needs_lowering(ctx):
        from edgekit.formats import lstm

        strategy = ctx.shared.get("lstm_strategy", opts.lstm)
        workdir = ctx.scratch("lstm")  # the unrolled SavedModel; removed when the run's context closes
        try:
            conv, info = lstm.tflite_converter_for_rnn(ctx.keras_model, ctx.inputs, strategy, workdir,
                                                       ctx.check_inputs)
        except ConversionError as e:
            if opts.lstm != "auto":
                raise
            # auto: neither the fused op nor unrolling applies; Select TF ops is the last resort.
            return _from_saved_model(ctx), {
                "lstm_lowering": "flex", "notes": [f"builtin LSTM lowering not possible: {e}"]}
        # Every variant uses the same lowering: remember the one that worked.
        ctx.shared["lstm_strategy"] = "fused" if info.get("lstm_lowering") == "fused" else "unroll"
        return conv, info
    return _from_saved_model(ctx), {}


def _representative(ctx: Context) -> Any:
    ds = ctx.calibration
    names = [t.name for t in ctx.inputs]

    def gen():
        for i in range(ds.samples):
            sample = [ds.arrays[n][i:i + 1] for n in names]
            # One input: a list; several: a dict keyed by signature input name (order-proof).
            yield sample if len(sample) == 1 else dict(zip(names, sample, strict=True))

    return gen


def _configure(conv: Any, ctx: Context, variant: str) -> dict[str, Any]:
    import tensorflow as tf

    opts: dict[str, Any] = {"variant": variant}
    if variant == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
        opts.update(optimizations=["DEFAULT"], supported_types=["float16"])
    elif variant == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        opts.update(optimizations=["DEFAULT"], weights="int8", activations="float32")
    elif variant == "int8":
        io = ctx.options.int8_io  # int8 | uint8 | float32 (edgekit.formats.INT8)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(ctx)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.as_dtype(io)
        conv.inference_output_type = tf.as_dtype(io)
        per_channel = getattr(ctx.options, "int8_weights", "per-channel") != "per-tensor"  # auto: see int8_budget
        if not per_channel:
            conv._experimental_disable_per_channel = True
        opts.update(optimizations=["DEFAULT"], supported_ops=["TFLITE_BUILTINS_INT8"], per_channel=per_channel,
                    inference_input_type=io, inference_output_type=io,
                    calibration_samples=ctx.calibration.samples)
    elif variant == "int16x8":
        # int16 activations, int8 weights: the standard answer to activation outliers where the runtime has the
        # kernels (TFLite/LiteRT CPU reference kernels; not XNNPACK, Edge TPU or most NPUs). Float I/O.
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(ctx)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        opts.update(optimizations=["DEFAULT"], supported_ops=["EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_"
                                                             "WEIGHTS_INT8"], activations="int16", weights="int8",
                    calibration_samples=ctx.calibration.samples)
    return opts


# Recurrent models are lowered by rebuilding and tracing a Keras model; tracing it on one thread while
# another thread converts crashed TensorFlow (segfault, seen in tests). Plain models convert concurrently.
_RNN_LOCK = threading.Lock()


_PROBE_LOCK = threading.Lock()


def _needs_lowering(ctx: Context) -> bool:
    """Whether this Keras model has recurrent layers to lower (computed once per conversion run)."""
    if ctx.keras_model is None or ctx.options.lstm == "flex":
        return False
    with _PROBE_LOCK:
        if "rnn_layers" not in ctx.shared:
            # Recurrent layers anywhere in the model need edgekit.formats.lstm to avoid Flex ops.
            ctx.shared["rnn_layers"] = find_rnn_layers(ctx.keras_model)
    return bool(ctx.shared["rnn_layers"])


def convert(ctx: Context, target: Target) -> Artifact:
    if _needs_lowering(ctx):
        with _RNN_LOCK:
            return _convert(ctx, target)
    return _convert(ctx, target)


def _convert(ctx: Context, target: Target) -> Artifact:
    import tensorflow as tf

    variant = target.variant
    conv, lowering = _base_converter(ctx)
    options = _configure(conv, ctx, variant)
    notes = list(lowering.get("notes", []))
    flex = lowering.get("lstm_lowering") == "flex"
    if flex:
        conv.target_spec.supported_ops = _with_select_ops(conv)
    search = None
    try:
        probe = lowering.get("probe_tflite")
        if variant == "int8" and int8_budget.wanted(ctx.options):  # --int8-max-drop: the budgeted search
            blob, search = int8_budget.search(conv, ctx)
        else:  # the fused lowering already converted once, unconfigured, to check its ops: that is float32
            blob = probe if variant == "float32" and isinstance(probe, bytes) else conv.convert()
    except Exception as e:  # the converter raises ConverterError and friends with long MLIR dumps
        msg = _first_line(e)
        if flex or not _is_flex_error(str(e)) or (ctx.keras_model is not None and ctx.options.lstm not in
                                                   ("auto", "flex")):
            raise ConversionError(f"TFLite {variant} conversion failed: {msg}") from e
        # Some op has no builtin kernel: fall back to Select TF ops and say so loudly.
        conv, lowering = _base_converter(ctx)
        options = _configure(conv, ctx, variant)
        conv.target_spec.supported_ops = _with_select_ops(conv)
        try:
            blob = conv.convert()
        except Exception as e2:
            raise ConversionError(f"TFLite {variant} conversion failed, with Select TF ops too: "
                                  f"{_first_line(e2)}") from e2
        notes.append(f"builtins-only conversion failed ({msg[:160]}); converted with Select TF ops")
    out = ctx.staging / target.path
    out.write_bytes(blob)
    info = tflite_inspect.inspect(blob)
    options["supported_ops"] = options.get("supported_ops", ["TFLITE_BUILTINS"])
    notes += _variant_notes(info, variant)
    if "lstm_lowering" in lowering:
        options["lstm_lowering"] = lowering["lstm_lowering"]
        if lowering.get("batch_size"):
            options["batch_size"] = lowering["batch_size"]
    reset = bool(lowering.get("requires_state_reset"))
    if reset:
        notes.append("fused LSTM keeps its state between calls: call interpreter.reset_all_variables() (C++: "
                     "ResetVariableTensors) before every inference, or results drift after the first")
    art = Artifact(
        id=target.id, format=target.format, variant=variant, path=target.path,
        converter={"tool": "tf.lite.TFLiteConverter", "version": tf.__version__, "options": options},
        requires_flex=info.requires_flex,
        requires_state_reset=reset,
        notes=notes,
        extra={"ops": info.op_summary()},
    )
    if search is not None:
        int8_budget.record(art, search)
    _record_io(art, ctx, info)
    return art


def _variant_notes(info: tflite_inspect.TfliteInfo, variant: str) -> list[str]:
    notes = []
    if info.requires_flex:
        notes.append("requires the Flex delegate (Select TF ops: " + ", ".join(info.flex_ops[:8]) +
                     "): app builds must link tensorflow-lite-select-tf-ops, several MB")
    if variant == "int16x8":
        notes.append("int16 activations x int8 weights: runs on TFLite/LiteRT's CPU kernels (not XNNPACK: slower than "
                     "int8 there); Edge TPU, most NPUs and GPU delegates do not run it")
    if variant == "dynamic":
        notes.append("dynamic-range (hybrid) kernels do not run in XNNPACK: expect it slower than float32 on "
                     "x86/ARM CPUs; it saves size, not time")
    return notes


def _with_select_ops(conv: Any) -> list[Any]:
    import tensorflow as tf

    ops = set(conv.target_spec.supported_ops or {tf.lite.OpsSet.TFLITE_BUILTINS})
    ops.add(tf.lite.OpsSet.SELECT_TF_OPS)
    if tf.lite.OpsSet.TFLITE_BUILTINS_INT8 not in ops:
        ops.add(tf.lite.OpsSet.TFLITE_BUILTINS)
    return list(ops)


def _record_io(art: Artifact, ctx: Context, info: tflite_inspect.TfliteInfo) -> None:
    """Map the flatbuffer's signature I/O onto the manifest's signature order and record quantization."""

    def match(specs: list[Any], tensors: list[tflite_inspect.IOTensor]) -> list[tflite_inspect.IOTensor]:
        by_name = {t.signature_name: t for t in tensors}
        if all(s.name in by_name for s in specs):
            return [by_name[s.name] for s in specs]
        if len(tensors) != len(specs):
            raise ConversionError(f"the TFLite model has {len(tensors)} tensors where the signature has "
                                  f"{len(specs)}")
        # Lowered models (tf_keras rebuild) name tensors differently but keep the order.
        return list(tensors)

    ins, outs = match(ctx.inputs, info.inputs), match(ctx.outputs, info.outputs)
    art.io_names = {"inputs": [t.signature_name for t in ins], "outputs": [t.signature_name for t in outs]}
    for kind, specs, tensors in (("inputs", ctx.inputs, ins), ("outputs", ctx.outputs, outs)):
        for spec, t in zip(specs, tensors, strict=True):
            if t.dtype in ("int8", "uint8", "int16") and t.scale is not None and np.dtype(spec.dtype).kind == "f":
                art.quantization[kind].append(QuantParams(spec.name, t.dtype, t.scale, t.zero_point or 0))


def _first_line(e: BaseException) -> str:
    """The MLIR converter's own "error:" line when it printed one, else the message's first line."""
    for line in str(e).splitlines():
        if "error:" in line:
            return line[line.index("error:"):].strip()[:300]
    return first_line(e)
