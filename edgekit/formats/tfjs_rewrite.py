"""Graph rewrites on a converted TF.js model.json that make it run on every TF.js backend (JSON only, no TF).

TensorFlow's grappler fuses ``MatMul``/``Conv2D`` + ``BiasAdd`` (+ an activation) into ``_FusedMatMul`` /
``FusedConv2D`` and tensorflowjs keeps the fused node. TF.js's wasm backend runs a fused node only when its
bias is a rank-1 vector: an unrolled Keras 3 LSTM fuses ``x @ W + h @ U`` (the "bias" is a computed
[batch, units] tensor: "_FusedMatMul only supports rank-1 bias but got rank 3"), and EfficientNet/DenseNet
graphs fuse a rank-4 one ("FusedConv2D only supports rank-1 bias but got rank 4"). :func:`unfuse_bias` splits
exactly those nodes back into the base op, an ``AddV2`` and the activation: the same arithmetic in the same
order, so outputs match the fused graph to float rounding (validate checks them).
"""

from __future__ import annotations

import base64
import copy
from typing import Any

# fused op -> (base op, the base op's own attributes)
BASE = {
    "_FusedMatMul": ("MatMul", ("transpose_a", "transpose_b", "T")),
    "FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")),
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")),
    "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative",
                                   ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")),
}
ACTIVATIONS = ("Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh")
SUFFIX = "/edgekit_unfused"


def _fused_ops(node: dict[str, Any]) -> list[str]:
    raw = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
    return [base64.b64decode(s).decode() for s in raw]


def _rank1_const(name: str, consts: dict[str, dict[str, Any]]) -> bool:
    node = consts.get(name.split(":")[0])
    if node is None:
        return False
    dims = node.get("attr", {}).get("value", {}).get("tensor", {}).get("tensorShape", {}).get("dim", [])
    return len(dims) == 1


def _split(node: dict[str, Any], ops: list[str]) -> list[dict[str, Any]] | None:
    """The unfused chain that replaces ``node`` (the last one keeps its name), or None when not handled."""
    base_op, keep = BASE[node["op"]]
    args = node["input"][2:]
    controls = [i for i in args if i.startswith("^")]
    args = [i for i in args if not i.startswith("^")]
    if not ops or ops[0] != "BiasAdd" or not args:
        return None
    adds = [args[0]] + (args[1:2] if len(ops) > 1 and ops[1] == "Add" else [])
    acts = ops[len(adds):]
    if len(acts) > 1 or any(a not in ACTIVATIONS for a in acts) or len(args) != len(adds):
        return None
    attr = node.get("attr", {})
    t = {"T": attr["T"]} if "T" in attr else {}
    chain = [{"name": node["name"] + SUFFIX + "/base", "op": base_op, "input": node["input"][:2] + controls,
              "attr": {k: copy.deepcopy(v) for k, v in attr.items() if k in keep}}]
    for k, arg in enumerate(adds):
        chain.append({"name": node["name"] + SUFFIX + f"/add{k}", "op": "AddV2", "input": [chain[-1]["name"], arg],
                      "attr": dict(t)})
    for act in acts:
        a = dict(t)
        if act == "LeakyRelu" and "leakyrelu_alpha" in attr:
            a["alpha"] = attr["leakyrelu_alpha"]
        chain.append({"name": node["name"] + SUFFIX + "/act", "op": act, "input": [chain[-1]["name"]], "attr": a})
    chain[-1]["name"] = node["name"]  # consumers keep reading the fused node's name
    return chain


def unfuse_bias(model: dict[str, Any]) -> dict[str, int]:
    """Split, in place, every fused MatMul/Conv2D node whose bias is not a rank-1 constant; returns
    {fused op: count split}. Nodes with other fusions (batch norm, unknown activations) stay as they are."""
    nodes = model.get("modelTopology", {}).get("node", [])
    consts = {n["name"]: n for n in nodes if n.get("op") == "Const"}
    out: list[dict[str, Any]] = []
    done: dict[str, int] = {}
    for node in nodes:
        chain = None
        if node.get("op") in BASE and len(node.get("input", [])) >= 3:
            bias = next((i for i in node["input"][2:] if not i.startswith("^")), "")
            if not _rank1_const(bias, consts):
                chain = _split(node, _fused_ops(node))
        if chain is None:
            out.append(node)
            continue
        out.extend(chain)
        done[node["op"]] = done.get(node["op"], 0) + 1
    if done:
        model["modelTopology"]["node"] = out
    return done
