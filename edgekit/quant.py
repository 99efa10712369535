"""Quantized I/O maths (numpy only), beside the manifest's QuantParams it reads: the parent quantizes golden
inputs before a job and dequantizes the outputs after it."""

from __future__ import annotations

import numpy as np

from edgekit.manifest import Artifact, QuantParams

INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def quantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """real -> q = round(real / scale) + zero_point, clipped to the dtype's range."""
    lo, hi = INT_RANGES.get(q.dtype, (None, None))
    if lo is None or q.scale == 0:
        return x.astype(q.dtype)
    v = np.round(x.astype(np.float64) / q.scale) + q.zero_point
    return np.clip(v, lo, hi).astype(q.dtype)


def dequantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """q -> real = scale * (q - zero_point)."""
    if q.scale == 0:
        return x.astype(np.float32)
    return (q.scale * (x.astype(np.float64) - q.zero_point)).astype(np.float32)


def quant_params(artifact: Artifact, side: str) -> dict[str, QuantParams]:
    """Quantization of the artifact's ``inputs`` or ``outputs``, keyed by signature name."""
    return {q.name: q for q in artifact.quantization.get(side, [])}
