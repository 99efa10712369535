"""Representative (calibration) and golden data: loading, checking and splitting.

Sources accepted by ``--calibration`` / ``--golden``:
  * a ``.npy`` file: one array, for a single-input model
  * a ``.npz`` file: one array per model input (keys = input names), or a single array;
    an optional ``labels`` array holds the true class of each sample (golden sets)
  * a folder of images (optionally one sub-folder per class), resized to the model input
  * a ``.toml`` calibration definition (see calibration/README.md)
  * text, for a string input: ``.txt`` (one sample per line), a ``.csv`` column named after the input (a
    ``label`` column holds classes), or a ``.npy`` of unicode strings (edgekit.text.data, docs/text.md)
  * ``random`` (calibration only, explicit): uniform noise, recorded loudly in the manifest
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekit import schemas
from edgekit.errors import InputError
from edgekit.manifest import TensorSpec
from edgekit.text import data as text_data

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


class CalibrationDefinition(BaseModel):
    """A calibration ``.toml`` definition (calibration/README.md): strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str
    samples: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)
    resize: str | None = None
    description: str | None = None


CALIBRATION_KEYS = set(CalibrationDefinition.model_fields)


def available_memory() -> int:
    """Bytes of memory the system can still hand out (MemAvailable; physical memory where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_allocation(nbytes: int, what: str, fix: str) -> None:
    """Refuse an allocation that cannot fit in memory, before trying it (numpy raises MemoryError/ValueError)."""
    avail = available_memory()
    if nbytes > avail:
        raise InputError(f"{what} needs {nbytes / 1e9:,.1f} GB of memory but {avail / 1e9:,.1f} GB is available; "
                         f"{fix}")


def check_seed(seed: int, option: str = "--seed") -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"{option} must be a non-negative integer, got {seed!r}")


@dataclass
class DataSet:
    """Arrays keyed by input name, all with the same first (sample) dimension."""

    arrays: dict[str, np.ndarray]
    source: str
    labels: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return int(next(iter(self.arrays.values())).shape[0])

    def take(self, idx: np.ndarray) -> DataSet:
        return DataSet(
            arrays={k: v[idx] for k, v in self.arrays.items()},
            source=self.source,
            labels=None if self.labels is None else self.labels[idx],
            warnings=list(self.warnings),
        )

    def sha256(self) -> str:
        h = hashlib.sha256()
        for k in sorted(self.arrays):
            a = np.ascontiguousarray(self.arrays[k])
            h.update(k.encode() + b"\0" + str(a.dtype).encode() + b"\0" + str(a.shape).encode() + b"\0")
            h.update(a.tobytes())
        return h.hexdigest()


def load_dataset(spec: str, inputs: list[TensorSpec], what: str, allow_random: bool = False,
                 random_samples: int = 0, seed: int = 0) -> DataSet:
    """Load ``spec`` for the model ``inputs``; ``what`` is 'calibration' or 'golden' for messages."""
    if spec == "random":
        if not allow_random:
            raise InputError(f"--{what} random is not allowed here; give real data (.npy/.npz/image folder)")
        return random_dataset(inputs, random_samples, seed)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"--{what} {spec}: no such file or folder; give a .npy/.npz file, an image folder "
                         "or a calibration .toml")
    if path.is_dir():
        ds = _load_image_folder(path, inputs, what)
    elif path.suffix == ".npy":
        ds = _load_npy(path, inputs, what)
    elif path.suffix == ".npz":
        ds = _load_npz(path, inputs, what)
    elif path.suffix == ".toml":
        ds = _load_definition(path, inputs, what, seed)
    elif path.suffix in (".txt", ".csv"):
        ds = _load_text(path, inputs, what)
    else:
        raise InputError(f"--{what} {spec}: unsupported file type {path.suffix!r}; use .npy, .npz, .toml, "
                         "a folder of images, or .txt/.csv for text")
    check_dataset(ds, inputs, what)
    return ds


def random_dataset(inputs: list[TensorSpec], samples: int, seed: int, what: str = "calibration") -> DataSet:
    check_seed(seed)
    for t in inputs:
        if t.dtype == "string":
            raise text_data.random_refusal(t.name, what)
    option = "--calibration-samples" if what == "calibration" else f"--{what}-samples"
    nbytes = sum(samples * math.prod(int(d) for d in t.shape[1:]) * np.dtype(t.dtype).itemsize for t in inputs)
    check_allocation(nbytes, f"{option} {samples} of random data for inputs "
                     f"{[[samples] + list(t.shape[1:]) for t in inputs]}", f"give a smaller {option}")
    rng = np.random.default_rng(seed)
    arrays = {}
    for t in inputs:
        shape = [samples] + [int(d) for d in t.shape[1:]]
        if t.dtype.startswith("int") or t.dtype.startswith("uint"):
            arrays[t.name] = rng.integers(0, 10, size=shape).astype(t.dtype)
        else:
            arrays[t.name] = rng.random(shape, dtype=np.float32).astype(t.dtype)
    return DataSet(arrays, source="random", warnings=[
        "calibration data is RANDOM noise (--calibration random): int8 scales are not representative of real "
        "inputs and int8 accuracy on real data may be poor"])


def check_dataset(ds: DataSet, inputs: list[TensorSpec], what: str) -> None:
    """Shape, dtype, emptiness and finiteness checks with messages that name the problem."""
    names = [t.name for t in inputs]
    if set(ds.arrays) != set(names):
        raise InputError(f"--{what} {ds.source}: holds arrays {sorted(ds.arrays)} but the model's inputs are "
                         f"{names}; name the npz arrays after the inputs")
    counts = set()
    for t in inputs:
        a = ds.arrays[t.name]
        if a.ndim == 0 or a.shape[0] == 0:
            raise InputError(f"--{what} {ds.source}: input {t.name!r} is empty (shape {a.shape}); give at least "
                             "one sample")
        want = tuple(t.shape[1:])
        got = tuple(a.shape[1:])
        if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got, strict=True)):
            raise InputError(f"--{what} {ds.source}: input {t.name!r} has sample shape {list(got)} but the model "
                             f"expects {list(t.shape[1:])} (None = any); reshape or resize the data")
        _check_kind(a, t, what, ds.source)
        if t.dtype == "string":
            ds.arrays[t.name] = text_data.decoded(a, f"--{what} {ds.source}: input {t.name!r}")
            counts.add(a.shape[0])
            continue
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int((~np.isfinite(a)).sum())
            raise InputError(f"--{what} {ds.source}: input {t.name!r} contains {bad} NaN/Inf values; clean the data")
        if np.dtype(t.dtype).kind in "iu" and a.dtype.kind == "f":
            raise InputError(f"--{what} {ds.source}: input {t.name!r} is {a.dtype} but the model takes {t.dtype}; "
                             "give integer data")
        ds.arrays[t.name] = _cast(a, t, what, ds.source)
        counts.add(a.shape[0])
    if len(counts) != 1:
        raise InputError(f"--{what} {ds.source}: inputs have different sample counts {sorted(counts)}")
    if ds.labels is not None and len(ds.labels) != ds.samples:
        raise InputError(f"--{what} {ds.source}: {len(ds.labels)} labels for {ds.samples} samples")


def _check_kind(a: np.ndarray, t: TensorSpec, what: str, source: str) -> None:
    """Strings for a string input, numbers for a number input; the message says which was received."""
    text = a.dtype.kind in "US"
    if t.dtype == "string" and not text:
        raise InputError(f"--{what} {source}: input {t.name!r} has dtype {a.dtype} but the model takes strings; "
                         f"give {text_data.DATA_HINT}")
    if t.dtype != "string" and a.dtype.kind not in "fiub":
        got = f"{a.dtype} (text)" if text else str(a.dtype)
        raise InputError(f"--{what} {source}: input {t.name!r} has dtype {got}, not a number type, but the model "
                         f"takes {t.dtype}; give {t.dtype} data")


def _cast(a: np.ndarray, t: TensorSpec, what: str, source: str) -> np.ndarray:
    """Cast to the input's dtype, then check again: float64 1e300 is finite but float32 inf (int8 segfaulted)."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = a.astype(t.dtype, copy=False)
    if cast.dtype.kind == "f" and not np.isfinite(cast).all():
        bad = int((~np.isfinite(cast)).sum())
        lo, hi = float(np.finfo(cast.dtype).min), float(np.finfo(cast.dtype).max)
        raise InputError(f"--{what} {source}: input {t.name!r} has {bad} values outside the {t.dtype} range "
                         f"[{lo:.3g}, {hi:.3g}] (the model takes {t.dtype}); rescale the data")
    return cast


def split_golden(ds: DataSet, golden: int, seed: int) -> tuple[DataSet, DataSet]:
    """Hold out ``golden`` samples (never used for calibration); the rest calibrates."""
    n = ds.samples
    if n < golden + 1:
        raise InputError(
            f"the calibration data has {n} samples: too few to hold out {golden} golden inputs and still "
            f"calibrate; give more data, --golden-samples {max(1, n // 4)}, or a separate --golden set")
    check_seed(seed)
    order = np.random.default_rng(seed).permutation(n)
    return ds.take(order[golden:]), ds.take(order[:golden])


def _single_input(inputs: list[TensorSpec], path: Path, what: str) -> TensorSpec:
    if len(inputs) != 1:
        raise InputError(f"--{what} {path}: one array for a model with {len(inputs)} inputs; use an .npz with "
                         f"arrays named {[t.name for t in inputs]}")
    return inputs[0]


def _load_npy(path: Path, inputs: list[TensorSpec], what: str) -> DataSet:
    t = _single_input(inputs, path, what)
    try:
        # allow_pickle=False: never unpickle user data.
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"--{what} {path}: not a readable .npy array ({e}); save it with numpy.save") from e
    return DataSet({t.name: a}, source=str(path))


def _load_npz(path: Path, inputs: list[TensorSpec], what: str) -> DataSet:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"--{what} {path}: not a readable .npz archive ({e}); save it with numpy.savez") from e
    labels = data.pop("labels", None)
    names = [t.name for t in inputs]
    if len(data) == 1 and len(inputs) == 1 and names[0] not in data:
        data = {names[0]: next(iter(data.values()))}
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
    return DataSet(data, source=str(path), labels=labels)


def _load_image_folder(path: Path, inputs: list[TensorSpec], what: str, limit: int | None = None) -> DataSet:
    t = _single_input(inputs, path, what)
    if len(t.shape) != 4 or t.shape[1] is None or t.shape[2] is None:
        raise InputError(f"--{what} {path}: an image folder needs a model input of shape [batch, H, W, C] with "
                         f"known H and W; the input {t.name!r} is {t.shape}")
    h, w, c = int(t.shape[1]), int(t.shape[2]), int(t.shape[3] or 3)
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[tuple[Path, int | None]] = []
    if subdirs:
        for ci, d in enumerate(subdirs):
            files += [(p, ci) for p in sorted(d.rglob("*")) if _is_image(p)]
    else:
        files = [(p, None) for p in sorted(path.iterdir()) if _is_image(p)]
    if not files:
        raise InputError(f"--{what} {path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    if limit:
        files = files[:limit]
    check_allocation(len(files) * h * w * c * 4 * 2, f"--{what} {path}: {len(files)} images at {h}x{w}x{c}",
                     "use fewer images (a calibration .toml with 'samples' draws a subset)")
    import tensorflow as tf

    images, labels, bad = [], [], []
    for f, label in files:
        try:
            img = tf.io.decode_image(tf.io.read_file(str(f)), channels=c, expand_animations=False)
        except tf.errors.OpError:  # undecodable, unreadable, vanished: skipped and counted
            bad.append(f.name)
            continue
        img = tf.image.resize(img, (h, w), method="bilinear")
        images.append(img.numpy().astype(np.float32))
        labels.append(label)
    if not images:
        raise InputError(f"--{what} {path}: none of the {len(files)} images could be decoded")
    warnings = []
    if bad:
        warnings.append(f"{len(bad)} unreadable image(s) in {path} skipped: {', '.join(bad[:5])}")
    lab = np.asarray(labels, dtype=np.int64) if subdirs else None
    return DataSet({t.name: np.stack(images).astype(t.dtype)}, source=str(path), labels=lab, warnings=warnings)


def _load_text(path: Path, inputs: list[TensorSpec], what: str) -> DataSet:
    t = _single_input(inputs, path, what)
    if path.suffix == ".txt":
        return DataSet({t.name: text_data.read_lines(path, t.shape, what)}, source=str(path))
    arr, labels = text_data.read_csv(path, t.name, t.shape, what)
    return DataSet({t.name: arr}, source=str(path), labels=labels)


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()


def _load_definition(path: Path, inputs: list[TensorSpec], what: str, seed: int) -> DataSet:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"--{what} {path}: not a readable TOML file ({e})") from e
    body = doc.get("calibration", doc)
    if not isinstance(body, dict):
        raise InputError(f"--{what} {path}: [calibration] must be a table, got {body!r}")
    unknown = set(body) - CALIBRATION_KEYS
    if unknown:
        raise InputError(f"--{what} {path}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(CALIBRATION_KEYS)}")
    if "source" not in body:
        raise InputError(f"--{what} {path}: missing 'source' (a .npy/.npz file or image folder, relative to the toml)")
    definition = schemas.validate(CalibrationDefinition, body, f"--{what} {path} (see calibration/README.md)")
    src = (path.parent / definition.source).resolve()
    if src.suffix == ".toml":
        raise InputError(f"--{what} {path}: 'source' may not be another .toml")
    ds = load_dataset(str(src), inputs, what)
    samples = definition.samples
    if samples is not None and ds.samples > samples:
        draw_seed = seed if definition.seed is None else definition.seed
        idx = np.random.default_rng(draw_seed).permutation(ds.samples)[:samples]
        ds = ds.take(np.sort(idx))
    ds.source = f"{path} -> {src}"
    return ds


def input_paths(spec: str | None) -> list[Path]:
    """The files and folders a --calibration/--golden value reads (a .toml definition and its source), so
    that an output folder replaced with --force can be refused when it holds one of them."""
    if not spec or spec == "random":
        return []
    path = Path(spec)
    paths = [path]
    if path.suffix == ".toml" and path.is_file():
        try:
            body = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return paths  # load_dataset says what is wrong with it
        body = body.get("calibration", body)
        if isinstance(body, dict) and isinstance(body.get("source"), str):
            paths.append(path.parent / body["source"])
    return paths


def describe(ds: DataSet) -> dict[str, Any]:
    return {"source": ds.source, "samples": ds.samples, "sha256": ds.sha256(),
            "random": ds.source == "random", "warnings": ds.warnings}
