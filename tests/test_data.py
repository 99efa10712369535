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


def test_float64_that_overflows_float32_is_refused_after_the_cast(tmp_path):
    """Defect 10.5: 1e300 is finite in float64 and inf in float32; int8 calibration then segfaulted."""
    np.save(tmp_path / "big.npy", np.full((10, 8), 1e300, np.float64))
    with pytest.raises(InputError, match=r"80 values.*float32"):
        load_dataset(str(tmp_path / "big.npy"), [TensorSpec("f", [None, 8], "float32")], "calibration")
    ok = np.full((10, 8), 3.0, np.float64)
    np.save(tmp_path / "ok.npy", ok)
    ds = load_dataset(str(tmp_path / "ok.npy"), [TensorSpec("f", [None, 8], "float32")], "calibration")
    assert ds.arrays["f"].dtype == np.float32 and float(ds.arrays["f"].sum()) == 240.0


def test_folder_named_like_an_image_is_not_read(tmp_path):
    """Defect 10.8: a directory called x.png inside a class folder gave a traceback."""
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        _write_png(tmp_path / cls / "1.png", 30)
    (tmp_path / "a" / "x.png").mkdir()
    (tmp_path / "a" / "x.png" / "inner.png").write_bytes((tmp_path / "a" / "1.png").read_bytes())
    ds = load_dataset(str(tmp_path), IMAGE_INPUT, "calibration")
    assert ds.samples == 3 and ds.labels.tolist() == [0, 0, 1]
    only = tmp_path / "only"
    (only / "c" / "y.png").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        load_dataset(str(only), IMAGE_INPUT, "calibration")


@pytest.mark.parametrize("line, fragment", [
    ('seed = "abc"', r"seed.*integer.*'abc'"),
    ("seed = -1", r"seed.*0"),
    ('samples = "3"', r"samples.*integer.*'3'"),
    ("samples = 0", r"samples.*0"),
    ("description = 5", r"description.*str.*5"),
])
def test_toml_definition_has_a_typed_schema(tmp_path, line, fragment):
    """Defect 10.9: seed = "abc" gave a traceback; every field is typed and named in the error."""
    np.save(tmp_path / "rows.npy", np.zeros((30, 8), np.float32))
    extra = "" if line.startswith("samples") else "samples = 5\n"
    (tmp_path / "def.toml").write_text(f'[calibration]\nsource = "rows.npy"\n{extra}{line}\n')
    with pytest.raises(InputError, match=fragment) as err:
        load_dataset(str(tmp_path / "def.toml"), [TensorSpec("f", [None, 8], "float32")], "calibration")
    assert "\n" not in str(err.value)


def test_random_data_larger_than_memory_is_refused_before_allocating():
    """Defect 10.7: --calibration-samples 99999999999999 with random: MemoryError/ValueError."""
    from edgekit.data import random_dataset

    with pytest.raises(InputError, match=r"--golden-samples 99999999999999.*GB.*available"):
        random_dataset([TensorSpec("f", [None, 8], "float32")], 99999999999999, 0, what="golden")
    with pytest.raises(InputError, match="--seed"):
        random_dataset([TensorSpec("f", [None, 8], "float32")], 4, -1)
    assert random_dataset([TensorSpec("f", [None, 8], "float32")], 4, 0).arrays["f"].shape == (4, 8)
