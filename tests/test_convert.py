"""edgekit convert: every artifact is loaded in its own runtime and checked against the source model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit import manifest as mf
from tests.artifact_runs import RUNNERS, load_golden, top1_agreement

# Tolerances, each with its reason. Outputs are softmax probabilities in [0, 1].
# float32 artifacts compute the same math with different kernel orderings: ~1e-6 differences expected.
FLOAT32_MAX_ABS = 1e-4
# float16 weights keep 11 mantissa bits (~5e-4 relative each); errors add up over a few layers.
FLOAT16_MAX_ABS = 2e-2
# dynamic-range and int8 change the arithmetic: judge them at task level (same top-1 class).
DYNAMIC_MIN_TOP1 = 0.9
INT8_MIN_TOP1 = 0.85


def _check_folder(result, expect_ids):
    folder, m = result.out, result.manifest
    assert [a.id for a in m.artifacts] == expect_ids
    on_disk = mf.load(folder)
    assert on_disk.to_dict()["artifacts"] == m.to_dict()["artifacts"]
    for a in m.artifacts:
        assert a.ok, f"{a.id} failed: {a.reason}"
        path = mf.safe_join(folder, a.path)
        assert a.sha256 == mf.sha256_path(path)
        assert a.bytes == mf.size_path(path) and a.bytes > 0
        assert a.converter["tool"] and a.converter["version"]
    inputs, ref = load_golden(folder)
    for name, arr in ref.items():
        # The fixture must not be degenerate, or every check below would pass trivially.
        assert float(arr.std(axis=0).max()) > 0.05, f"reference output {name} barely varies"
    return folder, m, inputs, ref


def _parity(folder, m, inputs, ref, skip=()):
    results = {}
    for a in m.artifacts:
        if a.format not in RUNNERS or a.id in skip:
            continue
        got = RUNNERS[a.format](folder, m, a, inputs)
        name = m.outputs[0].name
        results[a.id] = (float(np.abs(got[name] - ref[name]).max()), top1_agreement(got[name], ref[name]))
    return results


def _assert_policy(results):
    for art_id, (max_abs, top1) in results.items():
        if art_id in ("saved_model", "tflite-float32", "onnx", "tfjs"):
            assert max_abs <= FLOAT32_MAX_ABS, (art_id, max_abs)
        elif art_id == "tflite-float16":
            assert max_abs <= FLOAT16_MAX_ABS, (art_id, max_abs)
        elif art_id == "tflite-dynamic":
            assert top1 >= DYNAMIC_MIN_TOP1, (art_id, top1)
        elif art_id == "tflite-int8":
            assert top1 >= INT8_MIN_TOP1, (art_id, top1)


ALL_IDS = ["saved_model", "tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "tfjs", "onnx"]


def test_mlp_all_formats_match_source(converted_mlp):
    folder, m, inputs, ref = _check_folder(converted_mlp, ALL_IDS)
    results = _parity(folder, m, inputs, ref)
    assert set(results) == set(ALL_IDS)
    _assert_policy(results)


def test_cnn_all_formats_match_source(converted_cnn):
    folder, m, inputs, ref = _check_folder(converted_cnn, ALL_IDS)
    _assert_policy(_parity(folder, m, inputs, ref))
    # Golden labels came from the calibration npz and are held out from calibration.
    assert m.golden["labels"] == "golden_labels.npy"
    labels = np.load(folder / "golden_labels.npy")
    assert labels.shape == (48,)
    assert m.calibration["samples"] == 200 - 48


def test_mobilenet_all_formats_match_source(converted_mobilenet):
    folder, m, inputs, ref = _check_folder(converted_mobilenet, ALL_IDS)
    results = _parity(folder, m, inputs, ref)
    _assert_policy(results)
    sizes = {a.id: a.bytes for a in m.artifacts}
    # int8 weights are a quarter of float32's; with per-tensor overheads the file is well under half.
    assert sizes["tflite-int8"] < 0.5 * sizes["tflite-float32"]
    assert sizes["tflite-float16"] < 0.6 * sizes["tflite-float32"]


def test_int8_records_quantized_io(converted_cnn):
    m = converted_cnn.manifest
    a = m.artifact("tflite-int8")
    assert a.converter["options"]["inference_input_type"] == "int8"
    assert a.converter["options"]["per_channel"] is True
    (qi,), (qo,) = a.quantization["inputs"], a.quantization["outputs"]
    assert (qi.name, qi.dtype) == ("image", "int8") and qi.scale > 0
    # The model takes raw 0..255 pixels: the input scale must span that range in 256 steps.
    assert qi.scale == pytest.approx(255 / 255.0, rel=0.05)
    assert (qo.name, qo.dtype) == ("output_0", "int8")
    assert a.calibration["samples"] == m.calibration["samples"]
    assert a.calibration["sha256"] == m.calibration["sha256"]
    assert "CONV_2D" in a.extra["ops"]["builtin"] and not a.requires_flex


@pytest.mark.parametrize("io", ["uint8", "float32"])
def test_int8_io_types(tmp_path, cnn_path, cnn_calibration, io):
    from edgekit.convert import ConvertOptions, convert

    res = convert(cnn_path, tmp_path / "out", ConvertOptions(formats="tflite-int8", calibration=str(cnn_calibration),
                                                            int8_io=io, golden_samples=32))
    folder, m, inputs, ref = _check_folder(res, ["tflite-int8"])
    a = m.artifact("tflite-int8")
    assert a.converter["options"]["inference_input_type"] == io
    assert bool(a.quantization["inputs"]) == (io != "float32")
    _, top1 = _parity(folder, m, inputs, ref)["tflite-int8"]
    assert top1 >= INT8_MIN_TOP1


def test_tfjs_quantized_weights_are_smaller(tmp_path, mobilenet_path, converted_mobilenet):
    from edgekit.convert import ConvertOptions, convert

    res = convert(mobilenet_path, tmp_path / "q", ConvertOptions(formats="tfjs", tfjs_quantize="uint8"))
    a = res.manifest.artifact("tfjs")
    assert a.ok and a.variant == "weights-uint8"
    full = converted_mobilenet.manifest.artifact("tfjs").bytes
    assert a.bytes < 0.4 * full
    model_json = json.loads((res.out / "tfjs" / "model.json").read_text())
    assert any(w.get("quantization", {}).get("dtype") == "uint8"
               for g in model_json["weightsManifest"] for w in g["weights"])
    # No calibration data and no --golden: golden inputs are random and the manifest says so.
    assert res.manifest.golden["random"] is True
    assert any("random" in w for w in res.manifest.warnings)


def test_lstm_converts_without_flex(converted_lstm):
    folder, m, inputs, ref = _check_folder(converted_lstm, ALL_IDS)
    for a in m.artifacts:
        if a.format == "tflite":
            assert not a.requires_flex, a.id
            assert a.converter["options"]["lstm_lowering"] in ("fused", "unrolled")
    # TF.js 4.22 could not execute Keras 3 LSTM graphs (wasm: "_FusedMatMul only supports rank-1 bias"; cpu:
    # the TensorList loop). Issue 13: the tfjs artifact is converted from the unrolled clone, with the fusions
    # TF.js wasm rejects split back, and now runs (TF.js wasm in Node) with parity like every other artifact.
    results = _parity(folder, m, inputs, ref)
    _assert_policy(results)
    assert "tfjs" in results and results["tfjs"][0] < 1e-4  # max abs vs Keras (measured 1.8e-7)
    assert m.artifact("tflite-int8").bytes < m.artifact("tflite-float32").bytes


def test_saved_model_source_and_input_shape(tmp_path, mlp_calibration):
    """A SavedModel with an unknown non-batch dimension converts once --input-shape names it."""
    import keras
    import tensorflow as tf

    from edgekit.convert import ConvertOptions, convert
    from edgekit.errors import InputError

    keras.utils.set_random_seed(3)
    inp = keras.Input((None, 8), name="steps")
    h = keras.layers.Dense(6, activation="tanh")(inp)
    out = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inp, out)
    sm = tmp_path / "sm"
    model.export(str(sm), format="tf_saved_model", verbose=False)
    with pytest.raises(InputError, match="--input-shape"):
        convert(sm, tmp_path / "a", ConvertOptions(formats="tflite-float32,onnx"))
    assert not (tmp_path / "a").exists()
    res = convert(sm, tmp_path / "b", ConvertOptions(formats="saved_model,tflite-float32,onnx",
                                                     input_shapes=["steps:1,5,8"]))
    folder, m, inputs, ref = _check_folder(res, ["saved_model", "tflite-float32", "onnx"])
    assert m.inputs[0].shape == [None, 5, 8]
    assert m.source["kind"] == "saved_model"
    direct = model(tf.constant(inputs["steps"])).numpy()
    np.testing.assert_allclose(ref["output_0"], direct, atol=1e-6)
    for art_id, (max_abs, _) in _parity(folder, m, inputs, ref).items():
        assert max_abs <= FLOAT32_MAX_ABS, art_id


def test_h5_source(tmp_path, mlp_path, mlp_calibration):
    import keras

    from edgekit.convert import ConvertOptions, convert

    h5 = tmp_path / "mlp.h5"
    keras.saving.load_model(mlp_path).save(h5)
    res = convert(h5, tmp_path / "out", ConvertOptions(formats="tflite-float32", golden=str(mlp_calibration)))
    folder, m, inputs, ref = _check_folder(res, ["tflite-float32"])
    assert m.source["kind"] == "h5"
    assert _parity(folder, m, inputs, ref)["tflite-float32"][0] <= FLOAT32_MAX_ABS


def test_failed_format_is_recorded_and_others_produced(tmp_path, mlp_path, mlp_calibration, monkeypatch):
    from edgekit.convert import ConvertOptions, convert
    from edgekit.errors import ConversionError
    from edgekit.formats import onnx

    def broken(ctx, target):
        raise ConversionError("ONNX conversion (opset 17) failed: op FancyOp is not supported")

    monkeypatch.setattr(onnx, "convert", broken)
    res = convert(mlp_path, tmp_path / "out", ConvertOptions(formats="tflite-float32,onnx",
                                                             golden=str(mlp_calibration)))
    assert not res.all_ok
    a = res.manifest.artifact("onnx")
    assert a.status == "failed" and "FancyOp" in a.reason and a.sha256 is None
    assert res.manifest.artifact("tflite-float32").ok
    assert not (res.out / "model.onnx").exists()


def test_shared_load_only_caches_registered_folders(tmp_path, mlp_path):
    import keras
    import tensorflow as tf

    from edgekit.formats import shared_load

    sm = tmp_path / "sm"
    keras.saving.load_model(mlp_path).export(str(sm), verbose=False)
    shared_load.install("tensorflow.saved_model")
    assert tf.saved_model.load(str(sm)) is not tf.saved_model.load(str(sm))  # not registered: fresh loads
    shared_load.share(sm)
    try:
        first = tf.saved_model.load(str(sm))
        assert tf.saved_model.load(str(sm)) is first
    finally:
        shared_load.release(sm)
    assert tf.saved_model.load(str(sm)) is not first


def test_parallel_workers_give_the_same_artifacts(tmp_path, cnn_path, cnn_calibration, converted_cnn):
    """Three formats converting at once on a shared SavedModel load compute what the serial run computes."""
    from edgekit.convert import ConvertOptions, convert

    res = convert(cnn_path, tmp_path / "par", ConvertOptions(calibration=str(cnn_calibration), golden_samples=48,
                                                             jobs=3))
    folder, m, inputs, ref = _check_folder(res, ALL_IDS)
    _assert_policy(_parity(folder, m, inputs, ref))
    serial = converted_cnn.manifest
    for a in m.artifacts:
        if a.id in ("tflite-float32", "tflite-float16", "tflite-int8"):
            # Same converter, same input: same size (TFLite's metadata may differ in a flag byte; ONNX node
            # names carry process-wide counters, so its parity above is the check that matters).
            assert a.bytes == serial.artifact(a.id).bytes, a.id


def test_per_tensor_int8_is_smaller_and_still_agrees(tmp_path, mobilenet_path, mobilenet_calibration,
                                                     converted_mobilenet):
    from edgekit.convert import ConvertOptions, convert

    res = convert(mobilenet_path, tmp_path / "pt", ConvertOptions(formats="tflite-int8", golden_samples=48,
                                                                  calibration=str(mobilenet_calibration),
                                                                  int8_weights="per-tensor"))
    folder, m, inputs, ref = _check_folder(res, ["tflite-int8"])
    a = m.artifact("tflite-int8")
    assert a.converter["options"]["per_channel"] is False
    per_channel = converted_mobilenet.manifest.artifact("tflite-int8")
    # A narrow MobileNetV2 (alpha 0.35) spends a large share of its int8 bytes on per-channel scales.
    assert a.bytes < 0.9 * per_channel.bytes
    _, top1 = _parity(folder, m, inputs, ref)["tflite-int8"]
    assert top1 >= INT8_MIN_TOP1


def test_an_option_for_a_format_not_asked_for_is_a_warning(tmp_path, mlp_path, mlp_calibration):
    from edgekit.convert import ConvertOptions, convert

    res = convert(mlp_path, tmp_path / "o", ConvertOptions(formats="saved_model", golden=str(mlp_calibration),
                                                           tfjs_quantize="uint8"))
    assert res.all_ok and [a.id for a in res.manifest.artifacts] == ["saved_model"]
    assert "--tfjs-quantize 'uint8' has no effect: it applies to tfjs, and --formats asked for none of them" \
        in res.manifest.warnings
