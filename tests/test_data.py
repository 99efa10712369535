"""Calibration and golden data sources: image folders, .toml definitions, npz labels, the golden split."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data import load_dataset, split_golden
from edgekit.errors import InputError
from edgekit.manifest import TensorSpec

IMAGE_INPUT = [TensorSpec("image", [None, 16, 16, 3], "float32")]


def _write_png(path, value: int, size: int = 20) -> None:
    import tensorflow as tf

    img = np.full((size, size, 3), value, np.uint8)
    img[: size // 2] = 255 - value  # not flat, so resizing has something to interpolate
    path.write_bytes(tf.io.encode_png(img).numpy())


def test_image_folder_with_classes_gives_labels_and_resizes(tmp_path):
    for ci, cls in enumerate(["cat", "dog"]):
        (tmp_path / cls).mkdir()
        for i in range(3):
            _write_png(tmp_path / cls / f"{i}.png", 40 * ci + i)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = load_dataset(str(tmp_path), IMAGE_INPUT, "calibration")
    assert ds.arrays["image"].shape == (6, 16, 16, 3) and ds.arrays["image"].dtype == np.float32
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # Pixels keep the 0..255 range the model takes; the top half was 255 - value.
    assert ds.arrays["image"][0, 0, 0, 0] == pytest.approx(255.0)
    assert ds.arrays["image"][3, -1, -1, 0] == pytest.approx(40.0)
    assert any("broken.png" in w for w in ds.warnings)


def test_image_folder_needs_known_spatial_dims(tmp_path):
    _write_png(tmp_path / "a.png", 10)
    with pytest.raises(InputError, match=r"\[batch, H, W, C\]"):
        load_dataset(str(tmp_path), [TensorSpec("x", [None, 8], "float32")], "calibration")


def test_toml_definition_samples_and_rejects_typos(tmp_path):
    x = np.arange(50 * 8, dtype=np.float32).reshape(50, 8)
    np.save(tmp_path / "rows.npy", x)
    (tmp_path / "def.toml").write_text('[calibration]\nsource = "rows.npy"\nsamples = 20\nseed = 3\n')
    ds = load_dataset(str(tmp_path / "def.toml"), [TensorSpec("f", [None, 8], "float32")], "calibration")
    assert ds.samples == 20
    rows = {tuple(r) for r in x}
    assert all(tuple(r) in rows for r in ds.arrays["f"])  # drawn from the source, not invented
    (tmp_path / "typo.toml").write_text('[calibration]\nsorce = "rows.npy"\n')
    with pytest.raises(InputError, match="unknown key.*valid keys"):
        load_dataset(str(tmp_path / "typo.toml"), [TensorSpec("f", [None, 8], "float32")], "calibration")


def test_golden_split_is_disjoint_from_calibration(tmp_path):
    x = np.arange(100, dtype=np.float32).reshape(100, 1) * np.ones((1, 4), np.float32)
    np.savez(tmp_path / "d.npz", f=x, labels=np.arange(100) % 3)
    ds = load_dataset(str(tmp_path / "d.npz"), [TensorSpec("f", [None, 4], "float32")], "calibration")
    calib, golden = split_golden(ds, 30, seed=0)
    assert (calib.samples, golden.samples) == (70, 30)
    c, g = set(calib.arrays["f"][:, 0]), set(golden.arrays["f"][:, 0])
    assert not c & g and len(c | g) == 100
    assert golden.labels.tolist() == [int(v) % 3 for v in golden.arrays["f"][:, 0]]
    with pytest.raises(InputError, match="too few"):
        split_golden(ds, 100, seed=0)


def test_npz_with_wrong_names_for_multi_input(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.zeros((4, 2), np.float32))
    specs = [TensorSpec("a", [None, 2], "float32"), TensorSpec("b", [None, 3], "float32")]
    with pytest.raises(InputError, match=r"holds arrays \['a'\].*inputs are \['a', 'b'\]"):
        load_dataset(str(tmp_path / "d.npz"), specs, "calibration")
