"""The int8 search measures candidates with the same input quantization validate uses.

Defect (CI, stop 19): the search quantized golden inputs in float32 (x / scale), validate in float64, so some
pixels of the digits images landed one step apart; an int8 model that met `--int8-max-drop 1` at convert could
miss it in validate by one golden sample, and the quickstart exited 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.manifest import QuantParams
from edgekit.quant import dequantize, quantize
from edgekit.quant_debug import engine


@pytest.mark.parametrize("scale,zero,dtype", [(1 / 255, -128, np.int8), (0.003921568859368563, -128, np.int8),
                                              (0.02352941, 3, np.int8), (1 / 255, 0, np.uint8)])
def test_search_quantizes_inputs_as_validate_does(scale, zero, dtype):
    rng = np.random.default_rng(0)
    ties = (np.arange(-2000, 2000) * np.float32(scale) / 2).astype(np.float32)  # halfway between two steps
    pixels = (np.arange(256) / np.float32(255)).astype(np.float32)  # what a PNG scaled to [0, 1] holds
    x = np.concatenate([ties, pixels, rng.uniform(-1, 1, 20000).astype(np.float32)])
    q = QuantParams(name="x", scale=scale, zero_point=zero, dtype=np.dtype(dtype).name)
    detail = {"dtype": dtype, "quantization": (scale, zero)}
    got = engine.quantize_input(x, detail)
    assert got.dtype == np.dtype(dtype)
    assert int((got != quantize(x, q)).sum()) == 0
    np.testing.assert_array_equal(engine.dequantize_output(got, detail), dequantize(got, q))
