"""Output folders a command owns (convert --out, train --out, bundle --out, validate's report folder).

One contract for all of them:
- ``check_out``: refuse an --out that is a file, a non-empty folder without --force, a folder that holds
  (or is) one of the command's inputs, or a folder nested with the folder the command reads;
- ``staging``: build in a temporary sibling ``.DIR.edgekit-tmp-PID-XXXXXXXX`` and move it into place only
  when complete (``replace``: the reader sees the old DIR or the whole new one, never half of one);
- ``clean_stale``: staging siblings left by a killed run (their PID is dead) are removed and reported;
- ``write_text_inside``: a file is written by replacing a regular file inside its folder, never through a
  symlink, so a link planted in an output folder cannot redirect the write elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from edgekit.errors import InputError

STAGING_INFIX = ".edgekit-tmp-"
OLD_INFIX = ".edgekit-old-"


def _abs(p: Path) -> Path:
    """Absolute without following links (a lexical view), to compare with the resolved one."""
    return Path(os.path.abspath(p))


def inside(child: Path, parent: Path) -> bool:
    """``child`` equals ``parent`` or lies under it, lexically or once links are resolved."""
    for c, p in ((_abs(child), _abs(parent)), (child.resolve(), parent.resolve())):
        if c == p or p in c.parents:
            return True
    return False


def check_out(out: Path, force: bool, protected: Iterable[Path] = (), *, reads: Path | None = None,
              option: str = "--out") -> None:
    """Refuse an output folder the command cannot own. ``protected``: input files and folders that must
    survive --force; ``reads``: the folder the command reads, which --out may not be in, be, or hold."""
    out = Path(out)
    if reads is not None and (inside(out, reads) or inside(reads, out)):
        raise InputError(f"{option} {out} overlaps the input folder {reads} (inside it, the same, or a parent "
                         f"of it); --force would replace what is being read. Choose an {option} outside it")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(f"{option} {out} exists and is {'a symlink' if out.is_symlink() else 'a file'}; give a "
                         "folder path")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError(f"{option} {out} exists and is not empty; pass --force to replace it or choose "
                             "another folder")
        for p in protected:
            if inside(Path(p), out):
                raise InputError(f"{option} {out} contains the input {p}; --force would delete it. Choose "
                                 "another output folder or move the input out of it")
    probe = _abs(out).parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot write {option} {out}: {probe} is a file, not a folder; choose another {option}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {probe} (permission denied); choose a writable {option}")


# ---------------------------------------------------------------------------------------------------------
# Staging, replace, stale cleanup


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except (OverflowError, OSError):
        return False
    return True


def clean_stale(out: Path) -> list[str]:
    """Remove staging siblings of ``out`` left by runs that were killed (their PID no longer exists) and
    that this user owns; return one notice per folder removed. A live run's staging is never touched."""
    out_abs = _abs(out)
    parent = out_abs.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(out_abs.name)}{re.escape(STAGING_INFIX)}(\d+)-[0-9a-f]{{8}}(-.*)?$")
    notices = []
    for p in sorted(parent.iterdir()):
        match = pattern.match(p.name)
        if not match or p.is_symlink() or not p.is_dir() or p.stat().st_uid != os.getuid():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        shutil.rmtree(p, ignore_errors=True)
        if match.group(2):
            continue  # a scratch sibling of that staging folder: one notice per run is enough
        notices.append(f"removed {p.name}, a staging folder left in {parent} by an earlier run (process {pid}) "
                       "that was killed before it finished")
    return notices


@dataclass
class Staging:
    """A temporary sibling of ``out``; ``path`` is filled, then moved into place by ``staging()``."""

    out: Path
    path: Path
    notices: list[str] = field(default_factory=list)  # stale staging folders removed before this run

    def sibling(self, suffix: str) -> Path:
        """Scratch space next to the staging folder (removed with it): ``.DIR.edgekit-tmp-...-suffix``."""
        return self.path.with_name(f"{self.path.name}-{suffix}")


@contextmanager
def staging(out: Path, commit: bool = True) -> Iterator[Staging]:
    """Yield a fresh staging folder for ``out``; on a clean exit move it into place (when ``commit``).
    Whatever happens, the staging folder and its scratch siblings are gone afterwards."""
    out_abs = _abs(out)
    notices = clean_stale(out_abs)
    out_abs.parent.mkdir(parents=True, exist_ok=True)
    path = out_abs.parent / f".{out_abs.name}{STAGING_INFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    st = Staging(out=out_abs, path=path, notices=notices)
    try:
        yield st
        if commit:
            replace(path, out_abs)
    finally:
        for p in path.parent.glob(f"{path.name}*"):
            shutil.rmtree(p, ignore_errors=True)


def replace(staging_path: Path, out: Path) -> None:
    """Atomic from the reader's point of view: ``out`` is either the old folder or the complete new one."""
    if out.exists() or out.is_symlink():
        trash = out.parent / f".{out.name}{OLD_INFIX}{uuid.uuid4().hex[:8]}"
        os.replace(out, trash)
        try:
            os.replace(staging_path, out)
        except OSError:
            os.replace(trash, out)
            raise
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink()
    else:
        os.replace(staging_path, out)


# ---------------------------------------------------------------------------------------------------------
# Files inside a folder the command owns


def contained(folder: Path, path: Path, what: str) -> Path:
    """``path`` when it stays inside ``folder`` once links are resolved (if it is lexically inside it)."""
    path = Path(path)
    if _abs(path) == _abs(folder) or _abs(folder) in _abs(path).parents:
        root = Path(folder).resolve()
        real = path.resolve()
        if real != root and root not in real.parents:
            raise InputError(f"{what} {path} resolves outside {folder} (a symlink to {real}?); refusing to write "
                             f"through it. Remove the link or choose another {what}")
    return path


def check_writable_folder(folder: Path, names: Iterable[str], option: str) -> None:
    """Refuse, before any work, a folder that cannot take ``names`` (a file, a file named like a folder)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder} is a file; give a folder (it is created when missing)")
    for name in names:
        p = folder / name
        if p.is_dir() and not p.is_symlink():
            raise InputError(f"{option} {folder}: {name} is a folder; remove it or choose another {option}")
    probe = _abs(folder)
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {folder}: cannot write in {probe}; choose a writable {option}")


def write_text_inside(folder: Path, name: str, text: str) -> Path:
    """Write ``folder/name`` by replacing it with a new regular file: a symlink there is replaced, not followed."""
    folder = Path(folder)
    target = folder / name
    tmp = folder / f".{name}{STAGING_INFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # rename() replaces a link itself, never the file it points to
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


@contextmanager
def native_stderr_to(path: Path) -> Iterator[TextIO]:
    """Send fd 2 (TensorFlow's C++ logs, converter chatter) to ``path`` in the staging folder; yield a
    stream to the real terminal. EDGEKIT_DEBUG=1 leaves stderr alone."""
    if os.environ.get("EDGEKIT_DEBUG", "") not in ("", "0"):
        yield sys.stderr
        return
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    term = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield term
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        term.close()
