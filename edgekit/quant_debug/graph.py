"""The op graph of a (calibrated) .tflite, read statically, with each op mapped back to its Keras layer.

TFLite names an op's output tensor after the TensorFlow ops fused into it, and those carry the Keras layer's
name scope: ``functional_1/spike_1/MatMul;functional_1/spike_1/Relu;...`` belongs to layer ``spike`` (Keras 3's
export adds ``_1`` to every scope). An op whose output has no scope (the signature's own output names, e.g.
``StatefulPartitionedCall_1:0``) belongs to the layer of the op that feeds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgekit.tflite_inspect import enum_names, load_schema

_SUFFIX = re.compile(r"_\d+$")


@dataclass
class Op:
    index: int
    kind: str  # FULLY_CONNECTED, CONV_2D, ...
    output: str  # name of its first output tensor: what the quantizer's denylist matches
    inputs: list[int]
    outputs: list[int]
    layer: str = ""


@dataclass
class Graph:
    ops: list[Op] = field(default_factory=list)

    def layers(self) -> list[str]:
        """Keras layer names in the order their first op runs (the depth order of the plot)."""
        return list(dict.fromkeys(op.layer for op in self.ops))

    def ops_of(self, layers: list[str] | tuple[str, ...]) -> list[Op]:
        wanted = set(layers)
        return [op for op in self.ops if op.layer in wanted]

    def consumers(self, layer: str) -> list[str]:
        """Layers whose ops read a tensor that ``layer`` writes."""
        written = {t for op in self.ops if op.layer == layer for t in op.outputs}
        return list(dict.fromkeys(op.layer for op in self.ops
                                  if op.layer != layer and written.intersection(op.inputs)))


def layer_of(tensor_name: str) -> str:
    """``functional_1/spike_1/MatMul;...`` -> ``spike``; '' when the name carries no layer scope."""
    first = tensor_name.split(";", 1)[0]
    parts = first.split("/")
    if len(parts) < 2:
        return ""
    return _SUFFIX.sub("", parts[1]) if len(parts) > 2 else _SUFFIX.sub("", parts[0])


def read(blob: bytes) -> Graph:
    """Subgraph 0's ops in execution order, each with its Keras layer."""
    schema = load_schema()
    model = schema.Model.GetRootAsModel(blob, 0)
    names = enum_names(schema.BuiltinOperator)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(names.get(code, f"BUILTIN_{code}"))
    sg = model.Subgraphs(0)
    graph = Graph()
    producer: dict[int, Op] = {}
    for i in range(sg.OperatorsLength()):
        raw = sg.Operators(i)
        ins = [int(x) for x in raw.InputsAsNumpy()] if raw.InputsLength() else []
        outs = [int(x) for x in raw.OutputsAsNumpy()] if raw.OutputsLength() else []
        name = (sg.Tensors(outs[0]).Name() or b"").decode() if outs else ""
        op = Op(i, codes[raw.OpcodeIndex()], name, ins, outs, layer_of(name))
        if not op.layer:
            fed_by = [producer[t].layer for t in ins if t in producer]
            op.layer = fed_by[0] if fed_by else f"{op.kind.lower()}_{i}"
        for t in outs:
            producer[t] = op
        graph.ops.append(op)
    return graph
