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
                                        tensors_to_rename=rename, output_path=str(out))
    except Exception as e:  # tf2onnx raises plain Exceptions for unsupported ops
        raise ConversionError(f"ONNX conversion (opset {opset}) failed: {first_line(e)}") from e
    graph_in = [i.name for i in model_proto.graph.input]
    graph_out = [o.name for o in model_proto.graph.output]
    art = Artifact(
        id=target.id, format=target.format, variant=target.variant, path=target.path,
        converter={"tool": "tf2onnx", "version": tf2onnx.__version__, "options": {"opset": opset}},
    )
    art.io_names = {"inputs": _order(ctx.inputs, graph_in), "outputs": _order(ctx.outputs, graph_out)}
    return art


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
