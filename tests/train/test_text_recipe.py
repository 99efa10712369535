"""`edgekit train text-classifier`: the offline corpus, the recipe's checks, and a short real training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from edgekit.train.corpus import TOPICS, stdlib_docs
from edgekit.train.recipe import load_recipe
from tests.helpers import assert_bad_input

# Three epochs on 200 sentences per class (the test's settings) reach ~0.6 on the hold-out; chance is 0.2.
ACCURACY_FLOOR = 0.45


def test_corpus_is_offline_balanced_and_deterministic():
    texts, labels, names = stdlib_docs(400, seed=0)
    assert names == sorted(TOPICS) and len(texts) == 2000
    assert np.bincount(labels).tolist() == [400] * 5
    assert stdlib_docs(400, seed=0)[0] == texts  # the same corpus on a re-run
    by_text: dict[str, set[int]] = {}
    for t, y in zip(texts, labels, strict=True):
        by_text.setdefault(t, set()).add(int(y))
        assert 5 <= len(t.split()) <= 40
    assert all(len(v) == 1 for v in by_text.values())  # no sentence under two topics
    assert len(by_text) == len(texts)


def test_recipe_defaults_and_bad_values(tmp_path):
    r = load_recipe("text-classifier")
    assert (r.task, r.data["source"], r.data["sequence_length"], r.data["standardize"]) == (
        "text_classifier", "builtin:stdlib-docs", 32, "lower_and_strip_punctuation")
    res = CliRunner().invoke(app, ["train", "text-classifier", "--set", "data.standardize=upper", "--out",
                                   str(tmp_path / "o")])
    assert_bad_input(res, "data.standardize = 'upper'", "lower_and_strip_punctuation")
    assert not (tmp_path / "o").exists()


def test_text_recipe_trains_a_string_model(text_recipe):
    import keras

    info = json.loads((text_recipe / "train.json").read_text())
    assert info["task"] == "text_classifier" and info["data"]["per_class"] == [200] * 5
    assert info["metrics"]["holdout_accuracy"] >= ACCURACY_FLOOR > info["metrics"]["chance_accuracy"]
    golden = np.load(text_recipe / "golden.npz")  # raw strings, no pickle
    text, labels = golden["text"], golden["labels"]
    assert text.dtype.kind == "U" and text.shape == (150, 1) and np.bincount(labels).tolist() == [30] * 5
    calib = np.load(text_recipe / "calibration.npz")["text"]
    assert calib.dtype.kind == "U" and calib.shape[1] == 1
    assert not set(calib[:, 0]) & set(text[:, 0])  # calibration comes from the training split only
    model = keras.saving.load_model(text_recipe / "model.keras")
    assert model.inputs[0].dtype == "string" and type(model.layers[1]).__name__ == "TextVectorization"
    # model.predict() refuses numpy unicode arrays in Keras 3.15 ("Invalid dtype: str9152"); a call takes them.
    acc = float((np.asarray(model(text, training=False)).argmax(1) == labels).mean())
    assert acc == pytest.approx(info["metrics"]["holdout_accuracy"], abs=1e-4)
    assert (text_recipe / "labels.txt").read_text().split() == sorted(TOPICS)
