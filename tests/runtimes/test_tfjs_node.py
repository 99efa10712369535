"""TF.js in Node (edgekit/js/runner.js through edgekit.runtimes.tfjs_node) against the Keras model itself.

The fixtures convert with tensorflowjs directly (not `edgekit convert`) so these tests pin the runner,
not the converter: a trained two-input / two-output net, a net with a while loop (TF.js runs it only
through model.executeAsync) and a Keras 3 LSTM that TF.js 4.22 cannot run at all.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import EdgekitError, InputError
from edgekit.protocol import BenchSettings, Job, JobResult
from edgekit.runtimes import tfjs_node, unavailable_reason
from edgekit.runtimes.tfjs_node import TfjsNodeRunner
from tests import models
from tests.helpers import require

# Float32 everywhere: TF.js (XNNPACK in wasm, plain JS loops in cpu) sums in a different order than
# TensorFlow's Eigen/oneDNN kernels, which moves results by ~1e-7 on nets this small. 1e-5 keeps a
# wide margin over that noise while any wrong weight, layout or output order shows up at ~1e-2.
ATOL = 1e-5
RTOL = 1e-5
# Few runs and short times: these tests check that stats are produced, not how fast anything is.
QUICK = {"runs": 5, "warmup": 1, "min_time": 0.0, "max_time": 5.0, "warmup_min_time": 0.0, "timeout": 120.0}


@dataclass
class Converted:
    """A Keras model converted to a TF.js graph model, its golden inputs and Keras' own outputs."""

    tfjs_dir: Path
    inputs: dict[str, np.ndarray]  # signature input name -> [N, ...]
    reference: list[np.ndarray]  # Keras outputs, in model.outputs order
    io_names: dict[str, list[str]]  # model.json tensor names in Keras signature order
    signature_keys: dict[str, list[str]]  # model.json signature keys, same order


def _export_and_convert(model, work: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    from tensorflowjs.converters import convert_tf_saved_model

    model.export(str(work / "saved_model"), verbose=False)
    # Same converter entry point and flags as edgekit/formats/tfjs.py.
    convert_tf_saved_model(str(work / "saved_model"), str(work / "tfjs"), use_structured_outputs_names=True)
    sig = json.loads((work / "tfjs" / "model.json").read_text())["signature"]
    return work / "tfjs", {side: {k: v["name"] for k, v in sig[side].items()} for side in ("inputs", "outputs")}


@pytest.fixture(scope="session")
def two_io(tmp_path_factory) -> Converted:
    """Image + features in, class probabilities + a regression score out; trained so outputs vary."""
    import keras

    keras.utils.set_random_seed(models.SEED)
    img = keras.Input((8, 8, 3), name="image")
    feats = keras.Input((4,), name="features")
    h = keras.layers.Rescaling(1 / 255.0)(img)
    h = keras.layers.Conv2D(6, 3, activation="relu", padding="same")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Concatenate()([h, feats])
    h = keras.layers.Dense(16, activation="relu")(h)
    probs = keras.layers.Dense(4, activation="softmax", name="probs")(h)
    score = keras.layers.Dense(1, name="score")(h)
    model = keras.Model({"image": img, "features": feats}, [probs, score])
    x_img, y = models.quadrant_images(256, 8)
    x_feat = np.random.default_rng(3).normal(size=(256, 4)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=["sparse_categorical_crossentropy", "mse"])
    model.fit({"image": x_img, "features": x_feat}, [y, x_feat.sum(1, keepdims=True)], epochs=4, verbose=0)

    golden = {"image": x_img[:12], "features": x_feat[:12]}
    reference = [np.asarray(r) for r in model.predict(golden, verbose=0)]
    tfjs_dir, sig = _export_and_convert(model, tmp_path_factory.mktemp("tfjs_two_io"))
    # Keras names its outputs output_0, output_1 in model.outputs order; model.json lists them unordered.
    in_keys, out_keys = ["image", "features"], ["output_0", "output_1"]
    return Converted(
        tfjs_dir, golden, reference,
        io_names={"inputs": [sig["inputs"][k] for k in in_keys], "outputs": [sig["outputs"][k] for k in out_keys]},
        signature_keys={"inputs": in_keys, "outputs": out_keys},
    )


def _decayed_sum_layer():
    import keras
    from keras import ops

    class DecayedSum(keras.layers.Layer):
        """acc = 0.5 * acc + x[:, t] over the time axis, written as a while loop (control flow)."""

        def call(self, x):
            steps = x.shape[1]

            def body(t, acc):
                return t + 1, acc * 0.5 + ops.take(x, t, axis=1)

            _, acc = ops.while_loop(lambda t, acc: t < steps, body, (0, ops.zeros_like(x[:, 0, :])))
            return acc

    return DecayedSum()


@pytest.fixture(scope="session")
def looped(tmp_path_factory) -> Converted:
    """A graph with a while loop: TF.js refuses model.execute on it and needs executeAsync."""
    import keras

    keras.utils.set_random_seed(models.SEED)
    inp = keras.Input((8, 8), name="sequence")
    out = keras.layers.Dense(4, activation="softmax")(_decayed_sum_layer()(inp))
    model = keras.Model(inp, out)
    x, y = models.sequences(256)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    golden = {"sequence": x[:6]}
    reference = [model.predict(golden["sequence"], verbose=0)]
    tfjs_dir, sig = _export_and_convert(model, tmp_path_factory.mktemp("tfjs_loop"))
    return Converted(tfjs_dir, golden, reference,
                     io_names={"inputs": [sig["inputs"]["sequence"]], "outputs": [sig["outputs"]["output_0"]]},
                     signature_keys={"inputs": ["sequence"], "outputs": ["output_0"]})


@pytest.fixture(scope="session")
def lstm_tfjs(tmp_path_factory) -> Path:
    """A Keras 3 LSTM: tensorflowjs converts it, but TF.js 4.22 cannot run the result (see the test)."""
    import keras

    inp = keras.Input((8, 8), name="sequence")
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.LSTM(4)(inp)))
    tfjs_dir, _ = _export_and_convert(model, tmp_path_factory.mktemp("tfjs_lstm"))
    return tfjs_dir


@pytest.fixture()
def runner() -> TfjsNodeRunner:
    # Locally a machine without Node skips; with CI=true it fails (the validator must be tested there).
    reason = tfjs_node.unavailable_reason()
    require(reason is None, reason or "")
    return TfjsNodeRunner()


def _run(runner: TfjsNodeRunner, conv: Converted, backend: str, names: dict[str, list[str]] | None = None, **kw):
    names = names or conv.io_names
    settings = {**QUICK, **kw}
    return runner.run(conv.tfjs_dir, conv.inputs, names["inputs"], names["outputs"], backend=backend,
                      threads=1, **settings)


def _assert_matches_keras(conv: Converted, outputs: list[np.ndarray]) -> None:
    for ref, got in zip(conv.reference, outputs, strict=True):
        assert got.shape == ref.shape
        # Parity on constant outputs would prove nothing: make sure the golden samples differ.
        assert np.ptp(ref, axis=0).max() > 1e-3
        np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("backend", ["wasm", "cpu"])
def test_outputs_match_keras_and_stats_are_complete(runner, two_io, backend):
    r = _run(runner, two_io, backend, runs=7)
    _assert_matches_keras(two_io, [r.outputs[n] for n in two_io.io_names["outputs"]])
    assert r.stats["count"] >= 7
    assert r.stats["p50_ms"] > 0
    assert r.stats["min_ms"] <= r.stats["p50_ms"] <= r.stats["p90_ms"] <= r.stats["p99_ms"] <= r.stats["max_ms"]
    assert len(r.samples_ms) == r.stats["count"]
    assert r.warmup["count"] >= 1
    assert r.load_ms > 0 and r.first_ms > 0 and r.peak_rss_mb > 0
    if sys.platform == "linux":
        # node's own peak, not this TensorFlow-laden pytest's: ru_maxrss would carry it over exec.
        assert r.peak_rss_mb < 600
    assert r.threads >= 1
    assert r.execute_mode == "execute"
    assert r.versions["tfjs-core"] == "4.22.0" and r.versions[f"tfjs-backend-{backend}"] == "4.22.0"


def test_signature_keys_work_like_tensor_names(runner, two_io):
    r = _run(runner, two_io, "wasm", names=two_io.signature_keys)
    _assert_matches_keras(two_io, [r.outputs[n] for n in two_io.signature_keys["outputs"]])


def test_inputs_fed_by_name_not_by_dict_order(runner, two_io):
    # Same names, golden dict in the other order: each array must still reach its own input.
    pairs = zip(two_io.io_names["inputs"], two_io.signature_keys["inputs"], strict=True)
    shuffled = {name: two_io.inputs[key] for name, key in reversed(list(pairs))}
    r = runner.run(two_io.tfjs_dir, shuffled, two_io.io_names["inputs"], two_io.io_names["outputs"], backend="wasm",
                   **QUICK)
    _assert_matches_keras(two_io, [r.outputs[n] for n in two_io.io_names["outputs"]])


def test_control_flow_model_runs_with_execute_async(runner, looped):
    r = _run(runner, looped, "wasm")
    assert r.execute_mode == "executeAsync"
    _assert_matches_keras(looped, [r.outputs[looped.io_names["outputs"][0]]])


@pytest.mark.parametrize("backend", ["wasm", "cpu"])
def test_graph_tfjs_cannot_run_is_a_clean_runtime_error(runner, lstm_tfjs, backend):
    # Measured with tfjs 4.22: wasm fails on "_FusedMatMul only supports rank-1 bias", cpu cannot
    # schedule the LSTM's TensorList loop. The artifact is unusable in TF.js: an error, not bad input.
    x = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(EdgekitError) as e:
        runner.run(lstm_tfjs, {"sequence": x}, ["sequence"], ["output_0"], backend=backend, **QUICK)
    assert not isinstance(e.value, InputError) and "\n" not in str(e.value)


def test_latency_rule_runs_until_min_time(runner, two_io):
    # runs=1 but min_time=0.3 s: benchmark_model's rule keeps going until the time is spent too.
    r = _run(runner, two_io, "cpu", runs=1, min_time=0.3)
    assert r.stats["count"] > 1


def test_run_job_writes_signature_keyed_outputs(runner, two_io, tmp_path):
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **two_io.inputs)
    job = Job(
        runtime="tfjs-wasm",
        artifact={"id": "tfjs", "format": "tfjs", "variant": "float32", "path": "tfjs", "io_names": two_io.io_names},
        artifact_path=str(two_io.tfjs_dir),
        inputs=[{"name": "image", "shape": [None, 8, 8, 3], "dtype": "float32"},
                {"name": "features", "shape": [None, 4], "dtype": "float32"}],
        outputs=[{"name": "probs", "shape": [None, 4], "dtype": "float32"},
                 {"name": "score", "shape": [None, 1], "dtype": "float32"}],
        feeds_path=str(feeds), outputs_path=str(tmp_path / "out.npz"), result_path=str(tmp_path / "result.json"),
        bench=BenchSettings(runs=3, warmup=1, min_time=0.0, max_time=5.0, warmup_min_time=0.0),
        options={"backend": "wasm"},
    )
    res = TfjsNodeRunner(job.options).run_job(job)
    JobResult.from_json(res.to_json())  # the worker must be able to write it
    assert res.ok and res.latency["count"] >= 3 and res.latency["p50"] > 0
    assert res.load_ms > 0 and res.first_ms > 0 and res.peak_rss_mb > 0
    with np.load(job.outputs_path) as out:
        _assert_matches_keras(two_io, [out["probs"], out["score"]])


# ---------------------------------------------------------------------------------------------------------
# Broken models and inputs: a clean one-line error, never a hang


@pytest.fixture()
def damaged(two_io, tmp_path) -> Path:
    dst = tmp_path / "tfjs"
    shutil.copytree(two_io.tfjs_dir, dst)
    return dst


def _run_dir(runner, conv, model_dir, **kw):
    return runner.run(model_dir, conv.inputs, conv.io_names["inputs"], conv.io_names["outputs"], backend="wasm",
                      **{**QUICK, **kw})


def test_corrupt_model_json_is_a_clean_input_error(runner, two_io, damaged):
    text = (damaged / "model.json").read_text()
    (damaged / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="model.json is not valid JSON") as e:
        _run_dir(runner, two_io, damaged)
    assert "\n" not in str(e.value)


def test_truncated_shard_is_a_clean_input_error(runner, two_io, damaged):
    shard = next(damaged.glob("*.bin"))
    shard.write_bytes(shard.read_bytes()[:-16])
    with pytest.raises(InputError, match="weightsManifest describes"):
        _run_dir(runner, two_io, damaged)


def test_missing_shard_is_a_clean_input_error(runner, two_io, damaged):
    next(damaged.glob("*.bin")).unlink()
    with pytest.raises(InputError, match="cannot read weight shard"):
        _run_dir(runner, two_io, damaged)


def test_missing_model_folder(runner, two_io, tmp_path):
    with pytest.raises(InputError, match="no model.json"):
        _run_dir(runner, two_io, tmp_path / "nowhere")


def test_unknown_output_name_lists_the_known_ones(runner, two_io):
    with pytest.raises(InputError, match=r"output name \"nope\" is not in the model; it has: .*Identity:0"):
        runner.run(two_io.tfjs_dir, two_io.inputs, two_io.io_names["inputs"], ["nope", "Identity:0"], **QUICK)


def test_wrong_input_shape_is_an_input_error(runner, two_io):
    bad = dict(zip(two_io.io_names["inputs"], [two_io.inputs["image"][:, :4], two_io.inputs["features"]], strict=True))
    with pytest.raises(InputError, match="the model expects"):
        runner.run(two_io.tfjs_dir, bad, two_io.io_names["inputs"], two_io.io_names["outputs"], **QUICK)


def test_timeout_ends_the_runner(runner, two_io):
    # A 60 s loop under a 3 s timeout: the runner must stop itself (or be killed), not hang the caller.
    with pytest.raises(EdgekitError, match="deadline|did not finish"):
        _run_dir(runner, two_io, two_io.tfjs_dir, min_time=60.0, max_time=60.0, timeout=3.0)


# ---------------------------------------------------------------------------------------------------------
# Availability: a reason with the install hint (no Node needed for these)


def test_missing_node_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKIT_NODE", str(tmp_path / "no-node"))
    reason = tfjs_node.unavailable_reason()
    assert reason is not None and "make setup-js" in reason
    assert unavailable_reason("tfjs-wasm") == unavailable_reason("tfjs-cpu") == reason  # the registry's check


def test_missing_node_modules_gives_install_hint(monkeypatch, tmp_path):
    require(tfjs_node.node_binary() is not None, "node is not on PATH")
    monkeypatch.setattr(tfjs_node, "JS_DIR", tmp_path)
    reason = tfjs_node.unavailable_reason()
    assert reason is not None and "tfjs-core" in reason and "make setup-js" in reason


def test_bad_backend_is_refused():
    with pytest.raises(InputError, match="backend"):
        TfjsNodeRunner().run(Path("."), {}, [], [], backend="webgl")
