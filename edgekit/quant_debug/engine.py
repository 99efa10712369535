"""The TensorFlow side: calibrate once, then quantize as often as needed with any layers kept in float.

``TFLiteConverter`` with ``_experimental_calibrate_only`` returns the float model with its calibration
statistics (what ``tf.lite.experimental.QuantizationDebugger`` does on construction); ``mlir_quantize`` then
quantizes it, optionally with ``denylisted_nodes`` (the op output names to keep in float) and with numeric
verification ops for per-layer statistics (what the debugger's ``get_nondebug_quantized_model`` and
``get_debug_quantized_model`` call). One quantization of a small model takes tens of milliseconds, so every
candidate of the search and every layer of the ranking costs a quantization plus a golden-set run, never a
recalibration.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.manifest import QuantParams
from edgekit.quant import dequantize, quantize
from edgekit.quant_debug import graph as gr
from edgekit.quant_debug.records import LayerStat

PER_CHANNEL, PER_TENSOR = "per-channel", "per-tensor"


def calibrate(converter: Any) -> bytes:
    """A configured int8 converter (optimizations, representative_dataset) -> the calibrated float model."""
    converter.experimental_mlir_quantizer = True
    converter._experimental_calibrate_only = True
    return converter.convert()


class Quantizer:
    """One calibrated model; ``quantize(layout, float_layers)`` -> .tflite bytes with int8 (or ``io``) I/O."""

    def __init__(self, calibrated: bytes, io: str = "int8") -> None:
        self.calibrated = calibrated
        self.io = io
        self.graph = gr.read(calibrated)

    def quantize(self, layout: str = PER_CHANNEL, float_layers: list[str] | tuple[str, ...] = (),
                 numeric_verify: bool = False) -> bytes:
        import tensorflow as tf
        from tensorflow.lite.python import convert as tfl_convert

        nodes = [op.output for op in self.graph.ops_of(float_layers)]
        io = tf.as_dtype(self.io)
        # As TFLiteConverter calls it for full-integer models: the I/O types given, fully_quantize off (on, it
        # forces int8 I/O whatever the types say).
        return tfl_convert.mlir_quantize(
            self.calibrated, disable_per_channel=layout == PER_TENSOR,
            input_data_type=tf.float32 if numeric_verify else io, output_data_type=tf.float32 if numeric_verify else io,
            enable_numeric_verify=numeric_verify, denylisted_nodes=nodes or None)

    def float_ops(self, float_layers: list[str] | tuple[str, ...]) -> list[str]:
        return [f"{op.kind}#{op.index}" for op in self.graph.ops_of(float_layers)]


def run(blob: bytes, inputs: dict[str, np.ndarray], output: str | None = None) -> np.ndarray:
    """The model's (first, or ``output``) signature output on ``inputs``, dequantized to float32."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=blob)
    runner = it.get_signature_runner()
    in_details = runner.get_input_details()
    out_name = output if output in runner.get_output_details() else sorted(runner.get_output_details())[0]
    qout = runner.get_output_details()[out_name]
    feeds = {n: quantize_input(inputs[n], d) for n, d in in_details.items()}
    count = len(next(iter(feeds.values())))
    try:
        raw = runner(**feeds)[out_name]
    except (ValueError, RuntimeError):  # a fixed batch size: one sample at a time
        raw = np.concatenate([runner(**{n: v[i:i + 1] for n, v in feeds.items()})[out_name] for i in range(count)])
    return dequantize_output(raw, qout)


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """A float input as the interpreter's input ``detail`` takes it, through the very function validate uses
    (edgekit.quant.quantize), so a candidate scored here scores the same in validate."""
    return quantize(x, _params(detail)) if _quantized(detail) else x.astype(np.dtype(detail["dtype"]))


def dequantize_output(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    return dequantize(x, _params(detail)) if _quantized(detail) else x.astype(np.float32)


def _quantized(detail: dict[str, Any]) -> bool:
    return np.dtype(detail["dtype"]).kind in "iu" and bool(detail["quantization"][0])


def _params(detail: dict[str, Any]) -> QuantParams:
    scale, zero = detail["quantization"]
    return QuantParams(name=detail.get("name", ""), scale=float(scale), zero_point=int(zero),
                       dtype=np.dtype(detail["dtype"]).name)


# ---------------------------------------------------------------------------------------------------------
# Per-layer statistics: every quantized activation against the float op run on the same (dequantized) input.


class _Acc:
    """Running figures of one quantized tensor over the calibration samples."""

    def __init__(self) -> None:
        self.err = self.power = 0.0
        self.count = 0
        self.lo, self.hi = np.inf, -np.inf
        self.values: list[np.ndarray] = []
        self.channel_max: np.ndarray | None = None

    def add(self, q: np.ndarray, f: np.ndarray) -> None:
        f64, q64 = f.astype(np.float64), q.astype(np.float64)
        self.err += float(np.sum(np.square(q64 - f64)))
        self.power += float(np.sum(np.square(f64)))
        self.count += f.size
        self.lo, self.hi = min(self.lo, float(f.min())), max(self.hi, float(f.max()))
        a = np.abs(f64)
        self.values.append(a.ravel()[:: max(1, a.size // 4096)])
        per_channel = a.reshape(-1, a.shape[-1]).max(0) if a.ndim else a.reshape(1)
        self.channel_max = per_channel if self.channel_max is None else np.maximum(self.channel_max, per_channel)


def layer_stats(quantizer: Quantizer, layout: str, samples: list[dict[str, np.ndarray]]) -> list[LayerStat]:
    """LayerStat per quantized activation tensor (NumericVerify ops), in execution order."""
    import tensorflow as tf

    debug = quantizer.quantize(layout, numeric_verify=True)
    it = tf.lite.Interpreter(model_content=debug, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}
    g = gr.read(debug)
    producer = {t: op for op in g.ops for t in op.outputs}
    verify = [op for op in g.ops if op.kind == "CUSTOM" and len(op.inputs) >= 2 and op.inputs[0] in producer]
    accs = {op.index: _Acc() for op in verify}
    inputs = it.get_input_details()
    for sample in samples:
        for d, value in zip(inputs, sample.values(), strict=False):
            it.set_tensor(d["index"], value.astype(d["dtype"]))
        it.invoke()
        for op in verify:
            qd = details[op.inputs[0]]
            scale, zero = qd["quantization"]
            q = it.get_tensor(op.inputs[0]).astype(np.float64)
            accs[op.index].add(scale * (q - zero) if scale else q, it.get_tensor(op.inputs[1]))
    return [_stat(producer[op.inputs[0]], details[op.inputs[0]], accs[op.index]) for op in verify]


def _stat(src: gr.Op, detail: dict[str, Any], acc: _Acc) -> LayerStat:
    scale = float(detail["quantization"][0] or 0.0)
    values = np.concatenate(acc.values) if acc.values else np.zeros(1)
    p999 = float(np.percentile(values, 99.9))
    absmax = float(values.max())
    ch = acc.channel_max if acc.channel_max is not None else np.zeros(1)
    median_ch = float(np.median(ch))
    rmse = (acc.err / max(acc.count, 1)) ** 0.5
    return LayerStat(
        layer=src.layer, op=src.kind, tensor=src.output, scale=scale,
        rmse_over_scale=round(rmse / scale, 6) if scale else 0.0,
        sqnr_db=round(10.0 * float(np.log10(max(acc.power, 1e-30) / acc.err)) if acc.err else 200.0, 3),
        min=acc.lo, max=acc.hi,
        outlier_ratio=round(absmax / p999, 4) if p999 > 0 else 1.0,
        channel_spread=round(float(ch.max()) / median_ch, 4) if median_ch > 0 else float(ch.max() > 0) * 1e6,
        median_channel_steps=round(median_ch / scale, 4) if scale else 0.0)
