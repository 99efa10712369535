"""TF.js graph model through tensorflowjs' own SavedModel converter, in-process (TF already imported)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgekit.errors import ConversionError, first_line
from edgekit.formats import Context, Target, shared_load
from edgekit.formats.tfjs_rewrite import unfuse_bias
from edgekit.manifest import Artifact


def convert(ctx: Context, target: Target) -> Artifact:
    # tensorflowjs imports tensorflow_decision_forests, which prints an advert unless this is set.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    import tensorflowjs
    from tensorflowjs.converters import tf_saved_model_conversion_v2 as tfjs_conv

    shared_load.install("tensorflowjs.converters.tf_saved_model_conversion_v2")

    out = ctx.staging / target.path
    q = ctx.options.tfjs_quantize
    options: dict[str, Any] = {"input_format": "tf_saved_model", "signature_def": "serving_default",
                               "quantize": q, "use_structured_outputs_names": True}
    source, notes = _graph_source(ctx, options)
    try:
        tfjs_conv.convert_tf_saved_model(
            str(source), str(out),
            signature_def="serving_default", saved_model_tags="serve",
            # {dtype: True} quantizes every weight to that dtype.
            quantization_dtype_map=None if q == "none" else {q: True},
            use_structured_outputs_names=True,
        )
    except Exception as e:  # tfjs raises ValueError for unsupported ops, among others
        raise ConversionError(f"TF.js conversion failed: {first_line(e)}") from e
    model_json = json.loads((out / "model.json").read_text())
    split = unfuse_bias(model_json)
    if split:
        (out / "model.json").write_text(json.dumps(model_json), encoding="utf-8")
        options["unfused_bias"] = split
        notes.append(f"unfused {', '.join(f'{n} {op}' for op, n in split.items())} node(s) whose bias is not a "
                     "rank-1 constant (TF.js's wasm backend runs only those fused): MatMul/Conv2D + AddV2")
    variant = "float32" if q == "none" else f"weights-{q}"
    art = Artifact(
        id=target.id, format=target.format, variant=variant, path=target.path,
        converter={"tool": "tensorflowjs", "version": tensorflowjs.__version__, "options": options},
    )
    art.io_names = _io_names(model_json, ctx)
    art.notes.extend(notes)
    if q != "none":
        art.notes.append(f"weights stored as {q} and dequantized to float32 at load time: smaller download, "
                         "same compute")
    return art


def _graph_source(ctx: Context, options: dict[str, Any]) -> tuple[Path, list[str]]:
    """The SavedModel to convert: the canonical one, or for a model with RNN layers its unrolled clone.

    Keras 3 exports LSTM/GRU as a While loop over TensorLists; TF.js converts it but cannot run it on any
    backend ("Cannot compute the outputs [Identity] from the provided inputs"). The unrolled clone is a
    chain of MatMul/Sigmoid/Tanh/Mul/Add that every TF.js backend runs."""
    if ctx.keras_model is None:
        return ctx.saved_model_dir, []
    from edgekit.formats.rnn import find_rnn_layers

    if not find_rnn_layers(ctx.keras_model):
        return ctx.saved_model_dir, []
    from edgekit.formats import lstm

    try:
        path, info = lstm.unrolled_saved_model(ctx.keras_model, ctx.inputs, ctx.scratch("tfjs_rnn"),
                                               ctx.check_inputs)
    except ConversionError as e:
        return ctx.saved_model_dir, [f"RNN layers not unrolled for TF.js ({e}): TF.js cannot run Keras 3's "
                                     "recurrent loop; use the ONNX artifact (onnxruntime-web) or the .tflite "
                                     "(LiteRT.js) in the browser"]
    options["rnn_lowering"] = "unrolled"
    return path, [f"TF.js: {n} (TF.js cannot run Keras 3's While/TensorList recurrent loop)" for n in info["notes"]]


def _io_names(model_json: dict[str, Any], ctx: Context) -> dict[str, list[str]]:
    """Tensor names to feed and fetch, in the manifest's signature order, taken from model.json."""
    sig = (model_json.get("signature") or {})
    ins, outs = sig.get("inputs") or {}, sig.get("outputs") or {}

    def pick(specs: list[Any], table: dict[str, Any]) -> list[str]:
        names = []
        for s in specs:
            if s.name in table:
                names.append(table[s.name].get("name", s.name))
            else:
                hit = [v.get("name") for k, v in table.items() if k.split(":")[0] == s.name]
                if len(hit) != 1:
                    raise ConversionError(f"TF.js model.json has no signature entry for {s.name!r} (has "
                                          f"{sorted(table)})")
                names.append(hit[0])
        return names

    return {"inputs": pick(ctx.inputs, ins), "outputs": pick(ctx.outputs, outs)}
