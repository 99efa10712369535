"""The manifest's text record: typed, round-tripped, absent from (and harmless to) every older manifest."""

from __future__ import annotations

import pytest

from edgekit.errors import ManifestError
from edgekit.manifest import Manifest
from tests.helpers import manifest_dict

TEXT = {"mode": "split", "kind": "text_vectorization", "tokenizer": "tokenizer.json",
        "test_vectors": "tokenizer_test_vectors.json", "golden_strings": "golden_strings.npz",
        "inputs": [{"name": "text", "shape": [None, 1], "dtype": "string"}], "artifacts_take": "token_ids",
        "sha256": {"tokenizer.json": "ab" * 32}}


def test_round_trip_and_old_manifests():
    m = Manifest.from_dict({**manifest_dict(), "text": TEXT})
    assert m.text == TEXT and m.to_dict()["text"] == TEXT
    old = Manifest.from_dict(manifest_dict())
    assert old.text is None and "text" not in old.to_dict()


@pytest.mark.parametrize("bad, fragment", [({"mode": "tokenize"}, "text.mode"), ({"inputs": "text"}, "text.inputs"),
                                           ({"sha256": {"a": 1}}, "text.sha256")])
def test_a_wrong_type_is_one_line(bad, fragment):
    with pytest.raises(ManifestError) as e:
        Manifest.from_dict({**manifest_dict(), "text": {**TEXT, **bad}})
    assert fragment in str(e.value) and "\n" not in str(e.value)
