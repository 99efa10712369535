"""edgekit.formats.tflite: every variant from the canonical SavedModel, run in LiteRT against Keras' outputs."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.formats import TARGETS, tflite
from tests.artifact_runs import run_tflite, top1_agreement

# Same tolerances as tests/test_convert.py, with the same reasons: float32 differs by kernel order (~1e-6),
# float16 weights keep 11 mantissa bits, dynamic-range and int8 change the arithmetic (judged on top-1).
FLOAT32_MAX_ABS = 1e-4
FLOAT16_MAX_ABS = 2e-2
DYNAMIC_MIN_TOP1 = 0.9
INT8_MIN_TOP1 = 0.85


def _run(p, ctx, art) -> np.ndarray:
    return run_tflite(ctx.staging, p, art, p.golden)[p.outputs[0].name]


@pytest.mark.parametrize("target_id", ["tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8"])
def test_each_variant_matches_keras(mlp_prepared, tmp_path, target_id) -> None:
    p = mlp_prepared
    ctx = p.context(tmp_path / "staging")
    art = tflite.convert(ctx, TARGETS[target_id])
    assert art.ok and (ctx.staging / art.path).is_file() and not art.requires_flex
    assert art.converter["options"]["variant"] == TARGETS[target_id].variant
    assert "FULLY_CONNECTED" in art.extra["ops"]["builtin"]
    got, ref = _run(p, ctx, art), p.reference[p.outputs[0].name]
    max_abs = float(np.abs(got - ref).max())
    if target_id == "tflite-float32":
        assert max_abs <= FLOAT32_MAX_ABS
    elif target_id == "tflite-float16":
        assert max_abs <= FLOAT16_MAX_ABS
    elif target_id == "tflite-dynamic":
        assert top1_agreement(got, ref) >= DYNAMIC_MIN_TOP1
        assert any("XNNPACK" in n for n in art.notes)
    else:
        assert top1_agreement(got, ref) >= INT8_MIN_TOP1
        assert art.converter["options"]["calibration_samples"] == 200
        (qi,), (qo,) = art.quantization["inputs"], art.quantization["outputs"]
        assert (qi.name, qi.dtype, qo.dtype) == ("features", "int8", "int8") and qi.scale > 0


def test_int8_options_float_io_and_per_tensor(mlp_prepared, tmp_path) -> None:
    p = mlp_prepared
    ctx = p.context(tmp_path / "staging", int8_io="float32", int8_weights="per-tensor")
    art = tflite.convert(ctx, TARGETS["tflite-int8"])
    options = art.converter["options"]
    assert (options["inference_input_type"], options["per_channel"]) == ("float32", False)
    assert art.quantization == {"inputs": [], "outputs": []}  # float I/O: nothing for the caller to scale
    assert top1_agreement(_run(p, ctx, art), p.reference[p.outputs[0].name]) >= INT8_MIN_TOP1


def test_unrolled_lstm_uses_a_scratch_folder_removed_with_the_context(lstm_prepared, tmp_path) -> None:
    p = lstm_prepared
    with p.context(tmp_path / "staging", lstm="unroll") as ctx:
        art = tflite.convert(ctx, TARGETS["tflite-float32"])
        scratch = tmp_path / "staging-lstm"
        assert (scratch / "rnn_unrolled_saved_model" / "saved_model.pb").is_file()
        assert sorted(q.name for q in tmp_path.iterdir()) == ["staging", "staging-lstm"]
    assert not scratch.exists() and (tmp_path / "staging" / art.path).is_file()
    assert art.converter["options"]["lstm_lowering"] == "unrolled" and not art.requires_flex
    got, ref = _run(p, ctx, art), p.reference[p.outputs[0].name]
    assert float(np.abs(got - ref).max()) <= FLOAT32_MAX_ABS
