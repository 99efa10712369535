"""Session fixtures: tiny trained models and their converted folders, built once per test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.quant_debug import hostile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")


@pytest.fixture(scope="session", autouse=True)
def export_cache(tmp_path_factory):
    """One SavedModel export cache for the session (edgekit/export_cache.py), never the user's own: the fixture
    models are converted many times (and by CLI subprocesses, which inherit the variable); each export is done
    once. Tests that need a cold cache set their own folder."""
    from edgekit.export_cache import ENV

    old = os.environ.get(ENV)
    os.environ[ENV] = str(tmp_path_factory.mktemp("export-cache"))
    yield Path(os.environ[ENV])
    if old is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = old


@pytest.fixture(scope="session", autouse=True)
def reports_match_their_schema(tmp_path_factory):
    """At the end of the session, every report.json that validate wrote under pytest's temporary folders must
    match edgekit/data/report.schema.json (issue 14): a few ms per report."""
    yield
    from tests.helpers import written_reports_errors

    bad = written_reports_errors(tmp_path_factory.getbasetemp())
    assert not bad, "report.json files that break edgekit/data/report.schema.json:\n" + "\n".join(
        f"{path}: {errs}" for path, errs in bad.items())


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def mlp_path(model_dir) -> Path:
    return models.build_mlp(model_dir / "mlp.keras")


@pytest.fixture(scope="session")
def cnn_path(model_dir) -> Path:
    return models.build_cnn(model_dir / "cnn.keras")


@pytest.fixture(scope="session")
def mobilenet_path(model_dir) -> Path:
    return models.build_mobilenet(model_dir / "mobilenet.keras")


@pytest.fixture(scope="session")
def lstm_path(model_dir) -> Path:
    return models.build_lstm(model_dir / "lstm.keras")


@pytest.fixture(scope="session")
def gru_path(model_dir) -> Path:
    return models.build_gru(model_dir / "gru.keras")


@pytest.fixture(scope="session")
def mlp_calibration(model_dir) -> Path:
    x, _ = models.feature_rows(300, seed=11)
    p = model_dir / "mlp_calib.npy"
    np.save(p, x)
    return p


@pytest.fixture(scope="session")
def cnn_calibration(model_dir) -> Path:
    x, y = models.quadrant_images(200, 16, seed=12)
    p = model_dir / "cnn_calib.npz"
    np.savez(p, image=x, labels=y)
    return p


@pytest.fixture(scope="session")
def mobilenet_calibration(model_dir) -> Path:
    x, y = models.quadrant_images(160, 32, seed=13)
    p = model_dir / "mobilenet_calib.npz"
    np.savez(p, image=x, labels=y)
    return p


@pytest.fixture(scope="session")
def lstm_calibration(model_dir) -> Path:
    x, y = models.sequences(200, seed=14)
    p = model_dir / "lstm_calib.npz"
    np.savez(p, sequence=x, labels=y)
    return p


def _convert(model: Path, out: Path, calibration: Path, **kw):
    from edgekit.convert import ConvertOptions, convert

    return convert(model, out, ConvertOptions(calibration=str(calibration), golden_samples=48, **kw))


@pytest.fixture(scope="session")
def converted_mlp(tmp_path_factory, mlp_path, mlp_calibration):
    return _convert(mlp_path, tmp_path_factory.mktemp("conv") / "mlp", mlp_calibration)


@pytest.fixture(scope="session")
def converted_cnn(tmp_path_factory, cnn_path, cnn_calibration):
    return _convert(cnn_path, tmp_path_factory.mktemp("conv") / "cnn", cnn_calibration)


@pytest.fixture(scope="session")
def converted_mobilenet(tmp_path_factory, mobilenet_path, mobilenet_calibration):
    return _convert(mobilenet_path, tmp_path_factory.mktemp("conv") / "mobilenet", mobilenet_calibration)


@pytest.fixture(scope="session")
def converted_lstm(tmp_path_factory, lstm_path, lstm_calibration):
    return _convert(lstm_path, tmp_path_factory.mktemp("conv") / "lstm", lstm_calibration)


# The text-classifier recipe (raw strings in, TextVectorization inside), trained briefly once per session:
# tests/train/test_text_recipe.py, tests/web/test_tokenizer_js.py, tests/bundle/test_text_bundle.py.
@pytest.fixture(scope="session")
def text_recipe(tmp_path_factory) -> Path:
    from edgekit.train import TrainOptions, train

    out = tmp_path_factory.mktemp("text") / "recipe"
    small = ["train.epochs=3", "data.per_class=200", "data.sequence_length=12", "model.units=8"]
    train("text-classifier", TrainOptions(out=out, overrides=small))
    return out


@pytest.fixture(scope="session")
def text_converted(text_recipe) -> Path:
    """The text recipe converted (split at its TextVectorization layer): int8 TFLite (in the crash-containment
    worker, as the recipe's default convert does it) and TF.js."""
    from edgekit.convert import ConvertOptions, convert

    out = text_recipe / "artifacts"
    convert(text_recipe, out, ConvertOptions(formats="tflite-int8,tfjs", lstm="unroll"))
    return out


# The quantization-hostile model (tests/quant_debug/hostile.py): tests/quant_debug and tests/formats/test_int8_*.
@pytest.fixture(scope="session")
def hostile_path(model_dir) -> Path:
    return hostile.build(model_dir / "hostile.keras")


@pytest.fixture(scope="session")
def hostile_data(model_dir) -> dict[str, Path]:
    xc, yc = hostile.data(200, seed=11)
    xg, yg = hostile.data(300, seed=12)
    paths = {"calibration": model_dir / "hostile_calib.npz", "golden": model_dir / "hostile_golden.npz"}
    np.savez(paths["calibration"], features=xc, labels=yc)
    np.savez(paths["golden"], features=xg, labels=yg)
    return paths


@pytest.fixture(scope="session")
def hostile_converted(tmp_path_factory, hostile_path, hostile_data):
    """SavedModel, float32, float16, dynamic, int16x8, and int8 within a 2-point budget (--int8-max-drop 2
    --int8-weights auto; plain int8 is the search's first candidate), with the labelled golden set."""
    from edgekit.convert import ConvertOptions, convert

    opts = ConvertOptions(formats="saved_model,tflite,tflite-int16x8", calibration=str(hostile_data["calibration"]),
                          golden=str(hostile_data["golden"]), golden_samples=300, int8_max_drop=2.0,
                          int8_weights="auto")
    return convert(hostile_path, tmp_path_factory.mktemp("conv") / "hostile", opts)


@pytest.fixture(scope="session")
def converted_tflm_cnn(tmp_path_factory, cnn_path, cnn_calibration):
    """The tiny CNN as a TFLite Micro target (tests/formats, runtimes, devices and bundle share it)."""
    return _convert(cnn_path, tmp_path_factory.mktemp("conv") / "cnn-tflm", cnn_calibration, formats="tflm")


@pytest.fixture(scope="session")
def converted_tflm_lstm(tmp_path_factory, lstm_path, lstm_calibration):
    """The small LSTM (fused UNIDIRECTIONAL_SEQUENCE_LSTM) as a TFLite Micro target."""
    return _convert(lstm_path, tmp_path_factory.mktemp("conv") / "lstm-tflm", lstm_calibration, formats="tflm")


@pytest.fixture()
def fresh_copy(tmp_path):
    """Copy a converted folder so a test may damage it."""

    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst

    return copy
