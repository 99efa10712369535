"""edgekit.compare and the quantized-I/O helpers: metrics on arrays whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.compare import (
    DEFAULT_POLICY,
    SQNR_EXACT_DB,
    accuracy,
    compare,
    degenerate_warnings,
    output_metrics,
    parse_overrides,
    policy_for,
)
from edgekit.errors import InputError
from edgekit.manifest import QuantParams
from edgekit.quant import dequantize, quantize


def test_metrics_on_known_difference() -> None:
    ref = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.0, -1.0, 2.0]], dtype=np.float32)
    cand = ref.copy()
    cand[0, 3] += 0.5  # one element off by 0.5
    m = output_metrics(ref, cand)
    assert m["max_abs"] == pytest.approx(0.5)
    assert m["mean_abs"] == pytest.approx(0.5 / 8)
    assert m["max_rel"] == pytest.approx(0.5 / 4.0)
    # SQNR = 10 log10(sum ref^2 / sum d^2) = 10 log10(35.25 / 0.25)
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(35.25 / 0.25), rel=1e-9)
    # Worst per-sample cosine is the perturbed row.
    a, b = ref[0].astype(np.float64), cand[0].astype(np.float64)
    assert m["cosine"] == pytest.approx(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert m["top1"] == 1.0  # argmax of row 0 is still index 3


def test_exact_outputs_have_capped_sqnr_and_pass_float32() -> None:
    ref = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    res = compare({"y": ref}, {"y": ref.copy()}, DEFAULT_POLICY["float32"])
    assert res.passed and bool(res)
    assert res.outputs["y"]["sqnr_db"] == SQNR_EXACT_DB
    assert res.outputs["y"]["max_abs"] == 0.0


def test_top1_disagreement_fails_int8_policy() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(20, 5))
    cand = ref.copy()
    for i in range(4):  # push the winning class of 4 of 20 rows to the bottom: 80% agreement < 90%
        cand[i, ref[i].argmax()] = ref[i].min() - 1
    res = compare({"y": ref}, {"y": cand}, DEFAULT_POLICY["int8"])
    assert res.outputs["y"]["top1"] == pytest.approx(0.8)
    assert not res.passed
    assert any("top1" in f for f in res.failures)


def test_float32_policy_rejects_small_weight_error_that_float16_accepts() -> None:
    ref = np.linspace(-1, 1, 50).reshape(5, 10)
    cand = ref + 1e-3  # 10x the float32 atol, well inside float16's
    assert not compare({"y": ref}, {"y": cand}, DEFAULT_POLICY["float32"]).passed
    assert compare({"y": ref}, {"y": cand}, DEFAULT_POLICY["float16"]).passed


def test_shape_mismatch_missing_output_and_nan_fail() -> None:
    ref = np.zeros((2, 3)) + 1
    tol = DEFAULT_POLICY["float32"]
    assert compare({"y": ref}, {"y": np.ones((2, 4))}, tol).failures[0].startswith("y: shape")
    assert "missing" in compare({"y": ref}, {"z": ref}, tol).failures[0]
    bad = ref.copy()
    bad[0, 0] = np.nan
    assert "finite" in compare({"y": ref}, {"y": bad}, tol).failures[0]


def test_overrides_by_scope() -> None:
    ov = parse_overrides(["atol=1e-3", "float16.atol=2e-2", "tflite-int8.min_top1=0.5", "int8.min_sqnr_db=none"])
    assert policy_for("onnx", "float32", ov).atol == pytest.approx(1e-3)
    assert policy_for("tflite-float16", "float16", ov).atol == pytest.approx(2e-2)  # variant beats global
    t = policy_for("tflite-int8", "int8", ov)
    assert t.min_top1 == pytest.approx(0.5) and t.min_sqnr_db is None
    # Unknown variants (tfjs, onnx, saved_model) fall back to float32 bounds.
    assert policy_for("tfjs", "whatever", None) == DEFAULT_POLICY["float32"]


@pytest.mark.parametrize("bad", ["atol", "atol=", "speed=1", "atol=abc", "atol=inf"])
def test_bad_overrides_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError):
        parse_overrides([bad])


def test_degenerate_references_are_flagged() -> None:
    constant = np.full((8, 4), 0.25)
    same_rows = np.tile(np.array([0.1, 0.7, 0.2]), (8, 1))
    one_class = np.tile(np.array([0.9, 0.1]), (8, 1)) + np.linspace(0, 0.01, 8)[:, None]
    good = np.random.default_rng(0).normal(size=(8, 4))
    assert "constant" in degenerate_warnings({"y": constant})[0]
    assert "same for every golden input" in degenerate_warnings({"y": same_rows})[0]
    assert "class 0" in degenerate_warnings({"y": one_class})[0]
    assert degenerate_warnings({"y": good}) == []


def test_accuracy_with_int_and_one_hot_labels() -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert accuracy(scores, np.array([0, 1, 1, 1])) == pytest.approx(0.75)
    assert accuracy(scores, np.eye(2)[[0, 1, 1, 1]]) == pytest.approx(0.75)
    assert accuracy(np.ones((4, 1)), np.zeros(4)) is None  # not class scores


def test_quantize_rounds_and_clips_and_dequantize_inverts() -> None:
    q = QuantParams(name="x", dtype="int8", scale=0.5, zero_point=-3)
    x = np.array([0.0, 0.24, 0.26, 100.0, -100.0], dtype=np.float32)
    qx = quantize(x, q)
    assert qx.dtype == np.int8
    assert qx.tolist() == [-3, -3, -2, 127, -128]
    assert dequantize(qx, q).tolist() == pytest.approx([0.0, 0.0, 0.5, 65.0, -62.5])
    u = QuantParams(name="y", dtype="uint8", scale=1 / 255, zero_point=0)
    assert quantize(np.array([-1.0, 0.5, 2.0]), u).tolist() == [0, 128, 255]


def test_near_ties_do_not_count_for_top1_but_decisions_do() -> None:
    ref = np.array([[0.50, 0.49, 0.01], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    tie_flipped = ref.copy()
    tie_flipped[0] = [0.49, 0.50, 0.01]  # the source model had not decided between class 0 and 1
    res = compare({"y": ref}, {"y": tie_flipped}, DEFAULT_POLICY["int8"])
    out = res.outputs["y"]
    assert out["top1"] == pytest.approx(0.75) and out["decisive"] == 3 and out["top1_decisive"] == 1.0
    assert res.passed
    decision_flipped = ref.copy()
    decision_flipped[1] = [0.05, 0.9, 0.05]  # a clear decision changed: counts
    res = compare({"y": ref}, {"y": decision_flipped}, DEFAULT_POLICY["int8"])
    assert res.outputs["y"]["top1_decisive"] == pytest.approx(2 / 3) and not res.passed
    # Two steps of an int8 output are unresolvable: a 0.01 gap is a tie at scale 1/128.
    ref2 = np.array([[0.40, 0.39, 0.21], [0.9, 0.05, 0.05]])
    m = compare({"y": ref2}, {"y": ref2}, DEFAULT_POLICY["int8"], resolution={"y": 1 / 128}).outputs["y"]
    assert m["decisive"] == 1
