"""The part of a manifest's free-form ``preprocessing`` record that bundles apply, and its inverse.

``edgekit convert --preprocessing FILE`` records any JSON object as given. Bundled apps honour these keys
(anything else is kept in the model card as text, listed as not applied):

| key | value | default |
| --- | --- | --- |
| ``scale`` | number multiplied into the 0..255 pixel | 1 |
| ``mean`` | number or one number per channel, subtracted after ``scale`` | 0 |
| ``std`` | number or one per channel, divided last | 1 |
| ``color`` | ``rgb``, ``bgr`` or ``grayscale`` (luma 0.299 R + 0.587 G + 0.114 B) | from the channel count |
| ``resize`` | ``stretch`` (whole picture to the input size) or ``crop`` (centre square crop first) | stretch |
| ``invert`` | true: use 255 - pixel (white-on-black digit models fed dark-on-light photos) | false |

so the model input is ``x = ((invert ? 255 - p : p) * scale - mean) / std`` per channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import InputError

HONOURED = ("scale", "mean", "std", "color", "resize", "invert")
COLORS = ("rgb", "bgr", "grayscale")
RESIZES = ("stretch", "crop")


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


def _per_channel(key: str, value: Any, channels: int, default: float) -> list[float]:
    if value is None:
        return [default] * channels
    vals = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals) or len(vals) not in (1, channels):
        raise InputError(f"manifest preprocessing {key!r} must be a number or {channels} numbers. Received: {value!r}")
    out = [float(v) for v in vals] * (channels if len(vals) == 1 else 1)
    if key == "std" and any(v == 0 for v in out):
        raise InputError(f"manifest preprocessing 'std' must not be 0. Received: {value!r}")
    return out


def resolve(recorded: dict[str, Any] | None, channels: int) -> Preprocessing:
    """The preprocessing bundles apply for an image input with ``channels`` (1 or 3) channels."""
    rec = dict(recorded or {})
    scale = rec.get("scale", 1.0)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or scale == 0:
        raise InputError(f"manifest preprocessing 'scale' must be a non-zero number. Received: {scale!r}")
    color = rec.get("color", "grayscale" if channels == 1 else "rgb")
    if color not in COLORS or (color == "grayscale") != (channels == 1):
        raise InputError(f"manifest preprocessing 'color' must be one of {', '.join(COLORS)} and agree with the "
                         f"input's {channels} channel(s). Received: {color!r}")
    resize = rec.get("resize", "stretch")
    if resize not in RESIZES:
        raise InputError(f"manifest preprocessing 'resize' must be one of {', '.join(RESIZES)}. Received: {resize!r}")
    invert = rec.get("invert", False)
    if not isinstance(invert, bool):
        raise InputError(f"manifest preprocessing 'invert' must be true or false. Received: {invert!r}")
    return Preprocessing(
        channels=channels, scale=float(scale), mean=_per_channel("mean", rec.get("mean"), channels, 0.0),
        std=_per_channel("std", rec.get("std"), channels, 1.0), color=color, resize=resize, invert=invert,
        ignored=sorted(k for k in rec if k not in HONOURED),
    )
