"""Data for the recipes: image folders (checked before training), the built-in offline sets, splits.

Built-in sources (no download, real data shipped inside installed packages):
  * ``builtin:digits``      scikit-learn's 1,797 8x8 handwritten digits, rendered to PNG folders
  * ``builtin:digit-rows``  the same digits as 8-word sentences (one word per pixel row)
  * ``builtin:sunspots``    statsmodels' yearly sunspot numbers 1700-2008
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import InputError, MissingDependency
from edgekit.extras import pip_command

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def cache_dir() -> Path:
    """Where rendered built-in data lives (EDGEKIT_CACHE, else ~/.cache/edgekit)."""
    base = os.environ.get("EDGEKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgekit")
    return Path(base)


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise MissingDependency("scikit-learn (built-in digits data)", pip_command("train")) from e
    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


# ---------------------------------------------------------------------------------------------------------
# Images


@dataclass
class ImageFolder:
    """A checked folder: decodable files per class, what was skipped and why."""

    root: Path
    classes: list[str]
    files: list[Path]
    labels: np.ndarray
    bad: list[str] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)

    @property
    def mixed_sizes(self) -> bool:
        return len(self.sizes) > 1


def render_digits(size: int, root: Path | None = None) -> Path:
    """Render the sklearn digits as size x size grey PNGs, one sub-folder per digit (cached, idempotent)."""
    import tensorflow as tf

    root = root or cache_dir() / "datasets" / f"digits-png-{size}"
    done = root / ".complete"
    if done.is_file():
        return root
    images, labels = _sklearn_digits()
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    # 0..16 ink -> 0..255 grey, bilinear upscale: what a scanner at a higher resolution would give.
    pix = tf.image.resize(images[..., None] * (255.0 / 16.0), (size, size), method="bilinear")
    pix = tf.cast(tf.clip_by_value(tf.round(pix), 0, 255), tf.uint8).numpy()
    for i, (img, y) in enumerate(zip(pix, labels, strict=True)):
        d = tmp / str(int(y))
        d.mkdir(exist_ok=True)
        (d / f"{i:04d}.png").write_bytes(tf.io.encode_png(img).numpy())
    (tmp / ".complete").write_text("sklearn.datasets.load_digits\n")
    if root.exists():  # another process finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return root
    os.replace(tmp, root)
    return root


def scan_image_folder(root: Path, max_bad_fraction: float) -> ImageFolder:
    """Check a class-per-sub-folder image tree: classes, decodability, sizes. Raises InputError."""
    import tensorflow as tf

    if not root.exists():
        raise InputError(f"data folder {root} does not exist; give a folder with one sub-folder of images per "
                         "class, or data.source = \"builtin:digits\"")
    if not root.is_dir():
        raise InputError(f"data source {root} is a file; the image recipe needs a folder with one sub-folder per "
                         "class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    per_class = {d.name: sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                 for d in class_dirs}
    per_class = {k: v for k, v in per_class.items() if v}
    if not per_class:
        hint = f" ({len(loose)} images lie directly in it: move them into one sub-folder per class)" if loose else ""
        raise InputError(f"data folder {root} has no class sub-folders with images{hint}")
    if len(per_class) < 2:
        only = next(iter(per_class))
        raise InputError(f"data folder {root} has a single class ({only!r}); a classifier needs at least two "
                         "sub-folders of images")
    files, labels, bad, sizes = [], [], [], set()
    classes = sorted(per_class)
    for ci, name in enumerate(classes):
        for p in per_class[name]:
            try:
                img = tf.io.decode_image(tf.io.read_file(str(p)), channels=3, expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError):
                bad.append(str(p.relative_to(root)))
                continue
            sizes.add((int(img.shape[0]), int(img.shape[1])))
            files.append(p)
            labels.append(ci)
    total = len(files) + len(bad)
    if bad and len(bad) > max_bad_fraction * total:
        raise InputError(f"data folder {root}: {len(bad)} of {total} images cannot be decoded (more than "
                         f"data.max_bad_fraction = {max_bad_fraction}), e.g. {', '.join(bad[:3])}; fix or remove them")
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    empty = [classes[i] for i, c in enumerate(counts) if c == 0]
    if empty:
        raise InputError(f"data folder {root}: class(es) {empty} have no decodable image")
    return ImageFolder(root=root, classes=classes, files=files, labels=np.asarray(labels, dtype=np.int64),
                       bad=bad, sizes=sizes)


def stratified_split(labels: np.ndarray, fraction: float, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) indices; at least one sample per class is held out and one kept."""
    rng = np.random.default_rng(seed)
    held, rest = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < 2:
            raise InputError(f"class {int(c)} has {len(idx)} sample(s): too few to hold out a {what} set; give at "
                             "least 2 per class")
        k = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        held.append(idx[:k])
        rest.append(idx[k:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held))


def load_images(files: list[Path], size: int) -> np.ndarray:
    """Decode and resize exactly as keras.utils.image_dataset_from_directory does (bilinear, no crop)."""
    import tensorflow as tf

    out = np.empty((len(files), size, size, 3), dtype=np.float32)
    for i, p in enumerate(files):
        img = tf.io.decode_image(tf.io.read_file(str(p)), channels=3, expand_animations=False)
        out[i] = tf.image.resize(img, (size, size), method="bilinear").numpy()
    return out


# ---------------------------------------------------------------------------------------------------------
# Text / sequences


def _read_csv(path: Path, expected: str) -> list[dict[str, str]]:
    import csv

    if not path.is_file():
        raise InputError(f"data file {path} does not exist; give {expected}")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"data file {path}: not a readable UTF-8 CSV ({e})") from e


def digit_row_sentences() -> tuple[list[str], np.ndarray, list[str]]:
    """Each digit as 8 words, one per pixel row: the row binarised at half ink, e.g. '00111100'.

    Tokenisation then is ordinary word splitting, so the built-in default exercises the same path as
    user text; the vocabulary is the row patterns seen in training.
    """
    images, labels = _sklearn_digits()
    bits = (images >= 8).astype(np.int8)
    texts = [" ".join("".join(str(b) for b in row) for row in img) for img in bits]
    return texts, labels, [str(i) for i in range(10)]


def read_text_csv(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """A CSV with columns text,label (header required). Labels are class names; their order is sorted."""
    rows = _read_csv(path, "a CSV with columns text,label or data.source = \"builtin:digit-rows\"")
    if not rows or not {"text", "label"} <= set(rows[0]):
        raise InputError(f"data file {path}: needs a header with columns text and label and at least one row")
    names = sorted({r["label"] for r in rows})
    if len(names) < 2:
        raise InputError(f"data file {path} has a single class ({names[0]!r}); a classifier needs at least two")
    index = {n: i for i, n in enumerate(names)}
    return [r["text"] or "" for r in rows], np.asarray([index[r["label"]] for r in rows], dtype=np.int64), names


# ---------------------------------------------------------------------------------------------------------
# Series


def load_series(source: str, column: str, resolve: Callable[[str], Path]) -> tuple[np.ndarray, str]:
    """(values float32, description). ``builtin:sunspots`` or a CSV file with a numeric column."""
    if source == "builtin:sunspots":
        try:
            from statsmodels.datasets import sunspots
        except ImportError as e:
            raise MissingDependency("statsmodels (built-in sunspots data)", pip_command("train")) from e
        df = sunspots.load_pandas().data
        return df["SUNACTIVITY"].to_numpy(dtype=np.float32), "statsmodels sunspots: yearly sunspot number 1700-2008"
    path = resolve(source)
    rows = _read_csv(path, "a CSV with a numeric column or data.source = \"builtin:sunspots\"")
    if not rows:
        raise InputError(f"data file {path} has no rows")
    cols = list(rows[0])
    col = column or cols[-1]
    if col not in cols:
        raise InputError(f"data file {path}: no column {col!r}; columns: {', '.join(cols)} (set data.column)")
    try:
        values = np.asarray([float(r[col]) for r in rows], dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"data file {path}: column {col!r} is not all numbers ({e})") from e
    if not np.isfinite(values).all():
        raise InputError(f"data file {path}: column {col!r} has NaN/Inf values; fill or drop them")
    return values, f"{path} column {col}"
