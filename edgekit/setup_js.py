"""Where edgekit's JavaScript runtimes live, and how they get there: ``npm ci`` from the lockfile edgekit ships.

A wheel carries ``edgekit/js/package.json``, ``package-lock.json`` and the runner scripts, never node_modules
(300 MB, and site-packages is no place to write at run time). ``edgekit setup`` (and ``make setup-js`` in a
checkout) runs ``npm ci`` into a per-user cache folder named after the lockfile's sha256:

    $EDGEKIT_CACHE_DIR or $XDG_CACHE_HOME/edgekit or ~/.cache/edgekit
        js/<first 16 hex digits of sha256(package-lock.json)>/
            package.json, package-lock.json, node_modules/ (+ .edgekit-lock-sha256 once complete), runner copies

A changed lockfile (an upgrade, a new package) gets a new folder; an interrupted install never counts as one
(the stamp is written last, the folder is renamed into place). ``home()`` is the one place edgekit asks where
node_modules is: the cache for this lockfile when complete, else a checkout's own ``edgekit/js/node_modules``
(installed by hand or by an older ``make setup-js``), else the cache folder it would install into.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import EdgekitError, InputError, MissingDependency

SHIPPED = Path(__file__).resolve().parent / "js"  # package.json, package-lock.json, runner scripts
LOCKFILE = "package-lock.json"
STAMP = ".edgekit-lock-sha256"
NPM_CI = ["ci", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts"]
INSTALL_TIMEOUT_S = 900


def lock_hash(js_dir: Path = SHIPPED) -> str:
    return hashlib.sha256((js_dir / LOCKFILE).read_bytes()).hexdigest()


def cache_root() -> Path:
    """The per-user cache (XDG base directories): $EDGEKIT_CACHE_DIR, $XDG_CACHE_HOME/edgekit, ~/.cache/edgekit."""
    if os.environ.get("EDGEKIT_CACHE_DIR"):
        return Path(os.environ["EDGEKIT_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "edgekit"


def cache_home() -> Path:
    """The folder ``npm ci`` installs into for the shipped lockfile."""
    return cache_root() / "js" / lock_hash()[:16]


def is_complete(home: Path) -> bool:
    try:
        return (home / "node_modules" / STAMP).read_text(encoding="utf-8").strip() == lock_hash()
    except OSError:
        return False


def home() -> Path:
    """The folder whose node_modules edgekit uses (see the module docstring for the order)."""
    cached = cache_home()
    if is_complete(cached):
        return cached
    if (SHIPPED / "node_modules").is_dir():
        return SHIPPED
    return cached


def node_modules() -> Path:
    return home() / "node_modules"


def script(name: str, where: Path) -> Path:
    """The shipped JS file ``name`` inside ``where`` (a runtime home), copied there when it is not the shipped
    folder: Node resolves a script's bare imports from the script's own folder upwards."""
    src = SHIPPED / name
    if where.resolve() == SHIPPED:
        return src
    dst = where / name
    if not (dst.is_file() and filecmp.cmp(src, dst, shallow=False)):
        tmp = where / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return dst


def install_hint() -> str:
    return f"run `edgekit setup` (npm ci from edgekit's lockfile into {cache_home()}; `make setup-js` in a checkout)"


@dataclass
class JsInstall:
    home: Path
    installed: bool  # False: it was already complete
    seconds: float
    bytes: int


def _inside_site_packages(path: Path) -> bool:
    roots = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    return any(path.resolve().is_relative_to(r) for r in roots)


def install(force: bool = False, npm: str | None = None) -> JsInstall:
    """``npm ci`` from the shipped lockfile into ``cache_home()``; nothing when already complete (unless force)."""
    target = cache_home()
    if _inside_site_packages(target):
        raise InputError(f"the JavaScript cache {target} is inside site-packages; set EDGEKIT_CACHE_DIR or "
                         "XDG_CACHE_HOME to a folder of your own")
    if is_complete(target) and not force:
        return JsInstall(target, False, 0.0, _size(target / "node_modules"))
    npm = npm or shutil.which("npm")
    if npm is None:
        from edgekit.system_deps import how_to_get

        raise MissingDependency("npm", f"{how_to_get('node')}, then run `edgekit setup` again")
    t0 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name in ("package.json", LOCKFILE):
            shutil.copyfile(SHIPPED / name, staging / name)
        _npm_ci(npm, staging)
        (staging / "node_modules" / STAMP).write_text(lock_hash() + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return JsInstall(target, True, time.perf_counter() - t0, _size(target / "node_modules"))


def _npm_ci(npm: str, cwd: Path) -> None:
    try:
        proc = subprocess.run([npm, *NPM_CI], cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise EdgekitError(f"npm ci did not finish within {INSTALL_TIMEOUT_S} s in {cwd}; check the network or "
                           "the npm registry setting (npm config get registry)") from e
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise EdgekitError(f"npm ci failed (exit {proc.returncode}) in {cwd}: {tail}")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


__all__ = ["JsInstall", "cache_home", "cache_root", "home", "install", "install_hint", "is_complete", "lock_hash",
           "node_modules", "script"]
