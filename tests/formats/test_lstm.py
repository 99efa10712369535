"""RNN lowering to TFLite builtins (edgekit.formats.lstm), checked by running the flatbuffers.

Three small Keras 3 models trained a few steps (so outputs vary across inputs) go through both
strategies, float32 and full int8, and are compared with the Keras model in ai-edge-litert.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.errors import ConversionError
from edgekit.manifest import TensorSpec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEED = 3
# Same float32 math in another runtime: XNNPACK/TFLite kernels sum in another order and the fused LSTM
# kernel has its own gate loop; measured diffs are ~1e-7. 1e-4 (of the output scale) leaves room for
# that and still catches any real mismatch (a wrong gate order or a missing bias moves outputs >1e-2).
FLOAT_TOL = 1e-4
# int8 rounds weights and activations to 256 levels; a trained classifier keeps its decision on almost
# every input. 90% top-1 agreement is the bar a user would accept for an int8 LSTM classifier.
INT8_AGREEMENT = 0.90
# Regressor: int8 error of a few output quantization steps; 5% of the target spread (std).
INT8_REG_REL_MAE = 0.05


# ---------------------------------------------------------------------------------------------------------
# Data and models


def _seq_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(8 steps, 8 features); class = signs of the mean of features 0 and 1 over time (4 classes)."""
    x = rng.normal(size=(n, 8, 8)).astype(np.float32)
    y = 2 * (x[:, :, 0].mean(1) > 0) + (x[:, :, 1].mean(1) > 0)
    return x, y.astype(np.int64)


def _token_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """10 tokens of 1..49; class = which token range (1-16, 17-33, 34-49) occurs most often."""
    x = rng.integers(1, 50, size=(n, 10)).astype(np.int32)
    counts = np.stack([(x < 17).sum(1), ((x >= 17) & (x < 34)).sum(1), (x >= 34).sum(1)], 1)
    return x, counts.argmax(1).astype(np.int64)


def _reg_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(8 steps, 4 features); target = mean of feature 0 plus half the last value of feature 1."""
    x = rng.normal(size=(n, 8, 4)).astype(np.float32)
    return x, (x[:, :, 0].mean(1) + 0.5 * x[:, -1, 1]).astype(np.float32)[:, None]


def _train(model: Any, x: np.ndarray, y: np.ndarray, loss: str, epochs: int) -> Any:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def rnn_models() -> dict[str, dict[str, Any]]:
    """name -> {model, train (calibration source), test inputs, kind}."""
    import keras

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    L = keras.layers
    out: dict[str, dict[str, Any]] = {}

    x, y = _seq_data(480, rng)
    m = keras.Sequential([keras.Input((8, 8), name="seq"), L.LSTM(16), L.Dense(4, activation="softmax")],
                         name="seq_clf")
    out["seq_clf"] = {"model": _train(m, x[:400], y[:400], "sparse_categorical_crossentropy", 4),
                      "train": x[:400], "test": x[400:], "kind": "clf"}

    x, y = _token_data(480, rng)
    tok = keras.Input((10,), dtype="int32", name="tokens")
    h = L.Embedding(50, 8)(tok)
    h = L.LSTM(16)(h)
    m = keras.Model(tok, L.Dense(3, activation="softmax")(h), name="emb_clf")  # Functional chain
    out["emb_clf"] = {"model": _train(m, x[:400], y[:400], "sparse_categorical_crossentropy", 4),
                      "train": x[:400], "test": x[400:], "kind": "clf"}

    x, y = _reg_data(480, rng)
    m = keras.Sequential([keras.Input((8, 4), name="series"), L.LSTM(16, return_sequences=True), L.LSTM(8),
                          L.Dense(1)], name="stacked_reg")
    out["stacked_reg"] = {"model": _train(m, x[:400], y[:400], "mse", 4), "train": x[:400],
                          "test": x[400:], "kind": "reg", "target_std": float(y.std())}

    for entry in out.values():
        entry["ref"] = entry["model"].predict(entry["test"], verbose=0)
    # The premise of every parity check below: the models are not constant.
    for name in ("seq_clf", "emb_clf"):
        assert len(np.unique(out[name]["ref"].argmax(1))) >= 2, name
    assert out["stacked_reg"]["ref"].std() > 0.2
    return out


def _spec(entry: dict[str, Any]) -> TensorSpec:
    model = entry["model"]
    return TensorSpec(model.inputs[0].name, [None] + list(entry["test"].shape[1:]), str(entry["test"].dtype))


@pytest.fixture(scope="session")
def lowered(rnn_models, tmp_path_factory) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, strategy) -> {info, float32: bytes, int8: bytes}, converted lazily and once."""
    root = tmp_path_factory.mktemp("lstm")

    class Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> dict[str, Any]:
            self[key] = _convert_both(rnn_models[key[0]], key[1], root / f"{key[0]}-{key[1]}")
            return self[key]

    return Lazy()


def _convert_both(entry: dict[str, Any], strategy: str, workdir: Path) -> dict[str, Any]:
    import tensorflow as tf

    from edgekit.formats.lstm import tflite_converter_for_rnn

    spec = _spec(entry)
    conv, info = tflite_converter_for_rnn(entry["model"], [spec], strategy, workdir,
                                          {spec.name: entry["test"][:32]})
    # fused: the probe conversion is the float32 variant (test_probe_is_the_float32_conversion).
    result = {"info": info, "float32": info.get("probe_tflite") or conv.convert()}
    calib = entry["train"][:48]
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if calib.dtype == np.float32:  # token ids stay int32: int8 I/O only applies to real-valued tensors
        conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    result["int8"] = conv.convert()
    return result


# ---------------------------------------------------------------------------------------------------------
# Running a flatbuffer


def _run(blob: bytes, x: np.ndarray, reset: bool = True) -> np.ndarray:
    """One sample per invoke (the fused model has batch 1), (de)quantizing int8 I/O."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=blob)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    results = []
    for i in range(len(x)):
        sample = x[i:i + 1]
        if inp["dtype"] == np.int8:
            scale, zp = inp["quantization"]
            sample = np.clip(np.round(sample / scale + zp), -128, 127)
        if reset:  # the fused LSTM keeps its state in variable tensors across invokes
            interp.reset_all_variables()
        interp.set_tensor(inp["index"], sample.astype(inp["dtype"]))
        interp.invoke()
        y = interp.get_tensor(out["index"])[0]
        if out["dtype"] == np.int8:
            scale, zp = out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        results.append(y)
    return np.asarray(results, dtype=np.float32)


CASES = [(m, s) for m in ("seq_clf", "emb_clf", "stacked_reg") for s in ("fused", "unroll")]


@pytest.mark.parametrize(("name", "strategy"), CASES)
def test_float32_matches_keras(rnn_models, lowered, name, strategy):
    entry, conv = rnn_models[name], lowered[(name, strategy)]
    print(f"{name}/{strategy}/float32: {len(conv['float32'])} bytes")  # shown with pytest -s
    got = _run(conv["float32"], entry["test"])
    ref = entry["ref"]
    print(f"  max abs diff {np.max(np.abs(got - ref)):.2g}")
    assert np.max(np.abs(got - ref)) < FLOAT_TOL * max(1.0, float(np.abs(ref).max()))
    assert conv["info"]["lstm_lowering"] == {"fused": "fused", "unroll": "unrolled"}[strategy]


@pytest.mark.parametrize(("name", "strategy"), CASES)
def test_int8_agrees_with_keras(rnn_models, lowered, name, strategy):
    from edgekit.tflite_inspect import inspect

    entry, conv = rnn_models[name], lowered[(name, strategy)]
    print(f"{name}/{strategy}/int8: {len(conv['int8'])} bytes")
    info = inspect(conv["int8"])
    assert info.outputs[0].dtype == "int8"
    assert info.inputs[0].dtype == ("int32" if name == "emb_clf" else "int8")
    got = _run(conv["int8"], entry["test"])
    ref = entry["ref"]
    print(f"  top-1 agreement {np.mean(got.argmax(1) == ref.argmax(1)):.3f}, MAE {np.mean(np.abs(got - ref)):.3g}")
    if entry["kind"] == "clf":
        assert np.mean(got.argmax(1) == ref.argmax(1)) >= INT8_AGREEMENT
    else:
        assert np.mean(np.abs(got - ref)) <= INT8_REG_REL_MAE * entry["target_std"]


@pytest.mark.parametrize(("name", "strategy"), CASES)
def test_ops_are_builtins_of_the_expected_kind(rnn_models, lowered, name, strategy):
    from edgekit.tflite_inspect import inspect

    n_lstm = 2 if name == "stacked_reg" else 1
    for variant in ("float32", "int8"):
        info = inspect(lowered[(name, strategy)][variant])
        # The signature keeps the model's input name, so manifest feeds find their tensor.
        assert [t.signature_name for t in info.inputs] == [_spec(rnn_models[name]).name]
        assert not info.requires_flex and not info.custom_ops, (variant, info.custom_ops)
        if strategy == "fused":
            assert info.ops["UNIDIRECTIONAL_SEQUENCE_LSTM"]["count"] == n_lstm, variant
        else:
            # Unrolled: no fused op and no loop left (a WHILE or tensor-list op means it was not unrolled).
            assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in info.ops
            assert not {"WHILE", "CALL_ONCE"} & set(info.ops), sorted(info.ops)


def test_fused_state_persists_across_invokes_unless_reset(rnn_models, lowered):
    """Why info['requires_state_reset'] exists: without a reset, the 2nd answer depends on the 1st input."""
    entry = rnn_models["seq_clf"]
    fused, unrolled = lowered[("seq_clf", "fused")], lowered[("seq_clf", "unroll")]
    assert fused["info"]["requires_state_reset"] and not unrolled["info"]["requires_state_reset"]
    x = np.repeat(entry["test"][:1], 2, axis=0)  # the same input twice
    no_reset = _run(fused["float32"], x, reset=False)
    assert np.max(np.abs(no_reset[1] - no_reset[0])) > 1e-3
    assert np.max(np.abs(_run(fused["float32"], x, reset=True)[1] - entry["ref"][0])) < FLOAT_TOL
    same = _run(unrolled["float32"], x, reset=False)
    assert np.max(np.abs(same[1] - same[0])) == 0.0


def test_probe_is_the_float32_conversion(rnn_models, lowered, tmp_path):
    from edgekit.formats.lstm import tflite_converter_for_rnn

    entry = rnn_models["seq_clf"]
    probe = lowered[("seq_clf", "fused")]["info"]["probe_tflite"]
    spec = _spec(entry)
    # A second call hits the per-model cache (no new rebuild) and hands out a fresh converter.
    conv, info = tflite_converter_for_rnn(entry["model"], [spec], "fused", tmp_path, {spec.name: entry["test"]})
    assert info["probe_tflite"] is probe
    assert conv.convert() == probe


def test_find_rnn_layers(rnn_models):
    import keras

    from edgekit.formats.lstm import find_rnn_layers

    assert find_rnn_layers(rnn_models["stacked_reg"]["model"]) == [
        x.name for x in rnn_models["stacked_reg"]["model"].layers[:2]]
    inner = keras.Sequential([keras.Input((8, 4)), keras.layers.Bidirectional(keras.layers.GRU(4), name="bi")])
    outer = keras.Sequential([keras.Input((8, 4)), inner, keras.layers.Dense(2)])
    assert find_rnn_layers(outer) == ["bi"]
    assert find_rnn_layers(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])) == []


def test_mask_zero_refused_by_fused_and_auto_unrolls_honouring_the_mask(rnn_models, tmp_path):
    import keras

    from edgekit.formats.lstm import tflite_converter_for_rnn

    src = rnn_models["emb_clf"]["model"]
    masked = keras.Sequential([keras.Input((10,), dtype="int32", name="tokens"),
                               keras.layers.Embedding(50, 8, mask_zero=True), keras.layers.LSTM(16),
                               keras.layers.Dense(3, activation="softmax")])
    masked.set_weights(src.get_weights())
    x = rnn_models["emb_clf"]["test"][:24].copy()
    x[:, 6:] = 0  # right padding
    ref = masked.predict(x, verbose=0)
    # The mask must matter for this check to mean anything.
    assert np.max(np.abs(ref - src.predict(x, verbose=0))) > 1e-3
    spec = TensorSpec("tokens", [None, 10], "int32")
    with pytest.raises(ConversionError, match="mask"):
        tflite_converter_for_rnn(masked, [spec], "fused", tmp_path, {"tokens": x})
    conv, info = tflite_converter_for_rnn(masked, [spec], "auto", tmp_path, {"tokens": x})
    assert info["lstm_lowering"] == "unrolled" and "mask" in info["notes"][0]
    assert np.max(np.abs(_run(conv.convert(), x) - ref)) < FLOAT_TOL


def test_bidirectional_inside_a_nested_model(tmp_path):
    """Bidirectional(LSTM) in a nested Sequential inside a Functional model: both strategies, float32."""
    import keras

    from edgekit.formats.lstm import tflite_converter_for_rnn
    from edgekit.tflite_inspect import inspect

    keras.utils.set_random_seed(SEED)
    L = keras.layers
    inner = keras.Sequential([keras.Input((8, 4)), L.Bidirectional(L.LSTM(4, unit_forget_bias=False))])
    inp = keras.Input((8, 4), name="x")
    model = keras.Model(inp, L.Dense(2)(inner(inp)))
    # Untrained is fine here: a linear head on random (enlarged) weights gives outputs that vary a lot.
    model.set_weights([w * 2.0 for w in model.get_weights()])
    x = np.random.default_rng(SEED).normal(size=(16, 8, 4)).astype(np.float32)
    ref = model.predict(x, verbose=0)
    assert ref.std() > 0.1
    spec = TensorSpec("x", [None, 8, 4], "float32")
    for strategy, fused_ops in (("fused", 2), ("unroll", 0)):
        conv, info = tflite_converter_for_rnn(model, [spec], strategy, tmp_path / strategy, {"x": x})
        blob = info.get("probe_tflite") or conv.convert()
        ops = inspect(blob).ops
        assert ops.get("UNIDIRECTIONAL_SEQUENCE_LSTM", {}).get("count", 0) == fused_ops, sorted(ops)
        assert np.max(np.abs(_run(blob, x) - ref)) < FLOAT_TOL * max(1.0, float(np.abs(ref).max()))


def test_refusals_are_clear(tmp_path):
    import keras

    from edgekit.formats.lstm import tflite_converter_for_rnn

    L = keras.layers
    x = np.zeros((2, 8, 4), np.float32)
    spec = TensorSpec("x", [None, 8, 4], "float32")
    gru = keras.Sequential([keras.Input((8, 4)), L.GRU(4), L.Dense(2)])
    with pytest.raises(ConversionError, match="fused kernel for LSTM only"):
        tflite_converter_for_rnn(gru, [spec], "fused", tmp_path, {"x": x})
    dynamic = keras.Sequential([keras.Input((None, 4)), L.LSTM(4)])
    with pytest.raises(ConversionError, match="--input-shape"):
        tflite_converter_for_rnn(dynamic, [TensorSpec("x", [None, None, 4], "float32")], "unroll", tmp_path,
                                 {"x": x})
    stateful = keras.Sequential([keras.Input((8, 4), batch_size=2), L.LSTM(4, stateful=True)])
    with pytest.raises(ConversionError, match="stateful"):
        tflite_converter_for_rnn(stateful, [spec], "auto", tmp_path, {"x": x})
    relu = keras.Sequential([keras.Input((8, 4)), L.LSTM(4, activation="relu")])
    with pytest.raises(ConversionError, match="activation"):
        tflite_converter_for_rnn(relu, [spec], "fused", tmp_path, {"x": x})
    with pytest.raises(ConversionError, match="strategy"):
        tflite_converter_for_rnn(relu, [spec], "flex", tmp_path, {"x": x})



# ---------------------------------------------------------------------------------------------------------
# ConvLSTM through `edgekit convert`: the layer sets of the TFLite format and of the lowering are one.


def _conv_lstm_model(path: Path) -> tuple[Path, np.ndarray]:
    """ConvLSTM1D over 6 steps of a 10-wide, 2-channel signal; class = sign of the mean of channel 0."""
    import keras

    keras.utils.set_random_seed(SEED)
    x = np.random.default_rng(SEED).normal(size=(320, 6, 10, 2)).astype(np.float32)
    y = (x[:, :, :, 0].mean((1, 2)) > 0).astype(np.int64)
    model = keras.Sequential([keras.Input((6, 10, 2), name="signal"),
                              keras.layers.ConvLSTM1D(4, 3, name="conv_lstm"), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    _train(model, x, y, "sparse_categorical_crossentropy", 4)
    model.save(path)
    return path, x


def test_conv_lstm1d_is_unrolled_to_builtins_and_matches_keras(tmp_path):
    """It was sent to lowering, which said it had no RNN layer, and ended up on Select TF ops."""
    import keras

    from edgekit.convert import ConvertOptions, convert
    from tests.artifact_runs import load_golden, run_tflite, top1_agreement

    path, x = _conv_lstm_model(tmp_path / "conv_lstm.keras")
    np.save(tmp_path / "calib.npy", x)
    res = convert(path, tmp_path / "out", ConvertOptions(formats="tflite-float32,tflite-int8", golden_samples=48,
                                                         calibration=str(tmp_path / "calib.npy")))
    inputs, ref = load_golden(res.out)
    np.testing.assert_allclose(ref["output_0"], keras.saving.load_model(path)(inputs["signal"]), atol=1e-6)
    assert len(np.unique(ref["output_0"].argmax(1))) == 2  # not a constant model
    for art in res.manifest.artifacts:
        assert art.ok and not art.requires_flex, (art.id, art.reason, art.notes)
        assert art.converter["options"]["lstm_lowering"] == "unrolled"
        got = run_tflite(res.out, res.manifest, art, inputs)["output_0"]
        if art.variant == "float32":
            assert float(np.abs(got - ref["output_0"]).max()) < FLOAT_TOL
        else:
            assert top1_agreement(got, ref["output_0"]) >= INT8_AGREEMENT
    # auto tried the fused kernel first (on the first variant converted; the others reuse the decision).
    notes = [n for art in res.manifest.artifacts for n in art.notes]
    assert any("'conv_lstm' is a ConvLSTM1D: TFLite has a fused kernel for LSTM only" in n for n in notes), notes


def test_conv_lstm1d_with_fused_is_refused_with_the_reason(tmp_path):
    from edgekit.convert import ConvertOptions, convert

    path, _ = _conv_lstm_model(tmp_path / "conv_lstm.keras")
    res = convert(path, tmp_path / "out", ConvertOptions(formats="tflite-float32", lstm="fused"))
    art = res.manifest.artifact("tflite-float32")
    assert art.status == "failed" and not (res.out / art.path).exists()
    assert "'conv_lstm' is a ConvLSTM1D: TFLite has a fused kernel for LSTM only; use unroll" in art.reason
