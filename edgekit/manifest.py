"""The manifest: the contract between ``edgekit convert`` and ``edgekit validate``.

Pure standard library (plus nothing heavy) so that ``validate`` can read it on any machine.
The schema is documented in docs/manifest.md; bump ``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator
import os
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from edgekit.errors import InputError, ManifestError
from edgekit.schemas import dumps_json, loads_json, one_line
from edgekit.text.record import TextRecord

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
GOLDEN_INPUTS = "golden_inputs.npz"
REFERENCE_OUTPUTS = "reference_outputs.npz"

STATUS_OK = "ok"
STATUS_FAILED = "failed"
# Written and loadable, but its runtime cannot execute it (convert's run check): kept, never used by default.
STATUS_NOT_RUNNABLE = "not-runnable"


@dataclass
class TensorSpec:
    name: str
    shape: list[int | None]
    dtype: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSpec:
        return cls(name=str(d["name"]), shape=list(d["shape"]), dtype=str(d["dtype"]))


@dataclass
class QuantParams:
    """How a quantized I/O tensor maps to real values: real = scale * (q - zero_point)."""

    name: str
    dtype: str
    scale: float
    zero_point: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantParams:
        return cls(name=str(d["name"]), dtype=str(d["dtype"]), scale=float(d["scale"]),
                   zero_point=int(d["zero_point"]))


@dataclass
class RunCheck:
    """Convert's run check (tfjs: edgekit/formats/tfjs_check.py): one golden sample against the source model."""

    status: Literal["runnable", "partly-runnable", "not-runnable", "mismatch", "skipped"]
    reason: str | None = None
    backends: dict[str, str] = field(default_factory=dict)  # backend -> "ran" or why it could not run
    max_abs_diff: float | None = None
    seconds: float | None = None


@dataclass
class Artifact:
    id: str
    format: str
    variant: str
    path: str
    status: str = STATUS_OK
    reason: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    seconds: float | None = None
    converter: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    # Per-tensor quantization of the artifact's own inputs/outputs (only quantized ones are listed).
    quantization: dict[str, list[QuantParams]] = field(default_factory=lambda: {"inputs": [], "outputs": []})
    requires_flex: bool = False
    # Stateful kernels (the fused TFLite LSTM) keep state across invocations: callers must reset it per input.
    requires_state_reset: bool = False
    # Names of the artifact's own I/O tensors, in signature order, when they differ from the signature's.
    io_names: dict[str, list[str]] | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    run_check: RunCheck | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:  # run_check only when set: only tfjs has one
        return {k: v for k, v in asdict(self).items() if k != "run_check" or v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Artifact:
        q = d.get("quantization") or {}
        return cls(
            id=str(d["id"]),
            format=str(d["format"]),
            variant=str(d["variant"]),
            path=str(d["path"]),
            status=str(d.get("status", STATUS_OK)),
            reason=d.get("reason"),
            sha256=d.get("sha256"),
            bytes=d.get("bytes"),
            seconds=d.get("seconds"),
            converter=dict(d.get("converter") or {}),
            calibration=d.get("calibration"),
            quantization={
                "inputs": [QuantParams.from_dict(x) for x in q.get("inputs", [])],
                "outputs": [QuantParams.from_dict(x) for x in q.get("outputs", [])],
            },
            requires_flex=bool(d.get("requires_flex", False)),
            requires_state_reset=bool(d.get("requires_state_reset", False)),
            io_names=d.get("io_names"),
            notes=list(d.get("notes") or []),
            extra=dict(d.get("extra") or {}),
            run_check=RunCheck(**d["run_check"]) if d.get("run_check") else None,
        )


@dataclass
class Manifest:
    edgekit_version: str
    source: dict[str, Any]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    artifacts: list[Artifact] = field(default_factory=list)
    golden: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    labels: list[str] | None = None
    preprocessing: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    created: str | None = None
    schema: int = SCHEMA_VERSION
    text: dict[str, Any] | None = None  # a split text model (edgekit.text.record.TextRecord, docs/text.md)

    def artifact(self, artifact_id: str) -> Artifact:
        for a in self.artifacts:
            if a.id == artifact_id:
                return a
        known = ", ".join(a.id for a in self.artifacts) or "none"
        raise ManifestError(f"no artifact with id {artifact_id!r} in the manifest; known ids: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "edgekit_version": self.edgekit_version,
            "created": self.created,
            "source": self.source,
            "signature": {
                "inputs": [asdict(t) for t in self.inputs],
                "outputs": [asdict(t) for t in self.outputs],
            },
            "labels": self.labels,
            "preprocessing": self.preprocessing,
            "golden": self.golden,
            "calibration": self.calibration,
            "warnings": self.warnings,
            "artifacts": [a.to_dict() for a in self.artifacts],
            **({"text": self.text} if self.text is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        if not isinstance(d, dict):
            raise ManifestError("manifest.json does not hold a JSON object; re-run `edgekit convert`")
        schema = d.get("schema")
        if schema != SCHEMA_VERSION or isinstance(schema, bool):
            raise ManifestError(
                f"manifest schema {schema!r} is not supported by this edgekit (reads schema {SCHEMA_VERSION}); "
                "re-run `edgekit convert` with this version or install the edgekit that wrote it"
            )
        try:
            doc = _ManifestDoc.model_validate(d)
        except ValidationError as e:
            raise ManifestError(one_line(e, "manifest.json") + "; re-run `edgekit convert`") from None
        return cls(
            schema=SCHEMA_VERSION,
            edgekit_version=doc.edgekit_version,
            created=doc.created,
            source=doc.source,
            inputs=_record(doc.signature.inputs),
            outputs=_record(doc.signature.outputs),
            artifacts=_record(doc.artifacts),
            golden=d.get("golden"),
            calibration=doc.calibration,
            labels=doc.labels,
            preprocessing=doc.preprocessing,
            warnings=doc.warnings,
            text=doc.text.model_dump(mode="json") if doc.text is not None else None,
        )


# ---------------------------------------------------------------------------------------------------------
# The JSON schema of manifest.json (docs/manifest.md): a wrong type anywhere is one line, never a traceback.

_JsonObject = dict[str, JsonValue]


class _Record(BaseModel):
    # Unknown keys are ignored (older and newer edgekits add fields); known ones must have their type.
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


def _swap(tp: Any, docs: dict[type, type[BaseModel]]) -> Any:
    """``tp`` with every record dataclass in it replaced by its schema model (list[QuantParams] -> list[doc])."""
    if tp in docs:
        return docs[tp]
    if dataclasses.is_dataclass(tp):  # a record nested in a record: its own schema, derived the same way
        return _schema_of(tp, docs)
    args = typing.get_args(tp)
    if not args:
        return tp
    swapped = tuple(_swap(a, docs) for a in args)
    return functools.reduce(operator.or_, swapped) if isinstance(tp, types.UnionType) else \
        typing.get_origin(tp)[swapped]


def _schema_of(dc: type, docs: dict[type, type[BaseModel]]) -> type[BaseModel]:
    """The strict schema of a record dataclass, derived from its fields: the dataclass stays the one definition."""
    hints = typing.get_type_hints(dc)
    spec: dict[str, Any] = {}
    for f in dataclasses.fields(dc):
        default = Field(default_factory=f.default_factory) if f.default_factory is not dataclasses.MISSING else \
            (... if f.default is dataclasses.MISSING else f.default)
        spec[f.name] = (_swap(hints[f.name], docs), default)
    docs[dc] = pydantic.create_model(f"{dc.__name__}Schema", __base__=_Record, **spec)
    return docs[dc]


_DOCS: dict[type, type[BaseModel]] = {}
_TensorDoc = _schema_of(TensorSpec, _DOCS)
_ArtifactDoc = _schema_of(Artifact, _DOCS)
_RECORD_OF = {doc: dc for dc, doc in _DOCS.items()}


def _record(value: Any) -> Any:
    """A validated schema value back as the record dataclasses (nested models, lists and dicts included)."""
    if isinstance(value, BaseModel):
        return _RECORD_OF[type(value)](**{k: _record(v) for k, v in value})
    if isinstance(value, dict):
        return {k: _record(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_record(v) for v in value]
    return value


class _GoldenDoc(_Record):
    model_config = ConfigDict(extra="allow")
    inputs: str | None = None
    outputs: str | None = None
    labels: str | None = None
    samples: int | None = None
    source: str | None = None
    random: bool | None = None
    sha256: dict[str, str] | None = None


class _SignatureDoc(_Record):
    inputs: list[_TensorDoc]
    outputs: list[_TensorDoc]


class _ManifestDoc(_Record):
    edgekit_version: str = ""
    created: str | None = None
    source: _JsonObject = {}
    signature: _SignatureDoc
    artifacts: list[_ArtifactDoc] = []
    golden: _GoldenDoc | None = None
    calibration: _JsonObject | None = None
    labels: list[str] | None = None
    preprocessing: _JsonObject | None = None
    warnings: list[str] = []
    text: TextRecord | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _null_source(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("warnings", mode="before")
    @classmethod
    def _null_warnings(cls, v: Any) -> Any:
        return [] if v is None else v


# ---------------------------------------------------------------------------------------------------------
# Paths and hashes


def safe_join(root: Path, rel: str) -> Path:
    """Resolve ``rel`` inside ``root``; refuse absolute paths and anything that escapes ``root``."""
    if not isinstance(rel, str) or not rel:
        raise ManifestError(f"manifest path {rel!r} is empty or not a string; re-run `edgekit convert`")
    pp = PurePosixPath(rel)
    if pp.is_absolute() or Path(rel).is_absolute() or rel.startswith(("\\", "~")) or ":" in pp.parts[0]:
        raise ManifestError(f"manifest path {rel!r} is absolute; artifact paths must be relative to the folder")
    if ".." in pp.parts:
        raise ManifestError(f"manifest path {rel!r} leaves the output folder; refusing to follow it")
    root_resolved = root.resolve()
    target = (root_resolved / Path(*pp.parts)).resolve()
    if target != root_resolved and root_resolved not in target.parents:
        # A symlink inside the folder that points elsewhere.
        raise ManifestError(f"manifest path {rel!r} resolves outside the output folder (symlink?); refusing")
    return target


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _dir_files(path: Path) -> list[Path]:
    return sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder: each file's relative POSIX path, a NUL, its sha256, a newline,
    in sorted path order. Documented in docs/manifest.md so others can recompute it."""
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in _dir_files(path):
        h.update(p.relative_to(path).as_posix().encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def size_path(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in _dir_files(path))


# ---------------------------------------------------------------------------------------------------------
# Load / save


def load(folder: Path) -> Manifest:
    folder = Path(folder)
    if not folder.exists():
        raise ManifestError(f"{folder} does not exist; give the folder written by `edgekit convert --out`")
    if not folder.is_dir():
        raise ManifestError(f"{folder} is not a folder; give the folder written by `edgekit convert --out`")
    mpath = folder / MANIFEST_NAME
    if not mpath.is_file():
        raise ManifestError(f"no {MANIFEST_NAME} in {folder}; run `edgekit convert MODEL --out {folder}` first")
    try:
        data = loads_json(mpath.read_text(encoding="utf-8"), str(mpath))
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{mpath} is not valid JSON ({e}); re-run `edgekit convert`") from e
    except InputError as e:
        raise ManifestError(f"{e}; re-run `edgekit convert`") from None
    return Manifest.from_dict(data)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON (never NaN/Infinity) through a temporary file, so readers see all or nothing."""
    text = dumps_json(data, indent=2, default=_json_default) + "\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(manifest: Manifest, folder: Path) -> Path:
    path = Path(folder) / MANIFEST_NAME
    write_json_atomic(path, manifest.to_dict())
    return path


def _json_default(o: Any) -> Any:
    # numpy scalars sneak in from converters; keep json independent of numpy at import time.
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return o.as_posix()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
