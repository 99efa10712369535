"""Recipe 2: sequence classifier, a small LSTM over token ids.

Tokenisation happens outside the graph (TextVectorization does not convert to TFLite): text is split into
words (or characters), mapped through a vocabulary built from the training split only, and padded or cut
to a static ``sequence_length``. The vocabulary ships as ``vocab.json`` next to the model and
``preprocessing.json`` says how to apply it; :func:`encode` is the reference implementation.

Graph: int32 token ids [1, L] -> Embedding -> LSTM -> Dropout -> softmax. No masking (``mask_zero`` would
stop TFLite from fusing the LSTM), static shapes, so conversion gets builtin ops and no Flex.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.train import datasets
from edgekit.train.engine import Clock, TrainOptions, callbacks, merge_history, seed_everything, write_common
from edgekit.train.recipe import Recipe

INPUT_NAME = "tokens"
PAD, OOV = 0, 1
VOCAB_FILE = "vocab.json"


def tokenize(text: str, tokenizer: str, lowercase: bool) -> list[str]:
    if lowercase:
        text = text.lower()
    return list(text) if tokenizer == "chars" else text.split()


def build_vocab(texts: list[str], tokenizer: str, lowercase: bool, max_vocab: int) -> list[str]:
    """['<pad>', '<unk>', most frequent tokens...]; ties broken alphabetically so it is deterministic."""
    counts = Counter(t for s in texts for t in tokenize(s, tokenizer, lowercase))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_vocab - 2]
    return ["<pad>", "<unk>"] + [t for t, _ in ranked]


def encode(texts: list[str], vocab: list[str], tokenizer: str, lowercase: bool, length: int) -> np.ndarray:
    """Token ids [N, length], int32: unknown -> 1, padded with 0 at the end, cut at ``length``."""
    index = {t: i for i, t in enumerate(vocab)}
    out = np.full((len(texts), length), PAD, dtype=np.int32)
    for i, s in enumerate(texts):
        ids = [index.get(t, OOV) for t in tokenize(s, tokenizer, lowercase)][:length]
        out[i, :len(ids)] = ids
    return out


def _load(recipe: Recipe) -> tuple[list[str], np.ndarray, list[str], str]:
    src = recipe.data["source"]
    if src == "builtin:digit-rows":
        texts, labels, names = datasets.digit_row_sentences()
        return texts, labels, names, "scikit-learn digits as 8-word sentences (one binarised pixel row per word)"
    if src.startswith("builtin:"):
        raise InputError(f"data.source {src!r} is not a built-in text set; use builtin:digit-rows or a CSV file")
    path = recipe.resolve_path(src)
    texts, labels, names = datasets.read_text_csv(path)
    return texts, labels, names, str(path)


def build_model(vocab_size: int, length: int, classes: int, m: dict[str, Any]) -> Any:
    import keras

    inp = keras.Input((length,), dtype="int32", name=INPUT_NAME)
    h = keras.layers.Embedding(vocab_size, int(m["embedding_dim"]), name="embed")(inp)
    h = keras.layers.LSTM(int(m["units"]), name="lstm")(h)
    h = keras.layers.Dropout(float(m["dropout"]), name="dropout")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="scores")(h)
    return keras.Model(inp, out, name="lstm_classifier")


def train_sequence(recipe: Recipe, opts: TrainOptions, strategy: Any, staging: Path, clock: Clock) -> dict[str, Any]:
    import keras

    log = opts.log or (lambda _s: None)
    d, t = recipe.data, recipe.train
    texts, labels, names, source_desc = _load(recipe)
    rest, held = datasets.stratified_split(labels, float(d["holdout"]), recipe.seed, "golden")
    vocab = build_vocab([texts[i] for i in rest], d["tokenizer"], d["lowercase"], int(d["max_vocab"]))
    x = encode(texts, vocab, d["tokenizer"], d["lowercase"], int(d["sequence_length"]))
    clock.mark("tokenize")
    seed_everything(recipe.seed)
    tr, va = datasets.stratified_split(labels[rest], float(t["validation_split"]), recipe.seed + 2, "validation") \
        if t["validation_split"] > 0 else (np.arange(len(rest)), np.array([], dtype=np.int64))
    tr, va = rest[tr], rest[va]
    with strategy.scope():
        model = build_model(len(vocab), int(d["sequence_length"]), len(names), recipe.model)
        model.compile(keras.optimizers.Adam(float(t["learning_rate"])), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    clock.mark("build")
    log(f"training {model.name}: {len(tr)} sequences ({len(names)} classes, vocabulary {len(vocab)}), "
        f"hold-out {len(held)}")
    work = staging / "_work"
    work.mkdir()
    val = (x[va], labels[va]) if len(va) else None
    hist = model.fit(x[tr], labels[tr], validation_data=val, epochs=int(t["epochs"]), batch_size=int(t["batch_size"]),
                     shuffle=True, verbose=opts.verbose, callbacks=callbacks(t, work, val is not None, opts.log))
    clock.mark("fit")
    acc = float((model.predict(x[held], batch_size=256, verbose=0).argmax(1) == labels[held]).mean())
    calib = np.sort(np.random.default_rng(recipe.seed + 1).permutation(rest)[:int(d["calibration_samples"])])
    (staging / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    history = merge_history(hist)
    preprocessing = {
        "input": INPUT_NAME, "shape": [int(d["sequence_length"])], "dtype": "int32",
        "tokenizer": d["tokenizer"], "lowercase": d["lowercase"], "vocabulary": VOCAB_FILE,
        "pad_id": PAD, "oov_id": OOV, "padding": "post", "truncation": "post",
        "how": "tokens = text.lower().split() (or list(text) for chars); id = vocab.index(token) else 1; "
               "cut to sequence_length, pad with 0 at the end",
        "reference": "edgekit.train.sequence.encode",
        "output": "softmax scores, one per label in labels.txt",
    }
    info = {
        "metrics": {"holdout_accuracy": round(acc, 4), "holdout_samples": int(len(held)),
                    "epochs_run": len(history.get("loss", []))},
        "data": {"source": source_desc, "classes": names, "samples": len(texts), "train": int(len(tr)),
                 "validation": int(len(va)), "golden": int(len(held)), "calibration": int(len(calib)),
                 "vocabulary": len(vocab)},
        "model": {"family": "Embedding+LSTM", "units": recipe.model["units"], "params": int(model.count_params())},
        "files_extra": {"vocabulary": VOCAB_FILE},
        "history": history,
    }
    return write_common(staging, recipe, model, {INPUT_NAME: x[calib]}, {INPUT_NAME: x[held], "labels": labels[held]},
                        names, preprocessing, info)
