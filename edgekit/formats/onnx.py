"""ONNX through tf2onnx, in-process, from the canonical SavedModel's serving signature."""

from __future__ import annotations

from typing import Any

from edgekit.errors import ConversionError, first_line
from edgekit.formats import Context, Target, shared_load
from edgekit.manifest import Artifact


def convert(ctx: Context, target: Target) -> Artifact:
    import tf2onnx
    from tf2onnx import tf_loader
    from tf2onnx.convert import from_graph_def

    shared_load.install("tensorflow.saved_model")

    out = ctx.staging / target.path
    opset = ctx.options.opset
    try:
        graph_def, in_names, out_names, rename = tf_loader.from_saved_model(
            str(ctx.saved_model_dir), None, None, tag="serve", signatures=["serving_default"],
            return_tensors_to_rename=True)
        model_proto, _ = from_graph_def(graph_def, input_names=in_names, output_names=out_names, opset=opset,
                                        tensors_to_rename=rename)
    except Exception as e:  # tf2onnx raises plain Exceptions for unsupported ops
        raise ConversionError(f"ONNX conversion (opset {opset}) failed: {first_line(e)}") from e
    rewritten = replace_erfc(model_proto)
    out.write_bytes(model_proto.SerializeToString())
    graph_in = [i.name for i in model_proto.graph.input]
    graph_out = [o.name for o in model_proto.graph.output]
    art = Artifact(
        id=target.id, format=target.format, variant=target.variant, path=target.path,
        converter={"tool": "tf2onnx", "version": tf2onnx.__version__, "options": {"opset": opset}},
    )
    art.io_names = {"inputs": _order(ctx.inputs, graph_in), "outputs": _order(ctx.outputs, graph_out)}
    if rewritten:
        art.notes.append(f"{rewritten} Erfc node(s) (exact GELU) written as 1 - Erf(x): Erfc is not an ONNX "
                         "operator and tf2onnx passes it through")
    return art


def replace_erfc(model: Any) -> int:
    """Rewrite every ``Erfc(x)`` node as ``1 - Erf(x)`` (exact: erfc is defined so); returns how many.

    TensorFlow's exact GELU is ``0.5 * x * erfc(-x / sqrt 2)``; tf2onnx 1.17 copies the TF ``Erfc`` op into
    the ONNX graph, where no runtime knows it ("No Op registered for Erfc").
    """
    from onnx import TensorProto, helper, shape_inference

    graph = model.graph
    if not any(n.op_type == "Erfc" and n.domain in ("", "ai.onnx") for n in graph.node):
        return 0
    try:
        typed = shape_inference.infer_shapes(model).graph
        types = {v.name: v.type.tensor_type.elem_type for v in [*typed.value_info, *typed.input, *typed.output]}
    except Exception:  # inference is only used to pick the constant's dtype; float32 is TF's Erfc type here
        types = {}
    new_nodes, count, ones = [], 0, {}
    for node in graph.node:
        if node.op_type != "Erfc" or node.domain not in ("", "ai.onnx"):
            new_nodes.append(node)
            continue
        count += 1
        x, y = node.input[0], node.output[0]
        elem = types.get(x) or types.get(y) or TensorProto.FLOAT
        if elem not in ones:
            ones[elem] = f"edgekit_erfc_one_{elem}"
            graph.initializer.append(helper.make_tensor(ones[elem], elem, [], [1.0]))
        erf = f"{y}__edgekit_erf"
        new_nodes.append(helper.make_node("Erf", [x], [erf], name=f"{node.name}__erf"))
        new_nodes.append(helper.make_node("Sub", [ones[elem], erf], [y], name=f"{node.name}__one_minus"))
    del graph.node[:]
    graph.node.extend(new_nodes)
    return count


def _order(specs: list[Any], names: list[str]) -> list[str]:
    """ONNX tensor names in signature order: tf2onnx renames to the signature keys when it can."""
    out = []
    for s in specs:
        hit = [n for n in names if n == s.name or n.split(":")[0] == s.name]
        if len(hit) != 1:
            if len(specs) == len(names) == 1:
                return list(names)
            raise ConversionError(f"the ONNX graph has no tensor for signature entry {s.name!r} (has {names})")
        out.append(hit[0])
    return out
