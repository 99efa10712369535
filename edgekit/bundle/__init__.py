"""``edgekit bundle DIR --target web|android|ios --out BUNDLE``: what an app developer copies into an app.

- ``web``: a static app (index.html + app.js) that runs the TF.js model (optionally the ONNX one through
  onnxruntime-web) on a picture, with the JS libraries vendored from edgekit's npm install (offline);
- ``android`` / ``ios``: the TFLite model(s), labels, a JSON model card and Kotlin / Swift snippets.

Like ``convert``, the bundle is built in a temporary sibling folder and moved into place at the end:
a failure never leaves a half-written BUNDLE, and an existing non-empty BUNDLE is replaced only with
``force``. Only artifacts whose sha256 still matches the manifest are bundled.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import manifest as mf
from edgekit.errors import InputError
from edgekit.schemas import read_labels

TARGETS = ("web", "android", "ios")


@dataclass
class BundleOptions:
    target: str = "web"
    labels: Path | None = None  # overrides the manifest's labels (txt, one per line, or a JSON list)
    artifacts: list[str] | None = None  # android/ios: TFLite artifact ids; None = every produced one
    onnx: bool = False  # web: also ship the ONNX model and onnxruntime-web
    force: bool = False


@dataclass
class BundleResult:
    out: Path
    target: str
    files: list[str]  # relative paths, sorted
    bytes: int
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. the web sample's expected label


@dataclass
class Source:
    """A convert output folder, checked: what every bundle target reads."""

    folder: Path
    manifest: mf.Manifest
    labels: list[str] | None

    def artifact_path(self, art: mf.Artifact) -> Path:
        """The artifact's file, refused unless produced and unchanged since convert."""
        if not art.ok:
            raise InputError(f"artifact {art.id} failed to convert ({art.reason}); fix the conversion or pick "
                             "another artifact")
        path = mf.safe_join(self.folder, art.path)
        if not path.exists():
            raise InputError(f"artifact {art.id}: {art.path} is missing from {self.folder}; re-run `edgekit convert`")
        if not art.sha256 or mf.sha256_path(path) != art.sha256:
            raise InputError(f"artifact {art.id}: {art.path} does not match its sha256 in the manifest (modified "
                             "after conversion); re-run `edgekit convert`")
        return path

    def golden(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        from edgekit.validate import load_golden

        g = load_golden(self.folder, self.manifest)
        return g.inputs, g.reference


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}. Received: target={target!r}")
    return target


def load_source(folder: Path, labels: Path | None) -> Source:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; give the folder written by `edgekit convert --out`")
    m = mf.load(folder)
    names = read_labels(Path(labels)) if labels is not None else m.labels
    if names is not None and m.outputs:
        shape = m.outputs[0].shape
        classes = shape[-1] if len(shape) == 2 else None
        if classes is not None and classes != len(names):
            raise InputError(f"{len(names)} labels for an output of {classes} classes ({m.outputs[0].name} "
                             f"{shape}); give one label per class")
    return Source(folder=folder, manifest=m, labels=names)


def _check_out(out: Path, folder: Path, force: bool) -> None:
    out_r, folder_r = out.resolve(), folder.resolve()
    if out_r == folder_r or out_r in folder_r.parents:
        raise InputError(f"--out {out} would replace the input folder {folder}; choose another --out")
    if folder_r in out_r.parents and out_r.name in ("", "."):
        raise InputError(f"--out {out} is not a usable folder name")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"--out {out} is not empty; add --force to replace it")


def bundle(folder: Path | str, out: Path | str, opts: BundleOptions | None = None) -> BundleResult:
    """Build the bundle for ``opts.target`` from the convert folder ``folder`` into ``out``."""
    opts = opts or BundleOptions()
    check_target(opts.target)
    folder, out = Path(folder), Path(out)
    src = load_source(folder, opts.labels)
    _check_out(out, folder, opts.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        if opts.target == "web":
            from edgekit.bundle.web import build_web

            notes, facts = build_web(src, staging, opts)
        else:
            from edgekit.bundle.mobile import build_mobile

            notes, facts = build_mobile(src, staging, opts)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return BundleResult(out=out, target=opts.target, files=files,
                        bytes=sum((out / f).stat().st_size for f in files), notes=notes, facts=facts)


def _replace(staging: Path, out: Path) -> None:
    """Move the finished bundle into place; an old ``out`` is moved aside first and removed last."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old / "previous")
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def output_meaning(spec: mf.TensorSpec, reference: np.ndarray | None, labels: list[str] | None) -> str:
    """What an output holds, read from its shape and the source model's reference outputs."""
    shape = spec.shape
    if len(shape) == 2 and shape[1] and shape[1] > 1:
        what = f"{shape[1]} class scores per input"
        if reference is not None and reference.size and np.all(reference >= 0) and np.allclose(
                reference.sum(axis=-1), 1.0, atol=1e-3):
            what += " (probabilities: non-negative, sum to 1, e.g. softmax)"
        elif reference is not None:
            what += " (raw scores/logits: apply softmax for probabilities)"
        what += "; index i is labels[i]" if labels else "; index i is class i (no labels recorded)"
        return what + "; the predicted class is the argmax"
    if len(shape) == 2 and shape[1] == 1:
        return "one value per input (a regression output or a single logit)"
    return f"a tensor of shape {shape} per input (batch first)"


def top_margin(ref: np.ndarray) -> np.ndarray:
    """Per sample: top-1 minus top-2 score (how clearly the source model decided)."""
    if ref.shape[-1] < 2:
        return np.zeros(len(ref))
    part = np.sort(ref, axis=-1)
    return part[:, -1] - part[:, -2]
