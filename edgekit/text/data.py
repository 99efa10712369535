"""Text data files for --calibration / --golden: ``.txt`` (one sample per line) and a ``.csv`` column.

Returns plain NumPy unicode arrays (never object arrays, never pickles); edgekit.data wraps them in a DataSet.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from edgekit.errors import InputError

LABEL_COLUMNS = ("label", "labels")
DATA_HINT = ("a .txt file (one sample per line), a .csv file with a column named after the input, or a .npy "
             "array of strings")


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"--{what} {path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise InputError(f"--{what} {path}: cannot read it ({e.strerror})") from None


def _shaped(values: list[str], shape: list[int | None]) -> np.ndarray:
    """[N] or [N, 1] like the input; a numpy unicode array (dtype <U: no pickling needed to save it)."""
    arr = np.array(values, dtype=str) if values else np.array([], dtype="<U1")
    return arr.reshape(-1, *[1] * (len(shape) - 1))


def read_lines(path: Path, shape: list[int | None], what: str) -> np.ndarray:
    """One sample per line. Only ``\\n`` (and a ``\\r`` before it) ends a line: U+2028, U+0085, \\v, \\f stay
    inside a sample, because they are text a tokenizer must see."""
    text = _read_text(path, what)
    if text.endswith("\n"):
        text = text[:-1]
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")] if text else []
    if not lines:
        raise InputError(f"--{what} {path}: no samples (the file is empty); give one sample per line")
    return _shaped(lines, shape)


def read_csv(path: Path, name: str, shape: list[int | None], what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The column named ``name`` (or the only column), and a ``label``/``labels`` column as class indices."""
    try:
        rows = list(csv.DictReader(io.StringIO(_read_text(path, what), newline="")))
    except csv.Error as e:
        raise InputError(f"--{what} {path}: not a readable CSV file ({e})") from None
    if not rows:
        raise InputError(f"--{what} {path}: no samples (a header row, then one sample per row)")
    columns = [c for c in rows[0] if c is not None]
    column = name if name in columns else (columns[0] if len(columns) == 1 else None)
    if column is None:
        raise InputError(f"--{what} {path}: no column {name!r} (the model's input); its columns are "
                         f"{', '.join(columns)}; rename the text column to {name!r}")
    if any(r.get(column) is None for r in rows):
        raise InputError(f"--{what} {path}: some rows have fewer fields than the header; check the quoting")
    labels = None
    label_col = next((c for c in LABEL_COLUMNS if c in columns and c != column), None)
    if label_col:
        try:
            labels = np.array([int(r[label_col]) for r in rows], dtype=np.int64)
        except (TypeError, ValueError):
            raise InputError(f"--{what} {path}: column {label_col!r} must hold integer class indices") from None
    return _shaped([r[column] for r in rows], shape), labels


def random_refusal(name: str, what: str) -> InputError:
    """A string input never gets random data: there is no random text worth validating on."""
    return InputError(f"input {name!r} takes strings and edgekit does not invent random text ({what} data): give "
                      f"--golden DATA (and --calibration DATA for int8) with real samples: {DATA_HINT}")


def decoded(a: np.ndarray, where: str) -> np.ndarray:
    """A unicode array: bytes arrays (dtype S) are decoded as UTF-8."""
    if a.dtype.kind != "S":
        return a
    try:
        return np.char.decode(a, "utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{where} holds bytes that are not UTF-8 ({e.reason} at byte {e.start}); save the text "
                         "as UTF-8") from None
