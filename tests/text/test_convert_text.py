"""A text model end to end: convert splits it (tokenizer.json + numeric artifacts), validate proves both halves
against the whole Keras model on raw strings. Small models, each converted once per module."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.manifest import load as load_manifest
from edgekit.text.spec import read_spec, read_test_vectors
from edgekit.text.tokenize import tokenize
from tests.helpers import assert_bad_input

POSITIVE = ["a great movie, I loved it", "wonderful acting and a great story", "loved every minute!",
            "brilliant, moving, great", "what a wonderful film", "I loved the music"]
NEGATIVE = ["a boring movie, I hated it", "terrible acting and a dull story", "hated every minute!",
            "awful, slow, boring", "what a terrible film", "I hated the music"]
HOSTILE = ["", "   ", "GREAT!!!", "great\tmovie\x0bloved\x0cok", "great\u00a0movie", "ÉCOLE élève", "猫が好き 🙂🎉",
           "zzzz unknown words", "don't, won't; can't.", "I LOVED it, truly wonderful", "a dull, boring film",
           "loved loved loved loved loved loved loved loved loved loved loved"]
FAST = ["--runs", "3", "--warmup", "1", "--min-time", "0", "--max-time", "1", "--warmup-min-time", "0",
        "--threads", "1"]


def _train(model, texts, labels):
    import tensorflow as tf

    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant([[t] for t in texts]), np.array(labels, np.float32), epochs=30, verbose=0)
    return model


def _sentiment(path, **tv_kwargs):
    """TextVectorization -> Embedding -> pooled -> sigmoid, trained a little (untrained parity proves nothing)."""
    import keras

    keras.utils.set_random_seed(3)
    tv = keras.layers.TextVectorization(max_tokens=64, **tv_kwargs)
    tv.adapt(POSITIVE + NEGATIVE)
    inp = keras.Input(shape=(1,), dtype="string", name="text")
    x = keras.layers.Embedding(64, 8)(tv(inp))
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = _train(keras.Model(inp, out), POSITIVE + NEGATIVE, [1] * 6 + [0] * 6)
    model.save(path)
    return path


def _lookup_model(path):
    """StringLookup -> Embedding -> Flatten -> softmax over 3 classes."""
    import keras

    keras.utils.set_random_seed(4)
    inp = keras.Input(shape=(1,), dtype="string", name="word")
    x = keras.layers.StringLookup(vocabulary=["cat", "dog", "bird", "École", "猫"])(inp)
    x = keras.layers.Flatten()(keras.layers.Embedding(7, 4)(x))
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    import tensorflow as tf

    model.fit(tf.constant([["cat"], ["dog"], ["bird"], ["École"], ["猫"], ["x"]]), np.array([0, 1, 2, 0, 1, 2]),
              epochs=30, verbose=0)
    model.save(path)
    return path


@pytest.fixture
def python_engine_only(monkeypatch):
    """The JavaScript engines (Node, Chromium) have their own tests (tests/web/test_tokenizer_js.py): skipped
    here to keep these tests quick, except in test_validate_proves_both_halves."""
    from edgekit.text import parity

    monkeypatch.setattr(parity, "PLUGINS", [])
    monkeypatch.setattr(parity, "ENGINES", [e for e in parity.ENGINES if e.name == "python"])


@pytest.fixture(scope="module")
def text_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("text_data")
    (d / "golden.txt").write_text("\n".join(HOSTILE + POSITIVE[:2] + NEGATIVE[:2]) + "\n", encoding="utf-8")
    rows = [f'"{t}",{lab}' for t, lab in zip(POSITIVE + NEGATIVE, [1] * 6 + [0] * 6, strict=True)]
    (d / "calibration.csv").write_text("text,label\n" + "\n".join(rows * 3) + "\n", encoding="utf-8")
    return d


def _convert(model, out, data, formats, **kw):
    from edgekit.convert import ConvertOptions, convert

    return convert(model, out, ConvertOptions(formats=formats, golden=str(data / "golden.txt"),
                                              calibration=str(data / "calibration.csv"), **kw))


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, text_data):
    d = tmp_path_factory.mktemp("sentiment")
    model = _sentiment(d / "model.keras", output_sequence_length=10)
    return model, _convert(model, d / "out", text_data, "tflite-float32,tflite-int8,onnx").out


def test_convert_splits_the_model(sentiment):
    import keras

    model_path, out = sentiment
    m = load_manifest(out)
    assert [(t.name, t.shape, t.dtype) for t in m.inputs] == [("token_ids", [None, 10], "int32")]
    assert m.text["mode"] == "split" and m.text["artifacts_take"] == "token_ids"
    assert m.text["inputs"] == [{"name": "text", "shape": [None, 1], "dtype": "string"}]
    assert set(m.text["sha256"]) == {"tokenizer.json", "tokenizer_test_vectors.json", "golden_strings.npz"}
    assert {a.id: a.status for a in m.artifacts} == {"tflite-float32": "ok",
                                                     "tflite-int8": "ok", "onnx": "ok"}
    spec = read_spec(out / "tokenizer.json")
    layer = keras.saving.load_model(model_path).layers[1]
    assert spec.vocabulary == layer.get_vocabulary() and spec.output_sequence_length == 10
    vectors = read_test_vectors(out / "tokenizer_test_vectors.json")
    assert [c.input for c in vectors.cases][:len(HOSTILE)] == HOSTILE
    assert [c.expected for c in vectors.cases] == tokenize(spec, [c.input for c in vectors.cases]).tolist()
    assert not any(a.requires_flex for a in m.artifacts)


def test_validate_proves_both_halves(sentiment):
    from typer.testing import CliRunner

    from edgekit.cli import app

    _, out = sentiment
    res = CliRunner().invoke(app, ["validate", str(out), *FAST])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report" / "report.json").read_text())
    rows = {(r["artifact"], r["runtime"]): r for r in report["results"]}
    tok = rows[("tokenizer", "python")]
    assert tok["status"] == "pass" and tok["parity"]["mismatches"] == 0 and tok["parity"]["samples"] == 16
    for art in ("tflite-float32", "onnx"):
        row = next(r for (a, _), r in rows.items() if a == art)
        assert row["status"] == "pass" and row["parity"]["outputs"]["output_0"]["max_abs"] < 1e-5, row
    int8 = next(r for (a, _), r in rows.items() if a == "tflite-int8")
    assert int8["status"] == "pass" and int8["parity"]["outputs"]["output_0"]["max_abs"] < 0.05


def test_a_wrong_tokenizer_fails_validate(sentiment, tmp_path, monkeypatch, python_engine_only):
    """An error in the tokenizer half fails: the artifacts are judged on the full model's outputs."""
    from edgekit.text import tokenize as tk
    from edgekit.validate import ValidateOptions, validate

    _, out = sentiment
    real = tk.tokenize
    monkeypatch.setattr(tk, "standardize", lambda spec, text: text)  # forgets lowercasing and punctuation
    report = validate(out, ValidateOptions(artifacts=["tflite-float32"], report_dir=tmp_path / "r", threads=1))
    statuses = {(r["artifact"], r["status"]) for r in report["results"]}
    assert ("tokenizer", "fail") in statuses and ("tflite-float32", "fail") in statuses
    assert tk.tokenize is real


@pytest.mark.parametrize("kind", ["ngrams_no_standardize", "string_lookup"])
def test_other_text_models_convert_and_pass(kind, tmp_path, text_data, python_engine_only):
    from edgekit.validate import ValidateOptions, validate

    if kind == "string_lookup":
        model = _lookup_model(tmp_path / "m.keras")
        (text_data / "words.txt").write_text("cat\ndog\nbird\nÉcole\n猫\nCAT\n\nzebra\n", encoding="utf-8")
        opts = {"golden": str(text_data / "words.txt"), "calibration": None}
    else:
        model = _sentiment(tmp_path / "m.keras", output_sequence_length=12, ngrams=2, standardize=None)
        opts = {}
    from edgekit.convert import ConvertOptions, convert

    base = {"formats": "tflite-float32", "golden": str(text_data / "golden.txt")}
    out = convert(model, tmp_path / "out", ConvertOptions(**{**base, **opts})).out
    spec = read_spec(out / "tokenizer.json")
    assert spec.kind == ("string_lookup" if kind == "string_lookup" else "text_vectorization")
    report = validate(out, ValidateOptions(report_dir=tmp_path / "r", threads=1))
    assert {r["status"] for r in report["results"]} == {"pass"}, report["results"]
    assert {r["artifact"] for r in report["results"]} == {"tokenizer", "tflite-float32"}


def test_string_model_without_data_is_one_line(sentiment, tmp_path):
    from typer.testing import CliRunner

    from edgekit.cli import app

    model_path, _ = sentiment
    res = CliRunner().invoke(app, ["convert", str(model_path), "--out", str(tmp_path / "o"), "--formats",
                                   "tflite-float32"])
    assert_bad_input(res, "input 'text' takes strings", "--golden")
    assert not (tmp_path / "o").exists()


def test_convert_summary_says_the_model_was_split(sentiment, capsys):
    from edgekit.console import print_convert_summary
    from edgekit.convert import ConvertResult

    _, out = sentiment
    print_convert_summary(ConvertResult(out=out, manifest=load_manifest(out), seconds=1.0))
    text = " ".join(capsys.readouterr().out.split())
    assert "text model split: tokenizer.json (text_vectorization) tokenizes in the app" in text
    assert "the artifacts take token_ids (int32 [None, 10])" in text


def test_strings_flex_keeps_the_whole_model(sentiment, text_data, tmp_path):
    from edgekit.convert import ConvertOptions, convert

    model_path, _ = sentiment
    res = convert(model_path, tmp_path / "flex", ConvertOptions(formats="tflite-float32", strings="flex",
                                                                 golden=str(text_data / "golden.txt")))
    m = res.manifest
    art = m.artifact("tflite-float32")
    assert art.ok and art.requires_flex, art
    assert [(t.name, t.dtype) for t in m.inputs] == [("text", "string")]
    assert m.text == {"mode": "flex", "kind": None, "tokenizer": None, "test_vectors": None, "golden_strings": None,
                      "inputs": [{"name": "text", "shape": [None, 1], "dtype": "string"}], "artifacts_take": None,
                      "sha256": {}}
    assert not (tmp_path / "flex" / "tokenizer.json").exists()
    # validate reads string golden inputs (it refused them: "has dtype <U65; expected numbers (string)"); LiteRT
    # has no Flex delegate, so its row is an error that says so
    from edgekit.validate import ValidateOptions, validate

    report = validate(res.out, ValidateOptions(report_dir=tmp_path / "r", threads=1))
    [row] = report["results"]
    assert (row["runtime"], row["status"]) == ("litert", "error") and "Flex delegate" in row["reason"]


def test_a_modified_tokenizer_is_refused_by_validate(sentiment, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from edgekit.cli import app

    _, out = sentiment
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("report"))
    spec = copy / "tokenizer.json"
    spec.write_text(spec.read_text().replace('"[UNK]"', '"[OOV]"'))
    res = CliRunner().invoke(app, ["validate", str(copy), *FAST])
    assert_bad_input(res, "tokenizer 'tokenizer.json' does not match its sha256")
