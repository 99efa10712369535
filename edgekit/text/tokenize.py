"""The Python implementation of ``tokenizer.json`` (docs/text.md): raw strings in, the ids the Keras layer
produces out. Pure Python + NumPy: validate and bundle use it without TensorFlow."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.text.spec import WHITESPACE, TokenizerSpec

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPLIT = re.compile("[" + re.escape(WHITESPACE) + "]+")


def standardize(spec: TokenizerSpec, text: str) -> str:
    """Keras' standardize step: ASCII-only lowercasing, then removal of the punctuation class."""
    if spec.standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if spec.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = re.sub(spec.strip_punctuation_regex, "", text)
    return text


def split(spec: TokenizerSpec, text: str) -> list[str]:
    """tf.strings.split (runs of ASCII whitespace, no empty tokens) or unicode_split (code points)."""
    if spec.split == "whitespace":
        return [t for t in _SPLIT.split(text) if t]
    if spec.split == "character":
        return list(text)
    return [text]


def ngrams(spec: TokenizerSpec, tokens: list[str]) -> list[str]:
    """tf.strings.ngrams: for each width in order, every window of that width (none when too short)."""
    if spec.ngrams is None:
        return tokens
    out: list[str] = []
    for n in spec.ngrams:
        out.extend(spec.ngram_separator.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


def tokens(spec: TokenizerSpec, text: str) -> list[str]:
    """Every token of one sample, before the vocabulary lookup."""
    return ngrams(spec, split(spec, standardize(spec, text)))


def _index(spec: TokenizerSpec) -> dict[Any, int]:
    return {token: i for i, token in enumerate(spec.vocabulary)}


def lookup(spec: TokenizerSpec, toks: Sequence[Any], index: dict[Any, int] | None = None) -> list[int]:
    """Vocabulary ids; anything not in the vocabulary is ``oov_id`` (the mask token is id ``padding_id``)."""
    index = _index(spec) if index is None else index
    return [index.get(t, spec.oov_id) for t in toks]


def _samples(spec: TokenizerSpec, inputs: Any) -> list[Any]:
    """One Python value per sample: str for string inputs (bytes decoded as UTF-8), int for integer lookup."""
    arr = np.asarray(inputs, dtype=object if spec.input.dtype == "string" else None)
    if arr.ndim == len(spec.input.shape) and arr.ndim > 1:
        if arr.shape[1:] != (1,) * (arr.ndim - 1):
            raise InputError(f"tokenizer input '{spec.input.name}': one value per sample expected (shape "
                             f"{spec.input.shape}), received shape {list(arr.shape)}")
    out = []
    for v in arr.reshape(len(arr), -1)[:, 0] if arr.ndim else [arr.item()]:
        out.append(_one(spec, v))
    return out


def _one(spec: TokenizerSpec, v: Any) -> Any:
    if spec.input.dtype != "string":
        if isinstance(v, str | bytes) or not float(v).is_integer():
            raise InputError(f"tokenizer input '{spec.input.name}' takes integers, received {v!r}")
        return int(v)
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"tokenizer input '{spec.input.name}': {v[:40]!r} is not UTF-8 text") from None
    if not isinstance(v, str):
        raise InputError(f"tokenizer input '{spec.input.name}' takes strings, received {type(v).__name__} {v!r}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"tokenizer input '{spec.input.name}': {v[:40]!r} holds a lone surrogate, which "
                         "is not text; give valid Unicode") from None
    return v


def _ids_int(spec: TokenizerSpec, seqs: list[list[int]], batch_shape: tuple[int, ...]) -> np.ndarray:
    if spec.split is None:  # one token per sample: the output has the input's shape
        return np.array([s[0] for s in seqs], dtype=np.int64).reshape(batch_shape)
    width = spec.output_sequence_length
    if width is None:  # Keras pads to the longest sample of the batch
        width = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), width), spec.padding_id, dtype=np.int64)
    for row, s in zip(out, seqs, strict=True):
        row[:min(width, len(s))] = s[:width]
    return out


def _ids_vector(spec: TokenizerSpec, seqs: list[list[int]]) -> np.ndarray:
    depth = int(spec.depth or 0)
    out = np.zeros((len(seqs), depth), dtype=np.float64)
    for row, s in zip(out, seqs, strict=True):
        for i in s:
            if spec.output_mode == "count":
                row[i] += 1
            else:
                row[i] = 1
    return out


def tokenize(spec: TokenizerSpec, inputs: Any) -> np.ndarray:
    """The layer's output for a batch of raw inputs (list or array of shape [N] / [N, 1])."""
    if spec.kind == "hashing":
        raise InputError("tokenizer kind 'hashing' is not implemented by this edgekit version; convert the "
                         "model with --strings flex instead")
    samples = _samples(spec, inputs)
    index = _index(spec)
    toks = [[v] if spec.kind in ("integer_lookup", "string_lookup") else tokens(spec, v) for v in samples]
    if spec.output_mode != "int" and spec.mask_token is not None:  # Keras drops the mask token from counts
        toks = [[t for t in ts if t != spec.mask_token] for ts in toks]
    seqs = [lookup(spec, ts, index) for ts in toks]
    batch_shape = (len(samples), *[1 for _ in spec.input.shape[1:]])
    if spec.output_mode == "int":
        out = _ids_int(spec, seqs, batch_shape)
    else:
        out = _ids_vector(spec, seqs)
    return out.astype(np.dtype(spec.output.dtype))
