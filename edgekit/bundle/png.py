"""A minimal PNG encoder (8-bit greyscale or RGB, no filtering) on the standard library's zlib.

Enough to ship a golden input as the sample picture of a web bundle without a new dependency."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(pixels: np.ndarray) -> bytes:
    """PNG bytes for a uint8 array of shape [H, W] or [H, W, 1] (greyscale) or [H, W, 3] (RGB)."""
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        raise ValueError(f"PNG pixels must be uint8; received {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        color_type = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        color_type = 2
    else:
        raise ValueError(f"PNG pixels must be [H, W], [H, W, 1] or [H, W, 3]; received shape {a.shape}")
    h, w = a.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f"an image needs at least one pixel; received shape {a.shape}")
    rows = np.ascontiguousarray(a).reshape(h, -1)
    # Filter type 0 (None) before every scanline.
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def write(path: Path, pixels: np.ndarray) -> Path:
    path.write_bytes(encode(pixels))
    return path


def decode(data: bytes) -> np.ndarray:
    """Read back what :func:`encode` writes (8-bit grey/RGB, filter 0): for tests and self-checks."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    w, h, depth, color_type = header[:4]
    channels = {0: 1, 2: 3}.get(color_type)
    if depth != 8 or channels is None:
        raise ValueError(f"only 8-bit grey/RGB PNGs are read here; got depth {depth}, colour type {color_type}")
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * channels)
    if rows[:, 0].any():
        raise ValueError("only unfiltered scanlines are read here")
    return rows[:, 1:].reshape(h, w, channels)
