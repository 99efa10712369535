"""``tokenizer.json``: the portable spec of a Keras text/lookup preprocessing layer (docs/text.md).

``edgekit convert`` writes it when it splits a model at its TextVectorization / StringLookup /
IntegerLookup layer; the Python tokenizer (:mod:`edgekit.text.tokenize`), the JavaScript tokenizer of the
web bundle and the Kotlin/Swift tokenizers of the app bundles all implement exactly these semantics. The
file is validated on read (unknown fields refused, a version), like every other edgekit contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekit.errors import InputError
from edgekit.schemas import dumps_json, read_json, validate

FORMAT = "edgekit-tokenizer"
VERSION = 1
FILENAME = "tokenizer.json"
TEST_VECTORS = "tokenizer_test_vectors.json"
# The character class Keras' TextVectorization removes for "strip_punctuation" (RE2 syntax, ASCII only;
# ``,-\.`` is the range ',' '-' '.'). Written into every spec so no implementation has to know Keras.
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
# What tf.strings.split (StringSplitV2 with no separator) treats as whitespace: ASCII only.
WHITESPACE = " \t\n\v\f\r"

Kind = Literal["text_vectorization", "string_lookup", "integer_lookup", "hashing"]
OutputMode = Literal["int", "multi_hot", "count", "one_hot"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorIO(_Strict):
    """One side of the tokenizer: the model's string (or int64) input, or the token tensor it produces."""

    name: str
    dtype: Literal["string", "int64", "float32"]
    shape: list[int | None] = Field(min_length=1, max_length=3)


class HashSpec(_Strict):
    """Hashing layers (recorded for completeness; this version of edgekit refuses to extract them)."""

    num_bins: int = Field(ge=1)
    salt: list[int] | None = None
    mask_value: str | int | None = None


class TokenizerSpec(_Strict):
    """The fields and their exact meaning: docs/text.md."""

    format: Literal["edgekit-tokenizer"] = FORMAT
    version: Literal[1] = VERSION
    kind: Kind
    layer: str | None = None  # the Keras layer's name, for people reading the file
    input: TensorIO
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation"] | None = None
    # "ascii": tf.strings.lower without an encoding lowers A-Z only (É, Σ, İ are kept as they are).
    lowercase: Literal["ascii"] = "ascii"
    strip_punctuation_regex: str = KERAS_PUNCTUATION
    split: Literal["whitespace", "character"] | None = None
    ngrams: list[int] | None = None
    ngram_separator: str = " "
    vocabulary: list[str] | list[int]
    oov_token: str | int = "[UNK]"
    num_oov_indices: Literal[1] = 1
    oov_id: int = Field(ge=0)
    mask_token: str | int | None = None
    padding_id: int = 0
    output_mode: OutputMode = "int"
    output_sequence_length: int | None = Field(default=None, ge=1)
    output: TensorIO
    hash: HashSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TokenizerSpec:
        for problem in _problems(self):
            raise ValueError(problem)
        return self

    @property
    def depth(self) -> int | None:
        """The vector length of multi_hot / count / one_hot outputs (None for int)."""
        return None if self.output_mode == "int" else self.output.shape[-1]

    def to_json(self) -> str:
        return dumps_json(self.model_dump(mode="json")) + "\n"


def _problems(s: TokenizerSpec) -> list[str]:
    """Cross-field rules; each entry is one sentence a user can act on."""
    out: list[str] = []
    text_like = s.kind in ("text_vectorization", "string_lookup")
    if text_like and s.input.dtype != "string":
        out.append(f"a string input for kind {s.kind} (input.dtype is {s.input.dtype})")
    if s.kind != "text_vectorization" and (s.standardize or s.split or s.ngrams):
        out.append(f"no standardize, split or ngrams for kind {s.kind}")
    if s.kind == "hashing":
        if s.hash is None:
            out.append("a 'hash' object for kind hashing")
        return out
    if s.kind == "integer_lookup" and not all(isinstance(v, int) for v in s.vocabulary):
        out.append("an integer vocabulary for kind integer_lookup")
    if text_like and not all(isinstance(v, str) for v in s.vocabulary):
        out.append(f"a string vocabulary for kind {s.kind}")
    if len(set(s.vocabulary)) != len(s.vocabulary):
        out.append("every vocabulary token once (a token is there twice)")
    if not 0 <= s.oov_id < len(s.vocabulary) or s.vocabulary[s.oov_id] != s.oov_token:
        out.append(f"vocabulary[oov_id] to be the oov_token {s.oov_token!r} (oov_id is {s.oov_id})")
    in_vocab = s.output_mode == "int"  # Keras keeps the mask token in the vocabulary only for int output
    if s.mask_token is not None and in_vocab and s.vocabulary[s.padding_id] != s.mask_token:
        out.append(f"vocabulary[padding_id] to be the mask_token {s.mask_token!r} (padding_id is {s.padding_id})")
    if s.ngrams is not None and (not s.ngrams or min(s.ngrams) < 1):
        out.append("ngrams null or a non-empty list of sizes >= 1")
    if s.output_mode != "int" and not isinstance(s.output.shape[-1], int):
        out.append(f"a fixed last output dimension for output_mode {s.output_mode}")
    if s.output_sequence_length is not None and (s.output_mode != "int" or s.split is None):
        out.append("output_sequence_length only with output_mode int and a split")
    return out


def read_spec(path: Path) -> TokenizerSpec:
    """Read and validate a tokenizer.json (one InputError line on anything wrong)."""
    where = str(path)
    doc = read_json(Path(path), where)
    if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") not in (None, VERSION):
        raise InputError(f"{where}: tokenizer spec version {doc.get('version')!r} is not one this edgekit "
                         f"reads (it reads {VERSION}); update edgekit or convert the model again")
    return validate(TokenizerSpec, doc, where)


def parse_spec(doc: Any, where: str = FILENAME) -> TokenizerSpec:
    return validate(TokenizerSpec, doc, where)


# ---------------------------------------------------------------------------------------------------------
# Test vectors: golden inputs and the ids the Keras layer produced for them


class VectorCase(_Strict):
    input: str | int
    expected: list[Any]  # the layer's output for this one sample (nested lists of numbers)


class TestVectors(_Strict):
    __test__ = False  # not a pytest class

    format: Literal["edgekit-tokenizer-test-vectors"] = "edgekit-tokenizer-test-vectors"
    version: Literal[1] = 1
    tokenizer_sha256: str | None = None
    source: str = "keras"  # who produced `expected`: the Keras layer itself, at convert
    cases: list[VectorCase]

    def to_json(self) -> str:
        return dumps_json(self.model_dump(mode="json")) + "\n"


def read_test_vectors(path: Path) -> TestVectors:
    return validate(TestVectors, read_json(Path(path), str(path)), str(path))
