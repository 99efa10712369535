"""A convert output folder, read the one way validate and bundle both need it: the manifest, paths that
stay inside the folder, artifacts whose sha256 still matches, and the golden data checked against the
signature. No TensorFlow: numpy and the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit import manifest as mf
from edgekit.errors import InputError, ManifestError
from edgekit.protocol import load_npz

GOLDEN_KEYS = ("inputs", "outputs", "labels")


@dataclass
class Golden:
    inputs: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    labels: np.ndarray | None
    inputs_path: Path | None  # None: inputs made by validate (a text model's tokenized golden strings)
    samples: int


@dataclass
class Verdict:
    """Whether an artifact may run: ``status`` None with its ``path``, else error/tampered and why."""

    path: Path | None
    status: str | None = None
    reason: str | None = None


@dataclass
class ConvertedFolder:
    folder: Path
    manifest: mf.Manifest

    @classmethod
    def open(cls, folder: Path | str) -> ConvertedFolder:
        folder = Path(folder)
        return cls(folder=folder, manifest=mf.load(folder))

    def path_of(self, art: mf.Artifact) -> Path:
        """The artifact's path inside the folder (ManifestError when it would leave it)."""
        return mf.safe_join(self.folder, art.path)

    def verify(self, art: mf.Artifact) -> Verdict:
        """Exists, and matches the sha256 the manifest recorded for it (a missing digest is not trusted)."""
        path = self.path_of(art)
        if not path.exists():
            return Verdict(None, "error", f"artifact file {art.path!r} is missing from the folder")
        if not art.sha256:
            return Verdict(None, "tampered", "the manifest records no sha256 for it, so it cannot be trusted")
        actual = mf.sha256_path(path)
        if actual != art.sha256:
            return Verdict(None, "tampered", f"sha256 {actual[:12]}... does not match the manifest's "
                                             f"{art.sha256[:12]}... (modified after conversion)")
        return Verdict(path)

    def verified_path(self, art: mf.Artifact) -> Path:
        """The artifact's file, refused (InputError) unless produced and unchanged since convert."""
        if not art.ok:
            what = "is not runnable" if art.status == mf.STATUS_NOT_RUNNABLE else "failed to convert"
            raise InputError(f"artifact {art.id} {what} ({art.reason}); fix the conversion or pick "
                             "another artifact")
        v = self.verify(art)
        if v.path is None:
            raise InputError(f"artifact {art.id}: {v.reason}; re-run `edgekit convert`")
        return v.path

    def load_golden(self) -> Golden:
        return load_golden(self.folder, self.manifest)


# ---------------------------------------------------------------------------------------------------------
# Golden data


def _golden_paths(folder: Path, m: mf.Manifest) -> dict[str, Path]:
    g = m.golden if isinstance(m.golden, dict) else {}
    if not g.get("inputs") or not g.get("outputs"):
        raise ManifestError("the manifest has no golden data (golden.inputs/outputs); re-run `edgekit convert`")
    hashes = g.get("sha256") if isinstance(g.get("sha256"), dict) else {}
    paths: dict[str, Path] = {}
    for key in GOLDEN_KEYS:
        rel = g.get(key)
        if not rel:
            continue
        p = mf.safe_join(folder, rel)
        if not p.is_file():
            raise ManifestError(f"golden {key} file {rel!r} is missing from {folder}; re-run `edgekit convert`")
        want = hashes.get(rel)
        if not want:
            raise ManifestError(f"golden {key} file {rel!r} has no sha256 in the manifest (golden.sha256), so it "
                                "cannot be trusted; re-run `edgekit convert`")
        if mf.sha256_file(p) != want:
            raise ManifestError(f"golden {key} file {rel!r} does not match its sha256 in the manifest: "
                                "it was modified after conversion; re-run `edgekit convert`")
        paths[key] = p
    return paths


def load_golden(folder: Path, m: mf.Manifest) -> Golden:
    """Read and check the golden inputs, reference outputs and labels against the signature."""
    paths = _golden_paths(folder, m)
    try:
        inputs = load_npz(paths["inputs"])
        reference = load_npz(paths["outputs"])
        labels = np.load(paths["labels"], allow_pickle=False) if "labels" in paths else None
    except (OSError, ValueError) as e:
        raise InputError(f"golden data in {folder} cannot be read ({e}); re-run `edgekit convert`") from e

    counts = set()
    for what, specs, arrays in (("golden input", m.inputs, inputs), ("reference output", m.outputs, reference)):
        for spec in specs:
            if spec.name not in arrays:
                raise InputError(f"{what}s have no array {spec.name!r} (signature {what.split()[1]}); "
                                 f"they have {sorted(arrays)}")
            check_shape(what, spec, arrays[spec.name])
            counts.add(len(arrays[spec.name]))
    if labels is not None:
        check_labels(labels, m.outputs[0] if m.outputs else None)
        counts.add(len(labels))
    if len(counts) != 1 or 0 in counts:
        raise InputError(f"golden inputs, reference outputs and labels disagree on the sample count: {sorted(counts)}")
    return Golden(inputs={s.name: inputs[s.name] for s in m.inputs},
                  reference={s.name: reference[s.name] for s in m.outputs},
                  labels=labels, inputs_path=paths["inputs"], samples=counts.pop())


def check_shape(what: str, spec: mf.TensorSpec, arr: np.ndarray) -> None:
    want = spec.shape
    ok = arr.ndim == len(want) and all(w is None or w == -1 or w == a for w, a in zip(want[1:], arr.shape[1:],
                                                                                      strict=True))
    if not ok:
        raise InputError(f"{what} {spec.name!r} has shape {list(arr.shape)}; the signature says {want} "
                         "(first axis: samples). Give golden data that matches the model")
    if spec.dtype == "string" and arr.dtype.kind != "U":  # a text model kept whole (--strings flex)
        raise InputError(f"{what} {spec.name!r} has dtype {arr.dtype}; expected strings")
    if spec.dtype != "string" and arr.dtype.kind not in "fiub":
        raise InputError(f"{what} {spec.name!r} has dtype {arr.dtype}; expected numbers ({spec.dtype})")


def check_labels(labels: np.ndarray, first_output: mf.TensorSpec | None) -> None:
    """Golden labels are class indices 0..C-1 (or one-hot rows of C) for a class-score output of C classes;
    anything else would score every artifact 0 and still let the rows pass."""
    classes = None
    if first_output is not None and len(first_output.shape) == 2 and (first_output.shape[1] or 0) > 1:
        classes = int(first_output.shape[1])
    fix = "give the golden set integer class indices (or one-hot rows) and re-run `edgekit convert`"
    if labels.dtype.kind not in "iubf":
        sample = labels.reshape(-1)[:1].tolist()
        raise InputError(f"golden labels have dtype {labels.dtype} (e.g. {sample}); expected class indices: {fix}")
    if classes is None:
        return  # not class scores: labels are not used for accuracy
    if labels.ndim == 2:
        if labels.shape[1] != classes:
            raise InputError(f"golden labels are rows of {labels.shape[1]}; the output has {classes} classes: {fix}")
        return
    flat = labels.reshape(-1)
    if labels.ndim != 1 or not np.all(np.isfinite(flat)):
        raise InputError(f"golden labels have shape {list(labels.shape)} or non-finite values; expected one class "
                         f"index per sample: {fix}")
    bad = flat[(flat != np.round(flat)) | (flat < 0) | (flat >= classes)]
    if bad.size:
        raise InputError(f"golden labels must be class indices 0..{classes - 1} for an output of {classes} classes; "
                         f"received {bad[0].item()!r} ({bad.size} of {flat.size} labels out of range): {fix}")
