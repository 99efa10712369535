"""The manifest's ``text`` record: how convert split a text model (docs/text.md, docs/manifest.md).

Written only for text models; manifests without it (every older one) read as before. Unknown keys are
ignored and known ones strictly typed, like the rest of the manifest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class TextTensor(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    name: str
    shape: list[int | None]
    dtype: str


class TextRecord(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    # split: tokenizer.json + numeric artifacts that take token ids; flex: one TFLite file with Select TF ops
    mode: Literal["split", "flex"]
    kind: str | None = None  # the tokenizer spec's kind
    tokenizer: str | None = None  # tokenizer.json, relative to the folder
    test_vectors: str | None = None  # tokenizer_test_vectors.json (the Keras layer's ids on the golden inputs)
    golden_strings: str | None = None  # the raw golden inputs (npz of unicode arrays), keyed by input name
    inputs: list[TextTensor]  # the whole model's signature (strings in)
    artifacts_take: str | None = None  # the input name of every numeric artifact ("token_ids")
    sha256: dict[str, str] = {}
