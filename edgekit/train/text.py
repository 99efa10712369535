"""Recipe 4: text classifier as the Keras guides build it: raw strings in, TextVectorization inside the model.

Graph: ``text`` [None, 1] string -> TextVectorization (standardize, whitespace split, vocabulary adapted on the
training split only, int ids padded/cut to ``sequence_length``) -> Embedding -> Bidirectional LSTM -> Dropout
-> softmax. ``edgekit convert`` splits the model at the TextVectorization layer: the layer becomes
``tokenizer.json`` (run by the app: Python, JavaScript, Kotlin, Swift) and the numeric rest becomes the
artifacts (docs/text.md).

The numeric layers are trained on ids tokenized once (the same layer objects then form the string model, so
the saved model is flat: string input, the vectorizer, the numeric layers). No ``mask_zero``: padding id 0
is an ordinary embedding row, which keeps the LSTM convertible without masking ops.

Data: ``builtin:stdlib-docs`` (edgekit.train.corpus: Python standard-library docstrings by topic) or a CSV
with columns ``text,label``. The golden set and the calibration set are the raw strings ([N, 1] unicode
arrays), the hold-out never trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.train import datasets
from edgekit.train.engine import Clock, TrainOptions, callbacks, merge_history, seed_everything, write_common
from edgekit.train.recipe import Recipe

INPUT_NAME = "text"


def _load(recipe: Recipe) -> tuple[list[str], np.ndarray, list[str], str]:
    src = recipe.data["source"]
    if src == "builtin:stdlib-docs":
        from edgekit.train.corpus import stdlib_docs

        per_class = int(recipe.data["per_class"])
        texts, labels, names = stdlib_docs(per_class, recipe.seed)
        return texts, labels, names, (f"Python standard-library docstrings, one sentence per sample, labelled by "
                                      f"the topic of their module ({per_class} per class)")
    if src.startswith("builtin:"):
        raise InputError(f"data.source {src!r} is not a built-in text set; use builtin:stdlib-docs or a CSV file "
                         "with columns text,label")
    path = recipe.resolve_path(src)
    texts, labels, names = datasets.read_text_csv(path)
    return texts, labels, names, str(path)


def build_layers(texts: list[str], d: dict[str, Any], m: dict[str, Any], classes: int) -> tuple[Any, list[Any]]:
    """(the TextVectorization layer adapted on ``texts``, the numeric layers in order)."""
    import keras

    standardize = None if d["standardize"] == "none" else d["standardize"]
    vec = keras.layers.TextVectorization(max_tokens=int(d["max_tokens"]), standardize=standardize,
                                         split="whitespace", output_mode="int",
                                         output_sequence_length=int(d["sequence_length"]), name="vectorize")
    vec.adapt(np.asarray(texts, dtype=str))
    numeric = [
        keras.layers.Embedding(vec.vocabulary_size(), int(m["embedding_dim"]), name="embed"),
        keras.layers.Bidirectional(keras.layers.LSTM(int(m["units"])), name="bilstm"),
        keras.layers.Dropout(float(m["dropout"]), name="dropout"),
        keras.layers.Dense(classes, activation="softmax", name="scores"),
    ]
    return vec, numeric


def _chain(x: Any, layers: list[Any]) -> Any:
    for layer in layers:
        x = layer(x)
    return x


def build_models(vec: Any, numeric: list[Any], length: int) -> tuple[Any, Any]:
    """(the model trained on ids, the string model that is saved); they share every numeric layer."""
    import keras

    ids = keras.Input((length,), dtype="int64", name="ids")
    text = keras.Input((1,), dtype="string", name=INPUT_NAME)
    return keras.Model(ids, _chain(ids, numeric), name="text_ids"), keras.Model(
        text, _chain(vec(text), numeric), name="text_classifier")


def _fit(model: Any, data: tuple[np.ndarray, np.ndarray], tr: np.ndarray, va: np.ndarray, t: dict[str, Any],
         opts: TrainOptions, work: Path) -> Any:
    x, y = data
    work.mkdir()
    val = (x[va], y[va]) if len(va) else None
    cbs = callbacks(t, work, val is not None, opts.log)
    return model.fit(x[tr], y[tr], validation_data=val, epochs=int(t["epochs"]), batch_size=int(t["batch_size"]),
                     shuffle=True, verbose=opts.verbose, callbacks=cbs)


def train_text(recipe: Recipe, opts: TrainOptions, strategy: Any, staging: Path, clock: Clock) -> dict[str, Any]:
    import keras

    log = opts.log or (lambda _s: None)
    d, t = recipe.data, recipe.train
    texts, labels, names, source_desc = _load(recipe)
    rest, held = datasets.stratified_split(labels, float(d["holdout"]), recipe.seed, "golden")
    seed_everything(recipe.seed)
    tr, va = datasets.stratified_split(labels[rest], float(t["validation_split"]), recipe.seed + 2, "validation") \
        if t["validation_split"] > 0 else (np.arange(len(rest)), np.array([], dtype=np.int64))
    tr, va = rest[tr], rest[va]
    raw = np.asarray(texts, dtype=str)[:, None]  # [N, 1] unicode: what the saved model takes
    with strategy.scope():
        vec, numeric = build_layers([texts[i] for i in tr], d, recipe.model, len(names))
        trainable, model = build_models(vec, numeric, int(d["sequence_length"]))
        trainable.compile(keras.optimizers.Adam(float(t["learning_rate"])), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
    ids = np.asarray(vec(raw)).astype(np.int64)
    clock.mark("tokenize")
    log(f"training {model.name}: {len(tr)} sentences ({len(names)} classes, vocabulary {vec.vocabulary_size()}), "
        f"hold-out {len(held)}")
    hist = _fit(trainable, (ids, labels), tr, va, t, opts, staging / "_work")
    clock.mark("fit")
    # Accuracy of the saved string model itself on the raw hold-out strings.
    acc = float((np.asarray(model(raw[held], training=False)).argmax(1) == labels[held]).mean())
    counts = np.bincount(labels, minlength=len(names))
    calib = np.sort(np.random.default_rng(recipe.seed + 1).permutation(tr)[:int(d["calibration_samples"])])
    history = merge_history(hist)
    preprocessing = {
        "input": INPUT_NAME, "shape": [1], "dtype": "string",
        "text": "raw text, one string per sample; the model's TextVectorization layer tokenizes it "
                "(edgekit convert turns it into tokenizer.json: docs/text.md)",
        "output": "softmax scores, one per label in labels.txt",
    }
    info = {
        "metrics": {"holdout_accuracy": round(acc, 4), "holdout_samples": int(len(held)),
                    "chance_accuracy": round(float(counts.max() / counts.sum()), 4),
                    "epochs_run": len(history.get("loss", []))},
        "data": {"source": source_desc, "classes": names, "samples": len(texts),
                 "per_class": [int(c) for c in counts], "train": int(len(tr)), "validation": int(len(va)),
                 "golden": int(len(held)), "calibration": int(len(calib)), "vocabulary": int(vec.vocabulary_size())},
        "model": {"family": "TextVectorization+Embedding+BiLSTM", "units": recipe.model["units"],
                  "params": int(model.count_params())},
        "history": history,
    }
    return write_common(staging, recipe, model, {INPUT_NAME: raw[calib]},
                        {INPUT_NAME: raw[held], "labels": labels[held]}, names, preprocessing, info)
