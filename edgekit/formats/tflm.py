"""TensorFlow Lite for Microcontrollers: the full-int8 model, pre-flighted for TFLM, as the C files a firmware
compiles, with the tensor arena measured in the real TFLM interpreter.

- The model is the int8 target's own conversion (``formats.tflite``, so int8 options and budgets apply), its
  batch pinned to 1 (``edgetpu.freeze_batch``: edgekit's SavedModels have an unknown batch).
- The pre-flight reads the flatbuffer and names the op and the layer (its output tensor's name) of every
  failure: an op without a kernel in the installed TFLM (read from the runtime, not a hand-kept list), custom
  or Flex ops, float computation (the model must be full int8, int8 input and output), dynamic shapes, a batch
  other than 1. Then the TFLM interpreter loads and invokes it in a child process (``runtimes.tflm.run_probe``),
  which also finds the smallest arena it runs in.
- The artifact is a folder: ``model.tflite``, ``model_data.cc`` / ``model_data.h`` (the model as an aligned
  ``const unsigned char NAME[]`` and ``NAME_len``; ``--tflm-name``), ``micro_op_resolver.h``
  (``MicroMutableOpResolver<N>`` registering exactly the model's ops). The manifest's ``extra.tflm``
  (:class:`TflmRecord`) holds the arena, the recommended arena, the flash bytes, the op list and the TFLM version.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from edgekit.errors import ConversionError
from edgekit.formats import Context, Target, tflm_c
from edgekit.manifest import Artifact

MODEL_FILE = "model.tflite"
_INPUT = "tflm_input_int8.tflite"  # the int8 conversion's output; removed once read
# The measured arena is a host figure: x86-64 pointers (8 bytes) make TFLM's bookkeeping larger than on a
# 32-bit MCU, but optimized kernels (CMSIS-NN, ESP-NN) ask for scratch buffers the reference kernels do not.
HEADROOM = 0.10
_INT_TYPES = ("int8", "int16", "int32", "int64", "bool")
_EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")


class TflmArena(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    bytes: int  # the smallest arena the model allocates and invokes in (TFLM on this host)
    recorded_bytes: int  # TFLM's RecordingMicroAllocator total after an invoke in a large arena
    recommended_bytes: int  # bytes + HEADROOM, rounded up to 1 KiB: what the firmware should declare
    headroom: float
    measured_on: str


class TflmRecord(BaseModel):
    """``extra.tflm`` of a tflm artifact (read back by the runtime, the mcu devices and the mcu bundle)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: str  # tflite-micro's build, with the TFLM commit
    flash_bytes: int  # the model array in flash (the TFLM library and the app come on top)
    arena: TflmArena
    ops: list[str]  # builtin ops, sorted; micro_op_resolver.h registers exactly these
    resolver: str  # "MicroMutableOpResolver<N>"
    c_name: str
    files: list[str]


def recommended(arena: int) -> int:
    return math.ceil(arena * (1 + HEADROOM) / 1024) * 1024


def _layer(sg: Any, op: Any) -> str:
    """The layer an op belongs to, as the converter named its first output tensor (first alias only)."""
    if not op.OutputsLength():
        return "?"
    name = (sg.Tensors(int(op.Outputs(0))).Name() or b"").decode("utf-8", "replace")
    return name.split(";")[0][:100] or "?"


def _tensor_failures(sg: Any, op: Any, opname: str, types: dict[int, str]) -> list[str]:
    if opname in _EDGE_OPS:
        return []
    idx = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
    idx += [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
    floats = sorted({types.get(sg.Tensors(i).Type(), "?") for i in idx if i >= 0} - set(_INT_TYPES))
    if floats:
        return [f"op {opname} at layer '{_layer(sg, op)}' computes in {'/'.join(floats)}: TFLite Micro takes the "
                "full-int8 model (give --calibration data; keep --int8-io int8)"]
    return []


def _shape_failures(sg: Any) -> list[str]:
    from edgekit.tflite_inspect import dynamic_tensors

    return [f"dynamic shape {sig} of tensor '{name.split(';')[0][:100]}': TFLite Micro needs static shapes (build the "
            "model with fixed sizes, batch 1)" for name, sig in dynamic_tensors(sg)]


def _io_failures(info: Any) -> list[str]:
    out = []
    for kind, tensors in (("input", info.inputs), ("output", info.outputs)):
        for t in tensors:
            if t.dtype not in ("int8", "int32"):  # int32: token ids into an embedding (GATHER)
                out.append(f"{kind} '{t.signature_name}' is {t.dtype}: the tflm target takes int8 input and output "
                           "(--int8-io int8)")
            if kind == "input" and t.shape and t.shape[0] != 1:
                out.append(f"input '{t.signature_name}' has batch {t.shape[0]}: TFLite Micro firmware runs batch 1")
    return out


def _capped(lines: list[str], keep: int = 3) -> list[str]:
    return lines[:keep] + ([f"... and {len(lines) - keep} more like these"] if len(lines) > keep else [])


def preflight(data: bytes, supported: frozenset[str] | None) -> dict[str, Any]:
    """What TFLM will say about this .tflite, read statically; ``supported``: the installed TFLM's builtin ops
    (None when they could not be read: that check is skipped, the interpreter's load still decides).

    Returns ``{"ok", "failures", "ops"}``; every failure names the op and its layer, or the tensor."""
    from edgekit.tflite_inspect import enum_names, inspect, load_schema, operator_codes

    info, schema = inspect(data), load_schema()  # inspect also validates the flatbuffer
    model = schema.Model.GetRootAsModel(data, 0)
    codes = operator_codes(model, schema)
    types = {k: v.lower() for k, v in enum_names(schema.TensorType).items()}
    failures: list[str] = []
    floats: list[str] = []
    ops: set[str] = set()
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name = codes[op.OpcodeIndex()]
            if name.startswith("custom:"):
                kind = "Flex (Select TF) op" if name.startswith("custom:Flex") else "custom op"
                failures.append(f"{kind} {name[7:]} at layer '{_layer(sg, op)}': TFLite Micro runs builtin ops only")
                continue
            ops.add(name)
            if (supported is not None and name not in supported) or name not in tflm_c.RESOLVER_METHODS:
                failures.append(f"op {name} at layer '{_layer(sg, op)}' has no kernel in TFLite Micro")
            floats += _tensor_failures(sg, op, name, types)
        failures += _capped(_shape_failures(sg))
    failures = _capped(floats) + failures + _io_failures(info)
    return {"ok": not failures, "failures": list(dict.fromkeys(failures)), "ops": sorted(ops)}


def probe_failure(probe: dict[str, Any]) -> str:
    """One line from a failed TFLM load: the error and TFLM's own most telling lines (which node, which type)."""
    telling = [ln.strip() for ln in probe.get("log", []) if "[RecordingMicroAllocator]" not in ln][-3:]
    return f"TFLite Micro refuses the model: {probe.get('error')}" + (f" ({' | '.join(telling)})" if telling else "")


def convert(ctx: Context, target: Target) -> Artifact:
    """int8 TFLite -> batch 1 -> pre-flight -> TFLM load + arena -> the folder of files."""
    from edgekit.formats import tflite
    from edgekit.formats.edgetpu import freeze_batch
    from edgekit.runtimes import tflm as runtime

    missing = runtime.unavailable_reason()
    if missing:
        raise ConversionError(missing)
    io = getattr(ctx.options, "int8_io", "int8")
    if io != "int8":
        raise ConversionError(f"the tflm target takes int8 input and output; --int8-io {io} was given: convert "
                              "tflm without --int8-io (or in a separate run)")
    int8 = tflite.convert(ctx, Target("tflite-int8", "tflite", "int8", _INPUT, needs_calibration=True))
    src = ctx.staging / _INPUT
    try:
        data = src.read_bytes()
    finally:
        src.unlink(missing_ok=True)
    data = freeze_batch(data) or data
    art = replace(int8, id=target.id, format=target.format, variant="int8", path=target.path,
                  notes=list(int8.notes), extra=dict(int8.extra))  # ops, and the int8 search when budgeted
    art.converter = dict(int8.converter, tool="tf.lite.TFLiteConverter + TFLite Micro")
    work = ctx.scratch("tflm") / MODEL_FILE
    work.write_bytes(data)
    probe = runtime.run_probe(work)
    supported = frozenset(probe["supported_ops"]) if "supported_ops" in probe else None
    check = preflight(data, supported)
    art.extra["preflight"] = check
    if not check["ok"]:
        return _failed(art, "TFLite Micro pre-flight failed: " + "; ".join(check["failures"]))
    if not probe.get("ok"):
        return _failed(art, probe_failure(probe))
    record = _write(ctx.staging / target.path, data, check["ops"], probe, ctx.options)
    art.extra["tflm"] = record.model_dump()
    art.notes.append(f"TFLM arena {record.arena.bytes} B (declare {record.arena.recommended_bytes} B), flash "
                     f"{record.flash_bytes} B, {record.resolver}")
    return art


def _write(folder: Path, data: bytes, ops: list[str], probe: dict[str, Any], options: Any) -> TflmRecord:
    name = getattr(options, "tflm_name", "g_model")
    folder.mkdir()
    files = {MODEL_FILE: data, tflm_c.MODEL_CC: tflm_c.model_source(name, data).encode(),
             tflm_c.MODEL_H: tflm_c.model_header(name).encode(),
             tflm_c.RESOLVER_H: tflm_c.resolver_header(ops).encode()}
    for file, blob in files.items():
        (folder / file).write_bytes(blob)
    arena = int(probe["arena_bytes"])
    return TflmRecord(
        version=str(probe["version"]), flash_bytes=len(data), ops=ops, c_name=name, files=sorted(files),
        resolver=f"MicroMutableOpResolver<{len(ops)}>",
        arena=TflmArena(bytes=arena, recorded_bytes=int(probe["recorded_bytes"]), recommended_bytes=recommended(arena),
                        headroom=HEADROOM, measured_on="x86-64 host, TFLM reference kernels"))


def record_of(art: Artifact) -> TflmRecord | None:
    """The typed ``extra.tflm`` of an artifact (None when it has none)."""
    doc = (art.extra or {}).get("tflm")
    return TflmRecord.model_validate(doc) if doc else None


def _failed(art: Artifact, reason: str) -> Artifact:
    art.status, art.reason = "failed", reason
    return art


__all__ = ["HEADROOM", "MODEL_FILE", "TflmArena", "TflmRecord", "convert", "preflight", "probe_failure",
           "recommended", "record_of"]
