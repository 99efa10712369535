"""Each recipe trains a step or two on tiny data; `edgekit convert FOLDER` and `validate` accept the folder as is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from edgekit.convert import ConvertOptions, convert
from edgekit.protocol import BenchSettings
from edgekit.train import TrainOptions, train
from edgekit.validate import ValidateOptions, validate
from tests import models
from tests.helpers import assert_bad_input

runner = CliRunner()
QUICK_BENCH = BenchSettings(runs=3, warmup=1, min_time=0.0, warmup_min_time=0.0)


def _write_png(path: Path, img: np.ndarray) -> None:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.clip(img, 0, 255).astype(np.uint8)).numpy())


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """4 classes of quadrant images, two sizes mixed, one corrupt file."""
    root = tmp_path_factory.mktemp("imgs") / "images"
    x, y = models.quadrant_images(64, 32, seed=3)
    big, ybig = models.quadrant_images(16, 40, seed=4)
    for i, (img, c) in enumerate(zip(np.concatenate([x[:48]]), y[:48], strict=True)):
        _write_png(root / f"q{c}" / f"{i}.png", img)
    for i, (img, c) in enumerate(zip(big, ybig, strict=True)):
        _write_png(root / f"q{c}" / f"big{i}.png", img)
    (root / "q0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def _tiny_image_overrides() -> list[str]:
    return ["model.input_size=32", "model.weights=none", "train.epochs=2", "train.batch_size=8",
            "data.holdout=0.25", "data.calibration_samples=16", "train.patience=0"]


def _validate(folder: Path) -> dict:
    rep = validate(folder, ValidateOptions(bench=QUICK_BENCH))
    return rep


def test_image_recipe_to_convert_to_validate(tmp_path, image_folder):
    out = tmp_path / "img"
    res = train("image-classifier", TrainOptions(out=out, data=str(image_folder), overrides=_tiny_image_overrides()))
    info = json.loads((out / "train.json").read_text())
    # The corrupt file is counted and skipped; both sizes were seen and resized.
    assert info["data"]["unreadable"] == 1 and info["data"]["unreadable_examples"] == ["q0/broken.png"]
    assert sorted(info["data"]["sizes"]) == [[32, 32], [40, 40]]
    assert info["data"]["images"] == 64 and info["data"]["golden"] + info["data"]["train"] == 64
    assert info["data"]["classes"] == ["q0", "q1", "q2", "q3"]
    assert 0.0 <= res.metrics["holdout_accuracy"] <= 1.0 and res.metrics["epochs_run"] == 2
    assert (out / "labels.txt").read_text().split() == ["q0", "q1", "q2", "q3"]
    pre = json.loads((out / "preprocessing.json").read_text())
    assert pre["range"] == [0, 255] and pre["shape"] == [32, 32, 3]
    with np.load(out / "golden.npz", allow_pickle=False) as g:
        assert g["image"].shape == (info["golden_samples"], 32, 32, 3) and g["labels"].shape == (16,)
        assert g["image"].max() > 100  # raw pixels, not rescaled
    # Augmentation is training-only: the saved model holds no Random* layer.
    cfg = json.dumps(json.loads(__import__("zipfile").ZipFile(out / "model.keras").read("config.json")))
    assert "RandomRotation" not in cfg and "Rescaling" in cfg
    assert not [p for p in tmp_path.iterdir() if ".edgekit-tmp-" in p.name]

    conv = convert(out, None, ConvertOptions(formats="tflite-float32,tflite-int8,onnx"))
    assert conv.out == out / "artifacts" and conv.all_ok
    m = conv.manifest
    assert m.golden["samples"] == 16 and m.golden["labels"] and m.labels == ["q0", "q1", "q2", "q3"]
    assert m.preprocessing["range"] == [0, 255] and m.calibration["samples"] == 16
    rep = _validate(conv.out)
    assert rep["summary"]["fail"] == 0 and rep["summary"]["error"] == 0, rep["summary"]
    rows = {r["artifact"]: r for r in rep["results"] if r["runtime"] in ("litert", "onnxruntime")}
    assert rows["tflite-float32"]["status"] == "pass"
    acc = rows["tflite-float32"]["accuracy"]
    assert acc["source"] == pytest.approx(res.metrics["holdout_accuracy"], abs=1e-6)
    assert abs(acc["delta"]) < 1e-9
    assert rows["tflite-int8"]["accuracy"] is not None and rows["onnx"]["status"] == "pass"


def test_sequence_recipe_converts_without_flex(tmp_path):
    out = tmp_path / "seq"
    res = train("digit-rows-lstm", TrainOptions(out=out, overrides=["train.epochs=3", "data.calibration_samples=64"]))
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab[:2] == ["<pad>", "<unk>"] and 10 < len(vocab) <= 258  # 8-bit row patterns
    assert res.metrics["holdout_accuracy"] > 0.3  # 3 epochs already beat chance (0.1) by far
    # convert reads the model.keras path too, not only the folder; --out given explicitly.
    conv = convert(out / "model.keras", tmp_path / "art", ConvertOptions(formats="tflite"))
    assert conv.all_ok, [(a.id, a.reason) for a in conv.manifest.artifacts]
    for a in conv.manifest.artifacts:
        assert not a.requires_flex, a.id
    assert conv.manifest.golden["samples"] == res.metrics["holdout_samples"] > 250  # the whole hold-out
    rep = _validate(conv.out)
    rows = {r["artifact"]: r for r in rep["results"]}
    assert rep["summary"]["fail"] == 0 and rep["summary"]["error"] == 0, rep["summary"]
    for aid in ("tflite-dynamic", "tflite-int8"):
        assert rows[aid]["status"] == "pass"
        assert rows[aid]["accuracy"]["delta"] >= -0.02  # the recipe's own target: within 2 points of float


def test_forecast_recipe_on_csv(tmp_path):
    t = np.arange(160)
    series = 50 + 40 * np.sin(t * 2 * np.pi / 11) + np.random.default_rng(0).normal(0, 2, len(t))
    csv = tmp_path / "series.csv"
    csv.write_text("step,value\n" + "\n".join(f"{i},{v:.3f}" for i, v in zip(t, series, strict=True)) + "\n")
    out = tmp_path / "fc"
    res = runner.invoke(app, ["train", "sunspots-forecaster", "--data", str(csv), "--out", str(out), "-q",
                              "--set", "train.epochs=3", "--set", "data.window=12"])
    assert res.exit_code == 0, res.output
    assert f"next: edgekit convert {out}" in res.output
    info = json.loads((out / "train.json").read_text())
    norm = json.loads((out / "preprocessing.json").read_text())["normalization"]
    # Statistics from the training period only, and they are the series' scale, not 0/1.
    assert 40 < norm["mean"] < 60 and 20 < norm["std"] < 40
    assert info["data"]["windows"] == 160 - 12 and info["metrics"]["holdout_mae"] > 0
    assert np.load(out / "golden_targets.npy").shape == (info["golden_samples"], 1)
    res = runner.invoke(app, ["convert", str(out), "--formats", "tflite-float32,tflite-dynamic", "-q"])
    assert res.exit_code == 0, res.output
    rep = _validate(out / "artifacts")
    assert rep["summary"]["pass"] == 2, [r["reason"] for r in rep["results"]]


def test_bad_image_data(tmp_path, image_folder):
    def run(data: Path, *extra: str):
        return runner.invoke(app, ["train", "image-classifier", "--data", str(data), "--out", str(tmp_path / "o"),
                                   *sum((["--set", s] for s in _tiny_image_overrides()), []), *extra])

    def bad(res, fragment: str) -> None:
        assert res.output.count("\n") == 1, res.output
        assert_bad_input(res, fragment)
        assert not (tmp_path / "o").exists()
        assert not [p for p in tmp_path.iterdir() if ".edgekit-tmp-" in p.name]

    bad(run(tmp_path / "nowhere"), "does not exist")
    (tmp_path / "empty").mkdir()
    bad(run(tmp_path / "empty"), "no class sub-folders with images")
    one = tmp_path / "one"
    (one / "cats").mkdir(parents=True)
    _write_png(one / "cats" / "a.png", np.zeros((8, 8, 3)))
    bad(run(one), "a single class ('cats')")
    junk = tmp_path / "junk"
    for c in ("a", "b"):
        (junk / c).mkdir(parents=True)
        (junk / c / "x.jpg").write_bytes(b"not an image")
    bad(run(junk), "2 of 2 images cannot be decoded")


def test_imagenet_weights_offline_is_a_clear_error(tmp_path, monkeypatch):
    import keras

    def offline(*_a, **_k):
        # What keras.utils.get_file raises with no network (urllib's URLError wrapped by Keras).
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.mobilenet_v2.file_utils.get_file", offline)
    res = runner.invoke(app, ["train", "digits", "--set", "model.weights=imagenet", "--set", "model.input_size=96",
                              "--out", str(tmp_path / "o")])
    assert res.output.count("\n") == 1, res.output
    assert_bad_input(res, "ImageNet weights", "Offline alternatives", 'model.weights = "none"', "~/.keras/models")
    assert not (tmp_path / "o").exists()
    # A size ImageNet weights do not exist for is refused before any download.
    res = runner.invoke(app, ["train", "digits", "--set", "model.weights=imagenet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "input_size in (96, 128, 160, 192, 224)" in res.output, res.output


def test_local_weights_file(tmp_path, image_folder):
    import keras

    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    wfile = tmp_path / "base.weights.h5"
    base.save_weights(wfile)
    out = tmp_path / "w"
    overrides = [o for o in _tiny_image_overrides() if not o.startswith("model.weights")]
    res = train("image-classifier", TrainOptions(out=out, data=str(image_folder), overrides=overrides + [
        f"model.weights=\"{wfile}\"", "train.epochs=1", "train.fine_tune_layers=10", "train.fine_tune_epochs=1"]))
    # Pretrained path: phase one on a frozen base, then phase two on the top 10 layers.
    assert res.metrics["phase_two"] is True and res.metrics["epochs_run"] == 2
    model = keras.saving.load_model(out / "model.keras")
    inner = next(layer for layer in model.layers if layer.name.startswith("mobilenetv2"))
    first_conv = inner.get_layer("Conv1")
    np.testing.assert_array_equal(first_conv.get_weights()[0], base.get_layer("Conv1").get_weights()[0])


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    code = (
        "import tensorflow as tf, json, sys\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from edgekit.train import TrainOptions, train\n"
        f"r = train('sunspots-forecaster', TrainOptions(out={str(tmp_path / 'm')!r}, strategy='mirrored', "
        "overrides=['train.epochs=2']))\n"
        "print('RESULT=' + json.dumps(r.info['strategy']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("RESULT="))
    assert json.loads(line[7:]) == {"name": "mirrored", "replicas": 2}
    assert (tmp_path / "m" / "model.keras").is_file()
