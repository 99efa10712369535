"""edgekit.folder: reading a convert output folder (manifest, contained paths, artifact digests, golden data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit import manifest
from edgekit.errors import InputError, ManifestError
from edgekit.folder import ConvertedFolder, check_labels
from tests.helpers import fake_converted_folder


def _with_artifact(tmp_path: Path, content: bytes = b"TFL3 model") -> ConvertedFolder:
    art = {"id": "tflite-float32", "format": "tflite", "variant": "float32", "path": "m.tflite", "status": "ok"}
    d = fake_converted_folder(tmp_path / "conv", artifacts=[art])
    (d / "m.tflite").write_bytes(content)
    raw = json.loads((d / "manifest.json").read_text())
    raw["artifacts"][0]["sha256"] = manifest.sha256_file(d / "m.tflite")
    (d / "manifest.json").write_text(json.dumps(raw))
    return ConvertedFolder.open(d)


def test_verify_artifact_digest(tmp_path: Path) -> None:
    src = _with_artifact(tmp_path)
    art = src.manifest.artifact("tflite-float32")
    assert src.verify(art).path == (src.folder / "m.tflite").resolve() and src.verify(art).status is None
    (src.folder / "m.tflite").write_bytes(b"TFL3 other")
    v = src.verify(art)
    assert v.path is None and v.status == "tampered" and "modified after conversion" in v.reason
    with pytest.raises(InputError, match="tflite-float32: sha256"):
        src.verified_path(art)
    art.sha256 = None
    assert src.verify(art).status == "tampered"
    (src.folder / "m.tflite").unlink()
    assert src.verify(art).status == "error"
    art.path = "../outside.tflite"
    with pytest.raises(ManifestError, match="leaves the output folder"):
        src.verify(art)


def test_golden_is_read_and_checked(tmp_path: Path) -> None:
    src = ConvertedFolder.open(fake_converted_folder(tmp_path / "conv", labels=[0, 1, 2, 0, 1, 2]))
    g = src.load_golden()
    assert g.samples == 6 and g.inputs["x"].shape == (6, 4) and g.reference["y"].shape == (6, 3)
    assert g.labels.tolist() == [0, 1, 2, 0, 1, 2]
    np.save(src.folder / "golden_labels.npy", np.array([0, 1, 2, 0, 1, 1]))
    with pytest.raises(ManifestError, match="golden labels file 'golden_labels.npy' does not match its sha256"):
        src.load_golden()


def test_golden_without_digest_is_a_bad_manifest(tmp_path: Path) -> None:
    d = fake_converted_folder(tmp_path / "conv")
    m = manifest.load(d)
    del m.golden["sha256"]
    manifest.save(m, d)
    with pytest.raises(ManifestError, match="golden inputs file 'golden_inputs.npz' has no sha256"):
        ConvertedFolder.open(d).load_golden()


def test_check_labels() -> None:
    spec = manifest.TensorSpec(name="y", shape=[None, 3], dtype="float32")
    check_labels(np.array([0, 2, 1]), spec)
    check_labels(np.array([0.0, 2.0]), spec)  # whole floats are class indices
    check_labels(np.eye(3), spec)  # one-hot rows
    check_labels(np.array([0.5, 7.0]), manifest.TensorSpec(name="y", shape=[None, 1], dtype="float32"))
    for bad, needle in ((np.array(["cat"]), "<U3"), (np.array([3]), "0..2"), (np.array([np.nan]), "non-finite"),
                        (np.eye(4), "rows of 4"), (np.array([1.5]), "1.5")):
        with pytest.raises(InputError, match=needle):
            check_labels(bad, spec)
