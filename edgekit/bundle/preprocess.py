"""The part of a manifest's ``preprocessing`` record that bundles apply, and its inverse.

The record's schema (the keys bundles honour, their types and defaults) is
:class:`edgekit.schemas.PreprocessingRecord`, shared with ``edgekit train`` (which writes it) and
``edgekit convert`` (which records it). Keys outside it are kept in the model card as text, listed as not
applied. The model input is ``x = ((invert ? 255 - p : p) * scale - mean) / std`` per channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.schemas import COLORS, HONOURED, PreprocessingRecord, validate


@dataclass
class Preprocessing:
    """Resolved, per-channel values; ``ignored`` lists recorded keys the apps do not apply."""

    channels: int
    scale: float = 1.0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    color: str = "rgb"
    resize: str = "stretch"
    invert: bool = False
    ignored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def formula(self) -> str:
        p = "(255 - pixel)" if self.invert else "pixel"
        return f"x[c] = ({p}[c] * {self.scale:g} - mean[c]) / std[c], mean = {self.mean}, std = {self.std}"

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 [H, W, C] (C = the model's channels, already in its colour order) -> float32 model input."""
        p = pixels.astype(np.float32)
        if self.invert:
            p = 255.0 - p
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        return ((p * self.scale - mean) / std).astype(np.float32)

    def to_pixels(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """The inverse: model input [H, W, C] -> (uint8 pixels, largest rounding/clipping error in pixel units)."""
        p = (x.astype(np.float64) * np.asarray(self.std) + np.asarray(self.mean)) / self.scale
        if self.invert:
            p = 255.0 - p
        q = np.clip(np.round(p), 0, 255)
        return q.astype(np.uint8), float(np.max(np.abs(q - p))) if p.size else 0.0


def _per_channel(values: list[float] | None, channels: int, default: float, key: str) -> list[float]:
    if values is None:
        return [default] * channels
    if len(values) not in (1, channels):
        raise InputError(f"manifest preprocessing {key!r} must be a number or {channels} numbers. Received: {values!r}")
    return [float(v) for v in values] * (channels if len(values) == 1 else 1)


def resolve(recorded: dict[str, Any] | None, channels: int) -> Preprocessing:
    """The preprocessing bundles apply for an image input with ``channels`` (1 or 3) channels."""
    rec = dict(recorded or {})
    doc = validate(PreprocessingRecord, rec, "manifest preprocessing")
    color = doc.color or ("grayscale" if channels == 1 else "rgb")
    if (color == "grayscale") != (channels == 1):
        raise InputError(f"manifest preprocessing 'color' must be one of {', '.join(COLORS)} and agree with the "
                         f"input's {channels} channel(s). Received: {color!r}")
    return Preprocessing(
        channels=channels, scale=float(1.0 if doc.scale is None else doc.scale),
        mean=_per_channel(doc.mean, channels, 0.0, "mean"), std=_per_channel(doc.std, channels, 1.0, "std"),
        color=color, resize=doc.resize or "stretch", invert=bool(doc.invert),
        ignored=sorted(k for k in rec if k not in HONOURED),
    )
