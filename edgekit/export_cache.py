"""A content-addressed cache of the canonical SavedModel export, in the user's own cache folder.

``model.export`` is the costliest step every ``edgekit convert`` pays before any format runs (about 4 s for
MobileNetV2). Its result depends only on the source's bytes, the input signature (``--input-shape``) and the
versions of edgekit, TensorFlow and Keras, so it is kept under a key made of exactly those:

    $EDGEKIT_EXPORT_CACHE_DIR, else <edgekit's user cache (edgekit.setup_js.cache_root)>/saved_model
        <key[:2]>/<key>/saved_model/...  +  entry.json  (the key's inputs and the folder's sha256)

A SavedModel is code (TensorFlow runs its graph), so the cache is used only when its folder is the user's own:
owned by them, not writable by group or others, outside site-packages; otherwise convert exports as before and
says why in a warning. Entries are written into a temporary sibling and renamed into place complete (entry.json
included), so a reader never sees half an entry and concurrent converts are safe (the first rename wins). A hit
is copied out and the copy's sha256 checked against entry.json: a corrupt or tampered entry is discarded and the
export rebuilt. ``--no-cache`` bypasses it. Past MAX_ENTRIES the least recently used entries are removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import sysconfig
import uuid
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.manifest import sha256_path

FORMAT = 1  # bump when the entry layout or the key's contents change
MAX_ENTRIES = 24  # the least recently used beyond this are removed after each store (a MobileNetV2 entry: ~7 MB)
ENTRY = "entry.json"
FOLDER = "saved_model"
ENV = "EDGEKIT_EXPORT_CACHE_DIR"

HIT, MISS, OFF = "hit", "miss", "off"


def root() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    from edgekit.setup_js import cache_root

    return cache_root() / "saved_model"


def key(source: Any, part: str = "whole") -> dict[str, Any]:
    """Everything the export depends on (``source`` is an edgekit.source.Source; ``part`` names which part of
    the source model is exported: the whole model, or the numeric part a text split leaves, docs/text.md)."""
    import keras
    import tensorflow as tf

    return {"format": FORMAT, "source_sha256": source.sha256, "kind": source.kind, "part": part,
            "inputs": [[t.name, list(t.shape), t.dtype] for t in source.inputs],
            "edgekit": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def unusable_reason(folder: Path) -> str | None:
    """Why ``folder`` must not hold code edgekit will run, or None when it is the user's own."""
    resolved = folder.resolve()
    for k in ("purelib", "platlib"):
        if resolved.is_relative_to(Path(sysconfig.get_paths()[k]).resolve()):
            return f"{folder} is inside site-packages"
    try:
        st = resolved.stat()
    except OSError as e:
        return f"{folder} cannot be read ({e.strerror})"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{folder} belongs to another user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{folder} is writable by other users"
    return None


def ensure_root() -> tuple[Path | None, str | None]:
    base = root()
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        return None, f"cannot create {base} ({e.strerror})"
    reason = unusable_reason(base)
    return (None, reason) if reason else (base, None)


def fetch(base: Path, fields: dict[str, Any], dest: Path) -> bool:
    """Copy the entry for ``fields`` to ``dest`` and check it; False (and ``dest`` absent) on a miss.

    A full disk or an unwritable ``dest`` is not the entry's fault: that OSError propagates and the entry stays."""
    entry = base / digest(fields)[:2] / digest(fields)
    try:
        if entry.is_symlink() or not entry.is_dir():
            return False
        meta = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != fields:
            raise ValueError("key mismatch")
        _copy_out(entry / FOLDER, dest)
        if sha256_path(dest) != meta.get("sha256"):
            raise ValueError("content mismatch")
        with contextlib.suppress(OSError):
            os.utime(entry)  # most recently used: the last to be pruned
        return True
    except (OSError, ValueError) as e:  # unreadable, incomplete, tampered, or discarded by another convert meanwhile
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(e, OSError) and _destination_fault(e, dest):
            raise
        discard(entry)
        return False


def _copy_out(src: Path, dest: Path) -> None:
    """Copy an entry's folder; a symbolic link anywhere in it makes the entry invalid (ValueError)."""
    if src.is_symlink():
        raise ValueError("symbolic link")
    dest.mkdir()
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_symlink():
            raise ValueError(f"symbolic link {path.name}")
        if path.is_dir():
            target.mkdir()
        else:
            shutil.copyfile(path, target)


def _destination_fault(e: OSError, dest: Path) -> bool:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and str(e.filename or "").startswith(str(dest))


def discard(entry: Path) -> None:
    """Remove an entry: renamed aside first (atomic), so no reader starts on a half-deleted one."""
    aside = entry.parent / f".discard-{entry.name[:16]}-{uuid.uuid4().hex[:8]}"
    try:
        os.replace(entry, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def store(base: Path, fields: dict[str, Any], exported: Path) -> None:
    """Add ``exported`` under ``fields``; best effort (a full disk only costs the next convert an export)."""
    name = digest(fields)
    shard = base / name[:2]
    tmp = shard / f".tmp-{name[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        shard.mkdir(exist_ok=True, mode=0o700)
        tmp.mkdir(mode=0o700)
        shutil.copytree(exported, tmp / FOLDER)
        meta = {"key": fields, "sha256": sha256_path(tmp / FOLDER)}
        (tmp / ENTRY).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
        os.rename(tmp, shard / name)  # fails when another convert stored it first: theirs is kept
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    prune(base)


def prune(base: Path, keep: int | None = None) -> None:
    """Remove the least recently used entries beyond ``keep`` (MAX_ENTRIES). A convert copying one out at that
    moment finds it gone and exports instead."""
    keep = MAX_ENTRIES if keep is None else keep

    def used(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    entries = sorted((p for p in base.glob("??/*") if not p.name.startswith(".")), key=used, reverse=True)
    for old in entries[keep:]:
        discard(old)


def export(source: Any, model: Any, out: Path, use: bool, warnings: list[str], part: str = "whole") -> str:
    """Write the canonical SavedModel to ``out`` from the cache or by exporting; returns hit, miss or off."""
    from edgekit.source import export_saved_model

    if not use:
        export_saved_model(source, model, out)
        return OFF
    base, reason = ensure_root()
    if base is None:
        warnings.append(f"the SavedModel export cache is not used: {reason} (a SavedModel is code: the cache must "
                        f"be your own folder; set {ENV} to one)")
        export_saved_model(source, model, out)
        return OFF
    fields = key(source, part)
    if fetch(base, fields, out):
        return HIT
    export_saved_model(source, model, out)
    store(base, fields, out)
    return MISS
