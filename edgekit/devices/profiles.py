"""Device profiles: what ``--device NAME`` means.

A profile is a small TOML file. ``NAME`` resolves, in order, to:

1. ``ssh://[user@]host[:port]``: an ad-hoc SSH profile with every other key at its default;
2. a path to a ``.toml`` file (anything ending in ``.toml`` or containing a path separator);
3. the user's own ``NAME.toml`` in ``$XDG_CONFIG_HOME/edgekit/devices`` (``~/.config/edgekit/devices``),
   which replaces a built-in profile of the same name (so ``rpi`` can point at the user's board);
4. a built-in profile shipped as package data (``edgekit/data/devices``: cpu, rpi, gpu, edgetpu, browser).

Unknown keys are refused with the list of valid ones: a typo (``hots = ...``) must not silently
validate on the wrong machine.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgekit.errors import InputError
from edgekit.schemas import describe

KINDS = ("local", "ssh", "gpu", "edgetpu", "browser", "mcu")
RUNTIME_CHOICES = ("auto", "ai_edge_litert", "tflite_runtime")

# Keys each kind accepts, besides ``kind`` and ``description``.
_KEYS: dict[str, tuple[str, ...]] = {
    "local": ("threads",),
    "ssh": ("host", "port", "user", "identity_file", "known_hosts_file", "python", "runtime", "threads", "workdir",
            "connect_timeout", "emulated"),
    "gpu": ("threads", "delegate"),
    "edgetpu": ("threads", "delegate", "device"),
    "browser": ("threads",),
    "mcu": ("flash_kb", "ram_kb"),  # a microcontroller board: TFLite Micro here, its flash/RAM budget checked
}


@dataclass
class Profile:
    name: str
    kind: str
    description: str = ""
    source: str = ""  # where the profile came from (a file path, "built-in", or the ssh:// URL)
    host: str | None = None
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts_file: str | None = None
    python: str = "python3"
    runtime: str = "auto"
    threads: int | None = None
    workdir: str | None = None
    connect_timeout: int = 10
    emulated: bool = False  # a qemu stand-in: timings are labelled emulated and never mean board latency
    delegate: str | None = None
    device: str | None = None
    flash_kb: int | None = None  # mcu: flash for the model (KiB)
    ram_kb: int | None = None  # mcu: RAM the tensor arena may use (KiB; PSRAM included where the arena can live)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, "")}


class _ProfileSchema(BaseModel):
    """The typed keys of a profile file (which keys each kind accepts is ``_KEYS``); TOML booleans are not ints."""

    model_config = ConfigDict(strict=True, extra="forbid")
    kind: Literal["local", "ssh", "gpu", "edgetpu", "browser", "mcu"]
    description: str = ""
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts_file: str | None = None
    python: Annotated[str, Field(pattern=r"\S")] = "python3"
    runtime: Literal["auto", "ai_edge_litert", "tflite_runtime"] = "auto"
    threads: Annotated[int, Field(ge=1, le=4096)] | None = None
    workdir: str | None = None
    connect_timeout: Annotated[int, Field(ge=1, le=3600)] = 10
    emulated: bool = False
    delegate: str | None = None
    device: str | None = None
    flash_kb: Annotated[int, Field(ge=1, le=1 << 22)] | None = None  # up to 4 GiB
    ram_kb: Annotated[int, Field(ge=1, le=1 << 22)] | None = None


def _typed(doc: dict[str, Any], name: str, source: str) -> Profile:
    try:
        values = _ProfileSchema.model_validate(doc).model_dump(exclude_unset=True)
    except ValidationError as e:
        key, expected, received = describe(e.errors(include_url=False)[0])
        raise InputError(f"device profile {source}: {key} must be {expected}. Received: {key}={received}") from None
    p = Profile(name=name, source=source, **values)
    _check(p)
    return p


def user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edgekit" / "devices"


def builtin_names() -> list[str]:
    root = resources.files("edgekit") / "data" / "devices"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def known_names() -> list[str]:
    names = set(builtin_names())
    d = user_dir()
    if d.is_dir():
        names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def resolve(spec: str) -> Profile:
    """The profile ``spec`` names (see the module docstring). Bad or unknown names: InputError (exit 2)."""
    spec = spec.strip()
    if not spec:
        raise InputError("--device is empty; give a profile name (cpu, rpi, gpu, edgetpu), a .toml path or "
                         "ssh://user@host:port")
    if spec.startswith("ssh://"):
        return from_url(spec)
    if spec.endswith(".toml") or os.sep in spec or "/" in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise InputError(f"--device {spec}: no such profile file; give an existing .toml file or a profile "
                             f"name ({', '.join(known_names())})")
        return load_file(path, name=path.stem)
    user = user_dir() / f"{spec}.toml"
    if user.is_file():
        return load_file(user, name=spec)
    if spec in builtin_names():
        text = (resources.files("edgekit") / "data" / "devices" / f"{spec}.toml").read_text(encoding="utf-8")
        return parse(text, name=spec, source="built-in")
    raise InputError(f"--device {spec!r} is not a known device profile; known: {', '.join(known_names())}; or give "
                     f"a .toml path, or ssh://user@host:port (user profiles go in {user_dir()})")


def load_file(path: Path, name: str) -> Profile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"device profile {path}: cannot read it ({e})") from e
    return parse(text, name=name, source=str(path))


def parse(text: str, name: str, source: str) -> Profile:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"device profile {source}: not valid TOML ({e})") from e
    return from_dict(doc, name=name, source=source)


def from_dict(doc: dict[str, Any], name: str, source: str) -> Profile:
    kind = doc.get("kind", "ssh" if "host" in doc else None)
    if kind not in KINDS:
        raise InputError(f"device profile {source}: kind must be one of {', '.join(KINDS)}. Received: kind={kind!r}")
    valid = ("kind", "description") + _KEYS[kind]
    unknown = sorted(k for k in doc if k not in valid)
    if unknown:
        raise InputError(f"device profile {source}: unknown key(s) {', '.join(unknown)} for kind {kind!r}; "
                         f"valid keys: {', '.join(valid)}")
    return _typed({**doc, "kind": kind}, name, source)


def from_url(url: str) -> Profile:
    """``ssh://[user@]host[:port]``: the other keys keep their defaults (python3, runtime auto)."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as e:
        raise InputError(f"--device {url}: not a valid ssh:// URL ({e}); expected ssh://user@host:port") from e
    if not u.hostname or u.path not in ("", "/") or u.query or u.fragment or u.password:
        raise InputError(f"--device {url}: expected ssh://user@host:port (no password, path or query)")
    doc = {"kind": "ssh", "host": u.hostname, "port": port, "user": unquote(u.username) if u.username else None}
    return _typed({k: v for k, v in doc.items() if v is not None}, u.hostname, url)


def _check(p: Profile) -> None:
    where = f"device profile {p.source}"
    if p.kind == "mcu" and (p.flash_kb is None or p.ram_kb is None):
        raise InputError(f"{where}: an mcu profile needs flash_kb and ram_kb (whole KiB, e.g. flash_kb = 1024, "
                         f"ram_kb = 256). Received: flash_kb={p.flash_kb}, ram_kb={p.ram_kb}")
    if p.kind == "ssh":
        if not p.host:
            raise InputError(f"{where}: an ssh profile needs host = \"name or address\"")
        # ssh would read a leading '-' as an option: never let a profile smuggle options in.
        for key in ("host", "user"):
            v = getattr(p, key)
            if v is not None and (v.startswith("-") or any(c.isspace() for c in v) or not v):
                raise InputError(f"{where}: {key} {v!r} is not a valid host/user name")
        for key in ("identity_file", "known_hosts_file"):
            v = getattr(p, key)
            if v and '"' in v:
                raise InputError(f"{where}: {key} must not contain a double quote. Received: {v!r}")


__all__ = ["KINDS", "Profile", "builtin_names", "known_names", "resolve", "user_dir"]
