"""Read a .tflite flatbuffer statically: operators and their versions, Flex ops, signature I/O and quantization.

No interpreter and no TensorFlow: this works on a file that a runtime cannot load (a Flex model, an op
version too new for the device's runtime), which is exactly when the facts are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import InputError, MissingDependency


@dataclass
class IOTensor:
    signature_name: str
    tensor_name: str
    shape: list[int]
    shape_signature: list[int]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None


@dataclass
class TfliteInfo:
    ops: dict[str, dict[str, Any]] = field(default_factory=dict)  # "CONV_2D" -> {"versions": [..], "count": n}
    custom_ops: list[str] = field(default_factory=list)
    inputs: list[IOTensor] = field(default_factory=list)
    outputs: list[IOTensor] = field(default_factory=list)

    @property
    def flex_ops(self) -> list[str]:
        return sorted(c for c in self.custom_ops if c.startswith("Flex"))

    @property
    def requires_flex(self) -> bool:
        return bool(self.flex_ops)

    def op_summary(self) -> dict[str, Any]:
        return {"builtin": self.ops, "custom": sorted(set(self.custom_ops))}


def load_schema() -> Any:
    """The generated flatbuffer schema module (``Model``, ``BuiltinOperator``, ``TensorType``, ...)."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # older installs: the schema ships with tflite_runtime-era TensorFlow
        try:
            from tensorflow.lite.python import schema_py_generated as schema  # type: ignore[no-redef]
        except ImportError as e:
            raise MissingDependency("ai-edge-litert", "pip install ai-edge-litert") from e
    return schema


def enum_names(enum_cls: type) -> dict[int, str]:
    """A generated schema enum (e.g. ``schema.BuiltinOperator``) as {value: name}."""
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def operator_codes(model: Any, schema: Any) -> list[str]:
    """Each operator code of a parsed ``schema.Model``: its builtin name, or ``custom:CODE`` for a custom op."""
    names = enum_names(schema.BuiltinOperator)
    out = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        custom = (oc.CustomCode() or b"").decode() if code == schema.BuiltinOperator.CUSTOM else ""
        out.append(f"custom:{custom}" if custom else names.get(code, str(code)))
    return out


def inspect(path_or_bytes: Path | bytes) -> TfliteInfo:
    """Operators (with versions and counts), custom/Flex ops, and signature I/O of a .tflite, read statically."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    schema = load_schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InputError("not a TFLite flatbuffer (missing the TFL3 identifier): truncated or not a .tflite")
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        info = TfliteInfo()
        _read_ops(model, enum_names(schema.BuiltinOperator), info)
        _read_io(model, enum_names(schema.TensorType), info)
        return info
    except (IndexError, ValueError, TypeError, UnicodeDecodeError, AttributeError) as e:
        raise InputError(f"corrupt TFLite flatbuffer ({type(e).__name__}: {e})") from e


def _read_ops(model: Any, op_names: dict[int, str], info: TfliteInfo) -> None:
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        # Builtin codes above 127 live in BuiltinCode; DeprecatedBuiltinCode holds the small ones.
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = op_names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = "CUSTOM:" + (oc.CustomCode() or b"").decode()
        codes.append((name, oc.Version()))
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        for oi in range(sg.OperatorsLength()):
            name, version = codes[sg.Operators(oi).OpcodeIndex()]
            if name.startswith("CUSTOM:"):
                info.custom_ops.append(name.split(":", 1)[1])
                continue
            entry = info.ops.setdefault(name, {"versions": [], "count": 0})
            entry["count"] += 1
            if version not in entry["versions"]:
                entry["versions"].append(version)
                entry["versions"].sort()


def _read_io(model: Any, type_names: dict[int, str], info: TfliteInfo) -> None:
    """Signature inputs/outputs (the first SignatureDef), else subgraph 0's, named by tensor when unnamed."""

    def tensor(sg: Any, idx: int, sig_name: str) -> IOTensor:
        t = sg.Tensors(idx)
        shape = [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else []
        shape_sig = [int(x) for x in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else shape
        q = t.Quantization()
        scale = zp = None
        if q is not None and q.ScaleLength() == 1:
            scale = float(q.ScaleAsNumpy()[0])
            zp = int(q.ZeroPointAsNumpy()[0]) if q.ZeroPointLength() else 0
        return IOTensor(sig_name, (t.Name() or b"").decode(), shape, shape_sig,
                        type_names.get(t.Type(), str(t.Type())).lower(), scale, zp)

    if model.SignatureDefsLength():
        sd = model.SignatureDefs(0)
        sg = model.Subgraphs(sd.SubgraphIndex())
        info.inputs = [tensor(sg, sd.Inputs(i).TensorIndex(), sd.Inputs(i).Name().decode())
                       for i in range(sd.InputsLength())]
        info.outputs = [tensor(sg, sd.Outputs(i).TensorIndex(), sd.Outputs(i).Name().decode())
                        for i in range(sd.OutputsLength())]
    else:
        sg0 = model.Subgraphs(0)
        info.inputs = [tensor(sg0, int(i), "") for i in sg0.InputsAsNumpy()]
        info.outputs = [tensor(sg0, int(i), "") for i in sg0.OutputsAsNumpy()]
    for io in info.inputs + info.outputs:
        if not io.signature_name:
            io.signature_name = io.tensor_name


def dynamic_tensors(subgraph: Any) -> list[tuple[str, list[int]]]:
    """(name, shape signature) of each tensor of a flatbuffer subgraph with an unknown (-1) dimension."""
    out = []
    for ti in range(subgraph.TensorsLength()):
        t = subgraph.Tensors(ti)
        sig = [int(x) for x in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else []
        if any(d < 0 for d in sig):
            out.append(((t.Name() or b"").decode("utf-8", "replace"), sig))
    return out
