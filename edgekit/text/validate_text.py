"""validate on a split text folder: the tokenizer rows, and the golden strings made into the artifacts' ids by
the Python tokenizer (docs/text.md). No TensorFlow: the spec, NumPy and the standard library."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgekit import manifest as mf
from edgekit.errors import InputError, ManifestError
from edgekit.protocol import load_npz
from edgekit.row import Row
from edgekit.text.parity import tokenizer_rows
from edgekit.text.record import TextRecord
from edgekit.text.spec import read_spec, read_test_vectors
from edgekit.text.tokenize import tokenize


def _verified(folder: Path, rec: TextRecord, rel: str | None, what: str) -> Path:
    if not rel:
        raise ManifestError(f"the manifest's text record names no {what}; re-run `edgekit convert`")
    path = mf.safe_join(folder, rel)
    if not path.is_file():
        raise ManifestError(f"{what} {rel!r} is missing from {folder}; re-run `edgekit convert`")
    want = rec.sha256.get(rel)
    if not want or mf.sha256_file(path) != want:
        raise ManifestError(f"{what} {rel!r} does not match its sha256 in the manifest (text.sha256): modified "
                            "after conversion; re-run `edgekit convert`")
    return path


def text_golden(folder: Path, m: mf.Manifest, golden: Any, device: str) -> tuple[Any, list[Row]]:
    """(golden with the Python tokenizer's ids as the artifacts' inputs, one row per tokenizer engine); the
    golden data unchanged and no rows for a folder that is not a split text model."""
    if not m.text or m.text.get("mode") != "split":
        return golden, []
    rec = TextRecord.model_validate(m.text)
    spec_path = _verified(folder, rec, rec.tokenizer, "tokenizer")
    spec = read_spec(spec_path)
    vectors = read_test_vectors(_verified(folder, rec, rec.test_vectors, "tokenizer test vectors"))
    try:
        raw = load_npz(_verified(folder, rec, rec.golden_strings, "golden strings"))[rec.inputs[0].name]
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"golden strings in {folder} cannot be read ({e}); re-run `edgekit convert`") from e
    if len(raw) != golden.samples:
        raise InputError(f"{len(raw)} golden strings for {golden.samples} reference outputs; re-run `edgekit convert`")
    ids = tokenize(spec, raw)
    name = rec.artifacts_take or m.inputs[0].name
    rows = tokenizer_rows(spec_path, vectors, spec.kind, device)
    return dataclasses.replace(golden, inputs={name: ids.astype(m.inputs[0].dtype)}, inputs_path=None), rows
