"""String calibration/golden data (issue 16's two defects first, then .txt/.csv/.npy of strings)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data import load_dataset, random_dataset
from edgekit.errors import InputError
from edgekit.manifest import TensorSpec

TEXT = [TensorSpec("text", [None, 1], "string")]


def test_string_npy_calibration_is_accepted(tmp_path):
    # issue 16: refused with "has dtype <U59, not a number type; give string data", which contradicts itself
    strings = np.array([["a movie I loved, truly"], ["dull"], ["École 猫 🙂"]])
    np.save(tmp_path / "strings.npy", strings)
    ds = load_dataset(str(tmp_path / "strings.npy"), TEXT, "calibration")
    assert ds.arrays["text"].dtype.kind == "U" and ds.arrays["text"].shape == (3, 1)
    assert ds.arrays["text"][2, 0] == "École 猫 🙂"


def test_string_input_never_gets_random_golden_data():
    # issue 16: TypeError: data type 'string' not understood (a traceback), in data.random_dataset
    with pytest.raises(InputError) as e:
        random_dataset(TEXT, 8, 1, what="golden")
    msg = str(e.value)
    assert "input 'text' takes strings" in msg and "--golden" in msg and ".txt" in msg and "\n" not in msg


def test_numbers_for_a_string_input_and_strings_for_a_number_input_are_named(tmp_path):
    np.save(tmp_path / "n.npy", np.zeros((4, 1), np.float32))
    with pytest.raises(InputError, match=r"'text' has dtype float32 but the model takes strings"):
        load_dataset(str(tmp_path / "n.npy"), TEXT, "golden")
    np.save(tmp_path / "s.npy", np.array([["x"], ["y"]]))
    with pytest.raises(InputError, match=r"'x' has dtype <U1 \(text\), not a number type, but the model takes float32"):
        load_dataset(str(tmp_path / "s.npy"), [TensorSpec("x", [None, 1], "float32")], "golden")


def test_txt_one_sample_per_line(tmp_path):
    p = tmp_path / "g.txt"
    p.write_bytes("first line\r\n\nthird\u00a0line\x0bwith a VT\u2028and LS\n".encode())
    ds = load_dataset(str(p), TEXT, "golden")
    assert ds.arrays["text"][:, 0].tolist() == ["first line", "", "third\u00a0line\x0bwith a VT\u2028and LS"]
    rank1 = load_dataset(str(p), [TensorSpec("text", [None], "string")], "golden")
    assert rank1.arrays["text"].shape == (3,)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe oops")
    with pytest.raises(InputError, match="not UTF-8"):
        load_dataset(str(tmp_path / "bad.txt"), TEXT, "golden")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="no samples"):
        load_dataset(str(tmp_path / "empty.txt"), TEXT, "golden")


def test_csv_column_and_labels(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text('text,label\n"great, really",1\nbad,0\n"multi\nline",1\n', encoding="utf-8")
    ds = load_dataset(str(p), TEXT, "golden")
    assert ds.arrays["text"][:, 0].tolist() == ["great, really", "bad", "multi\nline"]
    assert ds.labels.tolist() == [1, 0, 1]
    (tmp_path / "other.csv").write_text("review,stars\nok,3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no column 'text'.*review, stars"):
        load_dataset(str(tmp_path / "other.csv"), TEXT, "golden")
    (tmp_path / "one.csv").write_text("review\nok\nfine\n", encoding="utf-8")
    assert load_dataset(str(tmp_path / "one.csv"), TEXT, "golden").arrays["text"][:, 0].tolist() == ["ok", "fine"]


def test_bytes_arrays_are_utf8(tmp_path):
    np.save(tmp_path / "b.npy", np.array([["caf\xc3\xa9".encode("latin-1")], [b"ok"]]))
    ds = load_dataset(str(tmp_path / "b.npy"), TEXT, "golden")
    assert ds.arrays["text"][:, 0].tolist() == ["café", "ok"]
    np.save(tmp_path / "bad.npy", np.array([[b"\xff\xfe"]]))
    with pytest.raises(InputError, match="not UTF-8"):
        load_dataset(str(tmp_path / "bad.npy"), TEXT, "golden")
