"""TF.js graph model through tensorflowjs' own SavedModel converter, in-process (TF already imported)."""

from __future__ import annotations

import json
import os
from typing import Any

from edgekit.errors import ConversionError, first_line
from edgekit.formats import Context, Target, shared_load
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
    try:
        tfjs_conv.convert_tf_saved_model(
            str(ctx.saved_model_dir), str(out),
            signature_def="serving_default", saved_model_tags="serve",
            # {dtype: True} quantizes every weight to that dtype.
            quantization_dtype_map=None if q == "none" else {q: True},
            use_structured_outputs_names=True,
        )
    except Exception as e:  # tfjs raises ValueError for unsupported ops, among others
        raise ConversionError(f"TF.js conversion failed: {first_line(e)}") from e
    model_json = json.loads((out / "model.json").read_text())
    variant = "float32" if q == "none" else f"weights-{q}"
    art = Artifact(
        id=target.id, format=target.format, variant=variant, path=target.path,
        converter={"tool": "tensorflowjs", "version": tensorflowjs.__version__, "options": options},
    )
    art.io_names = _io_names(model_json, ctx)
    if q != "none":
        art.notes.append(f"weights stored as {q} and dequantized to float32 at load time: smaller download, "
                         "same compute")
    return art


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
