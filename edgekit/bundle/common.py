"""What every bundle target shares: the options, the checked convert folder it reads (Source), and small
helpers. A leaf module: edgekit.bundle (the orchestration) and the web/mobile builders all import it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit import manifest as mf
from edgekit.errors import InputError
from edgekit.folder import ConvertedFolder
from edgekit.schemas import read_labels

TARGETS = ("web", "android", "ios", "mcu")


@dataclass
class BundleOptions:
    target: str = "web"
    labels: Path | None = None  # overrides the manifest's labels (txt, one per line, or a JSON list)
    artifacts: list[str] | None = None  # android/ios: TFLite artifact ids; None = every produced one (web: litert's)
    onnx: bool = False  # web: also ship the ONNX model and onnxruntime-web
    runtime: str | None = None  # web: tfjs or litert; None = the validated one with the smaller download
    force: bool = False


@dataclass
class Source(ConvertedFolder):
    """A convert output folder, checked: what every bundle target reads."""

    labels: list[str] | None = None

    def artifact_path(self, art: mf.Artifact) -> Path:
        """The artifact's file, refused unless produced and unchanged since convert."""
        return self.verified_path(art)

    def golden(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        g = self.load_golden()
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
