"""Coral Edge TPU: pre-flight the full-int8 model, then compile it with ``edgetpu_compiler`` when installed.

The pre-flight reads the .tflite flatbuffer (no interpreter) and checks what the Edge TPU compiler requires
(https://coral.ai/docs/edgetpu/models-intro/): every tensor an op computes on is 8-bit quantized (int32 is
fine for biases and shapes; float only at a QUANTIZE/DEQUANTIZE edge), every shape is static, and which ops
the Edge TPU runs. An op outside that list does not fail compilation: the compiler maps the graph up to the
first such op and leaves it and everything after it on the CPU, which the pre-flight says up front.

Op *versions* are recorded with the ops; Coral publishes no per-version table, so the compiler's own log is
the authority on them when it runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from typing import Any

from edgekit.errors import ConversionError
from edgekit.formats import Context, Target
from edgekit.manifest import Artifact

EDGETPU_PATH = "model_int8_edgetpu.tflite"
_INPUT = "edgetpu_input_int8.tflite"  # the int8 model the compiler reads; removed after compiling
COMPILER = "edgetpu_compiler"
COMPILER_INSTALL = ("edgetpu_compiler is not installed: on x86-64 Debian/Ubuntu add Coral's apt repository "
                    "(https://coral.ai/docs/edgetpu/compiler/) and apt-get install edgetpu-compiler")

# Builtin ops the Edge TPU executes (Coral's "supported operations" table, in TFLite builtin names).
EDGETPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS", "FULLY_CONNECTED",
    "L2_NORMALIZATION", "LOGISTIC", "UNIDIRECTIONAL_SEQUENCE_LSTM", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM",
    "MUL", "PACK", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1",
    "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH",
    "SPLIT", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE",
    "TRANSPOSE_CONV", "DEQUANTIZE",
})
_EDGE_OPS = {"QUANTIZE", "DEQUANTIZE"}


def preflight(data: bytes) -> dict[str, Any]:
    """What the Edge TPU compiler will say about this .tflite, read statically.

    Returns ``{"ok", "failures", "warnings", "ops", "first_cpu_op"}``: ``ok`` is False when the compiler
    would refuse the model (not fully quantized, dynamic shapes)."""
    from edgekit.tflite_inspect import dynamic_tensors, enum_names, inspect, load_schema

    info = inspect(data)  # also validates the flatbuffer
    schema = load_schema()
    model = schema.Model.GetRootAsModel(data, 0)
    op_names = enum_names(schema.BuiltinOperator)
    type_names = {k: v.lower() for k, v in enum_names(schema.TensorType).items()}
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        codes.append(op_names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "CUSTOM"))

    float_tensors: list[str] = []
    dynamic: list[str] = []
    unsupported: list[str] = []
    first_cpu_op: str | None = None
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        dynamic += [f"{name} {sig}" for name, sig in dynamic_tensors(sg)]
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name = codes[op.OpcodeIndex()]
            if name not in EDGETPU_OPS:
                unsupported.append(name)
                first_cpu_op = first_cpu_op or name
            if name in _EDGE_OPS:
                continue  # float on one side of a (de)quantize at the model's edge is what it is for
            ins = list(op.InputsAsNumpy()) if op.InputsLength() else []
            outs = list(op.OutputsAsNumpy()) if op.OutputsLength() else []
            for idx in ins + outs:
                if idx < 0:
                    continue
                t = sg.Tensors(int(idx))
                dtype = type_names.get(t.Type(), str(t.Type()))
                if dtype not in ("int8", "uint8", "int32"):
                    float_tensors.append(f"{(t.Name() or b'').decode()} ({dtype}, {name})")

    failures, warnings = [], []
    if float_tensors:
        failures.append(f"not fully int8-quantized: {len(float_tensors)} tensors are not int8/uint8, e.g. "
                        f"{', '.join(sorted(set(float_tensors))[:3])}; use the full-int8 conversion (--calibration)")
    if dynamic:
        failures.append(f"dynamic shapes: {len(dynamic)} tensors have unknown dimensions, e.g. {dynamic[0]}; "
                        "the Edge TPU compiler refuses them: build the model with a fixed batch "
                        "(keras.Input(shape, batch_size=1)) and static sizes, then convert again")
    if info.custom_ops:
        failures.append(f"custom ops {sorted(set(info.custom_ops))}: the Edge TPU compiler accepts builtins only")
    if unsupported:
        warnings.append(f"ops the Edge TPU does not run: {', '.join(sorted(set(unsupported)))}; the compiler "
                        f"leaves the first one ({first_cpu_op}) and every op after it on the CPU")
    return {"ok": not failures, "failures": failures, "warnings": warnings, "ops": info.op_summary(),
            "first_cpu_op": first_cpu_op, "static_shapes": not dynamic, "quantized": not float_tensors}


def freeze_batch(data: bytes) -> bytes | None:
    """The same model with a static batch of 1, or None when other dimensions are dynamic too.

    edgekit exports SavedModels with an unknown batch; the converter then writes shape_signature [-1, ...]
    while every tensor's concrete shape already has batch 1. The Edge TPU compiler refuses any -1
    ("dynamic-sized tensors", google-coral/edgetpu#829), so the batch is pinned to the 1 it already is.
    """
    import flatbuffers

    from edgekit.tflite_inspect import load_schema

    schema = load_schema()
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    changed = False
    for sg in m.subgraphs or []:
        for t in sg.tensors or []:
            if t.shapeSignature is None or len(t.shapeSignature) == 0:
                continue
            sig, shape = [int(d) for d in t.shapeSignature], [int(d) for d in t.shape]
            if any(d < 0 for d in sig[1:]) or (sig[0] < 0 and (not shape or shape[0] != 1)):
                return None  # truly dynamic: not ours to decide
            if sig[0] < 0:
                t.shapeSignature = None  # no signature: the concrete shape is the only shape
                changed = True
    if not changed:
        return data
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


_COUNT = re.compile(r"Number of operations that will run on (Edge TPU|CPU):\s*(\d+)")
_ROW = re.compile(r"^\s*([A-Z][A-Z0-9_]+)\s+(\d+)\s+(.+?)\s*$")


def parse_compiler_log(text: str) -> dict[str, Any]:
    """The summary ``edgetpu_compiler -s`` prints: ops mapped to the Edge TPU vs left on the CPU, and why."""
    out: dict[str, Any] = {"on_edgetpu": None, "on_cpu": None, "ops": []}
    for where, n in _COUNT.findall(text):
        out["on_edgetpu" if where == "Edge TPU" else "on_cpu"] = int(n)
    in_table = False
    for line in text.splitlines():
        if line.strip().startswith("Operator") and "Count" in line and "Status" in line:
            in_table = True
            continue
        m = _ROW.match(line) if in_table else None
        if m:
            out["ops"].append({"op": m.group(1), "count": int(m.group(2)), "status": m.group(3)})
    version = re.search(r"Edge TPU Compiler version\s+(\S+)", text)
    out["version"] = version.group(1) if version else None
    return out


def convert(ctx: Context, target: Target) -> Artifact:
    """Full-int8 TFLite, pre-flight, then edgetpu_compiler. Without the compiler: a failed artifact that still
    carries the pre-flight (which says whether compiling would work), with the install hint as its reason."""
    from edgekit.formats import tflite

    int8 = tflite.convert(ctx, Target("tflite-int8", "tflite", "int8", _INPUT, needs_calibration=True))
    src = ctx.staging / _INPUT
    try:
        frozen = freeze_batch(src.read_bytes())
        if frozen is not None:
            src.write_bytes(frozen)
        check = preflight(src.read_bytes())
        art = replace(int8, id=target.id, format=target.format, variant="int8", path=target.path,
                      notes=list(int8.notes), extra={"ops": check["ops"], "preflight": check})
        if frozen is not None:
            art.notes.append("batch pinned to 1 (the Edge TPU compiler accepts static shapes only)")
        art.converter = dict(int8.converter, tool="tf.lite.TFLiteConverter + edgetpu_compiler")
        if not check["ok"]:
            return _failed(art, "Edge TPU pre-flight failed: " + "; ".join(check["failures"]))
        art.notes += check["warnings"]
        exe = shutil.which(COMPILER)
        if exe is None:
            return _failed(art, f"{COMPILER_INSTALL} (pre-flight passed: the model is compilable)")
        out_dir = ctx.scratch("edgetpu")  # the compiler's output folder; never part of the artifacts
        proc = subprocess.run([exe, "-s", "-o", str(out_dir), str(src)], capture_output=True, text=True,
                              timeout=600, check=False)
        log = proc.stdout + proc.stderr
        compiled = out_dir / _INPUT.replace(".tflite", "_edgetpu.tflite")
        if proc.returncode != 0 or not compiled.is_file():
            last = [ln for ln in log.splitlines() if ln.strip()][-1:] or ["no output"]
            raise ConversionError(f"edgetpu_compiler failed (exit {proc.returncode}): {last[0][:300]}")
        compiled.replace(ctx.staging / target.path)
        report = parse_compiler_log(log)
        art.extra["compiler"] = report
        art.converter["edgetpu_compiler"] = report.get("version")
        if report.get("on_cpu"):
            art.notes.append(f"edgetpu_compiler left {report['on_cpu']} ops on the CPU")
        return art
    finally:
        src.unlink(missing_ok=True)


def _failed(art: Artifact, reason: str) -> Artifact:
    art.status, art.reason = "failed", reason
    return art


__all__ = ["EDGETPU_OPS", "EDGETPU_PATH", "convert", "parse_compiler_log", "preflight"]
