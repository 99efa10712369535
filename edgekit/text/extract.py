"""A Keras preprocessing layer -> :class:`TokenizerSpec`, refusing what the spec cannot express exactly.

Keras is imported by the caller (convert); this module only reads the layer's config and vocabulary.
"""

from __future__ import annotations

from typing import Any

from edgekit.errors import InputError
from edgekit.text.spec import KERAS_PUNCTUATION, TensorIO, TokenizerSpec, parse_spec

KINDS = {"TextVectorization": "text_vectorization", "StringLookup": "string_lookup",
         "IntegerLookup": "integer_lookup", "Hashing": "hashing"}
FLEX_HINT = "or convert with --strings flex to keep the whole model in one TFLite file with Select TF ops"


def kind_of(layer: Any) -> str | None:
    """The spec kind of a Keras layer, or None when it is not a text/lookup preprocessing layer."""
    return KINDS.get(type(layer).__name__)


def _refuse(layer: Any, what: str, fix: str) -> InputError:
    return InputError(f"layer '{layer.name}' ({type(layer).__name__}): {what}, which a portable tokenizer "
                      f"spec cannot express exactly; {fix}, {FLEX_HINT}")


def _callable_name(v: Any) -> str:
    if isinstance(v, dict):  # a serialized function in a config
        return str(v.get("config") or v.get("class_name") or v)
    return getattr(v, "__name__", type(v).__name__)


def _check_common(layer: Any, cfg: dict[str, Any]) -> None:
    if cfg.get("output_mode") == "tf_idf":
        raise _refuse(layer, "output_mode is tf_idf (IDF weights)", "use output_mode int, multi_hot or count")
    for flag in ("sparse", "ragged", "invert"):
        if cfg.get(flag):
            raise _refuse(layer, f"{flag}=True", f"build the layer with {flag}=False")
    if str(cfg.get("encoding") or "utf-8").lower().replace("-", "") != "utf8":
        raise _refuse(layer, f"encoding is {cfg.get('encoding')!r}", "use encoding='utf-8'")
    if cfg.get("num_oov_indices", 1) != 1:
        raise _refuse(layer, f"num_oov_indices is {cfg.get('num_oov_indices')} (OOV tokens hashed into several "
                      "buckets)", "use num_oov_indices=1")


def _lookup_of(layer: Any) -> Any:
    """TextVectorization keeps its vocabulary in an inner StringLookup; lookup layers are their own."""
    return getattr(layer, "_lookup_layer", layer)


def _tensor_io(name: str, tensor: Any) -> TensorIO:
    dtype = str(getattr(tensor, "dtype", "float32")).replace("tf.", "")
    dtype = {"str": "string", "object": "string", "int32": "int64"}.get(dtype, dtype)
    if dtype not in ("string", "int64"):
        dtype = "float32"
    return TensorIO(name=name, dtype=dtype, shape=[None if d is None else int(d) for d in tensor.shape])


def spec_from_layer(layer: Any, input_tensor: Any, input_name: str, output_tensor: Any,
                    output_name: str = "token_ids") -> TokenizerSpec:
    """The spec of ``layer`` as it is called in the model (``input_tensor`` -> ``output_tensor``)."""
    kind = kind_of(layer)
    if kind is None:
        raise InputError(f"layer '{layer.name}' ({type(layer).__name__}) is not a TextVectorization, StringLookup, "
                         "IntegerLookup or Hashing layer")
    if kind == "hashing":
        raise _refuse(layer, "Hashing (FarmHash/SipHash buckets) is not implemented by edgekit's tokenizers yet",
                      "use a StringLookup/IntegerLookup with a vocabulary")
    cfg = layer.get_config()
    _check_common(layer, cfg)
    fields: dict[str, Any] = {}
    if kind == "text_vectorization":
        fields = _text_fields(layer, cfg)
    lookup = _lookup_of(layer)
    vocabulary = [v.item() if hasattr(v, "item") else v for v in lookup.get_vocabulary()]
    if len(vocabulary) <= (lookup.mask_token is not None) + 1:
        raise InputError(f"layer '{layer.name}' ({type(layer).__name__}) has no vocabulary: adapt() it or give "
                         "it a vocabulary before saving the model")
    oov = lookup.oov_token
    mask = lookup.mask_token
    output_mode = cfg.get("output_mode", "int")
    doc = {"kind": kind, "layer": layer.name, "input": _tensor_io(input_name, input_tensor).model_dump(),
           "vocabulary": vocabulary, "oov_token": oov, "oov_id": vocabulary.index(oov),
           "mask_token": mask, "padding_id": 0, "output_mode": output_mode,
           "output": _tensor_io(output_name, output_tensor).model_dump(), **fields}
    if output_mode != "int":  # one vector per sample at run time, whatever Keras' symbolic shape says
        doc["output"].update(dtype="float32", shape=[None, doc["output"]["shape"][-1]])
    return parse_spec(doc, f"layer '{layer.name}'")


def _text_fields(layer: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    standardize, split = cfg.get("standardize"), cfg.get("split")
    if standardize is not None and not isinstance(standardize, str) or callable(standardize):
        raise _refuse(layer, f"standardize is a custom function ({_callable_name(standardize)}): its Python "
                      "code cannot run in a browser or an app", "use standardize='lower_and_strip_punctuation', "
                      "'lower', 'strip_punctuation' or None")
    if split is not None and not isinstance(split, str) or callable(split):
        raise _refuse(layer, f"split is a custom function ({_callable_name(split)})",
                      "use split='whitespace', 'character' or None")
    ngrams = cfg.get("ngrams")
    if isinstance(ngrams, int):
        ngrams = list(range(1, ngrams + 1))
    output_mode = cfg.get("output_mode", "int")
    if output_mode == "one_hot" and split is not None:
        raise _refuse(layer, "output_mode is one_hot after a split (a ragged output)",
                      "use output_mode multi_hot or count")
    return {"standardize": standardize, "strip_punctuation_regex": KERAS_PUNCTUATION, "split": split,
            "ngrams": list(ngrams) if ngrams is not None else None, "ngram_separator": " ",
            "output_sequence_length": cfg.get("output_sequence_length") if output_mode == "int" else None}
