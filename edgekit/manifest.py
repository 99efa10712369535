"""The manifest: the contract between ``edgekit convert`` and ``edgekit validate``.

Pure standard library (plus nothing heavy) so that ``validate`` can read it on any machine.
The schema is documented in docs/manifest.md; bump ``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from edgekit.errors import ManifestError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
GOLDEN_INPUTS = "golden_inputs.npz"
REFERENCE_OUTPUTS = "reference_outputs.npz"

FORMATS = ("saved_model", "tflite", "tfjs", "onnx", "edgetpu")
STATUS_OK = "ok"
STATUS_FAILED = "failed"


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

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d

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
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        if not isinstance(d, dict):
            raise ManifestError("manifest.json does not hold a JSON object; re-run `edgekit convert`")
        schema = d.get("schema")
        if schema != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema {schema!r} is not supported by this edgekit (reads schema {SCHEMA_VERSION}); "
                "re-run `edgekit convert` with this version or install the edgekit that wrote it"
            )
        try:
            sig = d["signature"]
            return cls(
                schema=schema,
                edgekit_version=str(d.get("edgekit_version", "")),
                created=d.get("created"),
                source=dict(d.get("source") or {}),
                inputs=[TensorSpec.from_dict(t) for t in sig["inputs"]],
                outputs=[TensorSpec.from_dict(t) for t in sig["outputs"]],
                artifacts=[Artifact.from_dict(a) for a in d.get("artifacts", [])],
                golden=d.get("golden"),
                calibration=d.get("calibration"),
                labels=d.get("labels"),
                preprocessing=d.get("preprocessing"),
                warnings=list(d.get("warnings") or []),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ManifestError(
                f"manifest.json is missing or has a malformed field ({type(e).__name__}: {e}); "
                "re-run `edgekit convert`"
            ) from e


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
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{mpath} is not valid JSON ({e}); re-run `edgekit convert`") from e
    return Manifest.from_dict(data)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=_json_default)
        f.write("\n")
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
