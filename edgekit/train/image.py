"""Recipe 1: image classifier by MobileNetV2 transfer learning.

Exported graph: raw 0..255 RGB pixels -> Rescaling to [-1, 1] (what MobileNetV2 expects) -> base -> global
average pooling -> dropout -> softmax. Augmentation runs in the tf.data pipeline, so it is never part of
the exported model.

Weights:
  * ``imagenet``: the base is pretrained and frozen (phase one trains the head only); phase two optionally
    unfreezes the top ``fine_tune_layers`` layers at ``fine_tune_learning_rate`` (~100x lower). The base is
    called with ``training=False``, so BatchNorm stays in inference mode in both phases.
  * a local weights file: the same, from a file (e.g. the Keras ImageNet file copied from an online machine).
  * ``none``: there is nothing pretrained to freeze, so the whole network trains from scratch with
    BatchNorm in training mode (momentum ``bn_momentum``); the fine-tune phase does not apply.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.train import datasets
from edgekit.train.engine import Clock, TrainOptions, callbacks, merge_history, seed_everything, write_common
from edgekit.train.recipe import Recipe

INPUT_NAME = "image"
IMAGENET_SIZES = (96, 128, 160, 192, 224)


def _resolve_source(recipe: Recipe) -> tuple[Path, str]:
    src = recipe.data["source"]
    if src == "builtin:digits":
        size = int(recipe.model["input_size"])
        return datasets.render_digits(size), "scikit-learn digits (1,797 8x8 images rendered to PNG)"
    if src.startswith("builtin:"):
        raise InputError(f"data.source {src!r} is not a built-in image set; use builtin:digits or a folder")
    path = recipe.resolve_path(src)
    return path, str(path)


def _weights_arg(recipe: Recipe) -> tuple[str | None, str]:
    """(keras weights argument, description)."""
    w = recipe.model["weights"]
    if w == "none":
        return None, "none (trained from scratch)"
    if w == "imagenet":
        size, alpha = int(recipe.model["input_size"]), float(recipe.model["alpha"])
        if size not in IMAGENET_SIZES:
            raise InputError(f"model.weights = \"imagenet\" exists only for input_size in {IMAGENET_SIZES}; got "
                             f"{size}. Choose one of those sizes, or model.weights = \"none\"")
        del alpha
        return "imagenet", "imagenet"
    path = recipe.resolve_path(w)
    if not path.is_file():
        raise InputError(f"model.weights = {w!r}: no such file; give \"imagenet\", \"none\" or a path to a "
                         "MobileNetV2 base weights file (include_top=False) such as the Keras .h5 file")
    return str(path), str(path)


def build_base(recipe: Recipe) -> tuple[Any, str]:
    import keras

    weights, desc = _weights_arg(recipe)
    size = int(recipe.model["input_size"])
    try:
        base = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=float(recipe.model["alpha"]),
                                              include_top=False, weights=weights)
    except Exception as e:  # the download error types differ by urllib/requests/keras version
        if weights == "imagenet":
            raise InputError(
                "cannot get the ImageNet weights for MobileNetV2 (download from storage.googleapis.com failed: "
                f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}). Offline alternatives: "
                "model.weights = \"none\" (train the whole network from scratch, e.g. --set model.weights=none) "
                "or model.weights = \"path/to/base.weights.h5\" (a file copied from a machine with internet, "
                "normally under ~/.keras/models/)") from e
        if weights is not None:
            raise InputError(f"model.weights {weights}: cannot load it into MobileNetV2 alpha "
                             f"{recipe.model['alpha']} at {size}x{size} without top ({type(e).__name__}: "
                             f"{str(e).splitlines()[0][:160] if str(e) else ''})") from e
        raise
    return base, desc


def build_model(recipe: Recipe, classes: int, base: Any) -> tuple[Any, bool]:
    """(model, pretrained) around ``base`` (from :func:`build_base`)."""
    import keras

    pretrained = recipe.model["weights"] != "none"
    size = int(recipe.model["input_size"])
    inp = keras.Input((size, size, 3), name=INPUT_NAME)
    h = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="to_mobilenet_range")(inp)
    if pretrained:
        base.trainable = False
        # training=False keeps BatchNorm in inference mode even when the top is unfrozen in phase two.
        h = base(h, training=False)
    else:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(recipe.model["bn_momentum"])
        h = base(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    h = keras.layers.Dropout(float(recipe.model["dropout"]), name="dropout")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="scores")(h)
    return keras.Model(inp, out, name=f"mobilenetv2_{recipe.name}".replace("-", "_")), pretrained


def _augmenter(aug: dict[str, Any], seed: int) -> Any | None:
    import keras

    layers = []
    if aug["flip"]:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if aug["rotate"] > 0:
        layers.append(keras.layers.RandomRotation(aug["rotate"], fill_mode="constant", seed=seed))
    if aug["translate"] > 0:
        layers.append(keras.layers.RandomTranslation(aug["translate"], aug["translate"], fill_mode="constant",
                                                     seed=seed))
    if aug["zoom"] > 0:
        layers.append(keras.layers.RandomZoom(aug["zoom"], fill_mode="constant", seed=seed))
    if aug["contrast"] > 0:
        layers.append(keras.layers.RandomContrast(aug["contrast"], value_range=(0, 255), seed=seed))
    return keras.Sequential(layers, name="augment") if layers else None


def _datasets(folder: datasets.ImageFolder, train_idx: np.ndarray, recipe: Recipe, work: Path) -> tuple[Any, Any]:
    """tf.data train/validation sets through keras' image_dataset_from_directory.

    Only checked, non-hold-out files are linked into a private tree, so corrupt images and golden images
    are never read by the training pipeline.
    """
    import keras
    import tensorflow as tf

    tree = work / "train_images"
    for i in train_idx:
        src = folder.files[int(i)]
        dst = tree / folder.classes[int(folder.labels[i])] / f"{int(i):06d}{src.suffix.lower()}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src.resolve(), dst)
    size = int(recipe.model["input_size"])
    vsplit = float(recipe.train["validation_split"])
    common = dict(labels="inferred", label_mode="int", class_names=folder.classes, image_size=(size, size),
                  batch_size=None, shuffle=True, seed=recipe.seed, interpolation="bilinear")
    if vsplit > 0 and len(train_idx) * vsplit >= 1:
        train_ds, val_ds = keras.utils.image_dataset_from_directory(str(tree), validation_split=vsplit,
                                                                     subset="both", **common)
    else:
        train_ds, val_ds = keras.utils.image_dataset_from_directory(str(tree), **common), None
    batch = int(recipe.train["batch_size"])
    aug = _augmenter(recipe.augment, recipe.seed)
    n = len(train_idx)
    train_ds = train_ds.cache().shuffle(n, seed=recipe.seed, reshuffle_each_iteration=True).batch(batch)
    if aug is not None:
        train_ds = train_ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
    if val_ds is not None:
        val_ds = val_ds.batch(batch).cache().prefetch(tf.data.AUTOTUNE)
    return train_ds, val_ds


def fine_tune(model: Any, base: Any, recipe: Recipe, strategy: Any, data: tuple[Any, Any], work: Path,
              opts: TrainOptions) -> Any:
    """Phase two of transfer learning: unfreeze the base's last layers (BatchNormalization stays frozen)."""
    import keras

    t = recipe.train
    train_ds, val_ds = data
    base.trainable = True
    for layer in base.layers[:-int(t["fine_tune_layers"])]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False  # keep the pretrained statistics and scales
    with strategy.scope():
        model.compile(keras.optimizers.Adam(float(t["fine_tune_learning_rate"])),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(train_ds, validation_data=val_ds, epochs=int(t["fine_tune_epochs"]), verbose=opts.verbose,
                     shuffle=False, callbacks=callbacks(t, work, val_ds is not None, opts.log, phase="fine_tune"))


def image_preprocessing(size: int) -> dict[str, Any]:
    """The preprocessing record of the image recipes (schemas.PreprocessingRecord checks it when written)."""
    return {
        "input": INPUT_NAME, "shape": [size, size, 3], "dtype": "float32", "layout": "NHWC", "channels": "RGB",
        "range": [0, 255], "color": "rgb", "resize": "stretch",
        "resize_method": "bilinear, the whole picture to the input size, no crop (image_dataset_from_directory)",
        "in_model": "Rescaling(1/127.5, offset=-1): raw 0..255 pixels go in; do not normalise in the app",
        "output": "softmax scores, one per label in labels.txt",
    }


def train_image(recipe: Recipe, opts: TrainOptions, strategy: Any, staging: Path, clock: Clock) -> dict[str, Any]:
    import keras

    log = opts.log or (lambda _s: None)
    seed_everything(recipe.seed)
    with strategy.scope():
        # Weights first: a missing download or a bad weights file fails before any data is read.
        base, _ = build_base(recipe)
    root, source_desc = _resolve_source(recipe)
    folder = datasets.scan_image_folder(root, float(recipe.data["max_bad_fraction"]))
    if folder.bad:
        log(f"warning: {len(folder.bad)} unreadable image(s) skipped, e.g. {', '.join(folder.bad[:3])}")
    if folder.mixed_sizes:
        log(f"note: images come in {len(folder.sizes)} sizes; all are resized to "
            f"{recipe.model['input_size']}x{recipe.model['input_size']} (bilinear)")
    rest, held = datasets.stratified_split(folder.labels, float(recipe.data["holdout"]), recipe.seed, "golden")
    clock.mark("scan")
    work = staging / "_work"
    work.mkdir()
    with contextlib.redirect_stdout(io.StringIO()):  # keras prints "Found N files..." itself
        train_ds, val_ds = _datasets(folder, rest, recipe, work)
    with strategy.scope():
        model, pretrained = build_model(recipe, len(folder.classes), base)
        model.compile(keras.optimizers.Adam(float(recipe.train["learning_rate"])),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
    clock.mark("build")
    log(f"training {model.name}: {len(rest)} images ({len(folder.classes)} classes), hold-out {len(held)}, "
        f"weights {recipe.model['weights']}, {strategy.num_replicas_in_sync} replica(s)")
    t = recipe.train
    h1 = model.fit(train_ds, validation_data=val_ds, epochs=int(t["epochs"]), verbose=opts.verbose, shuffle=False,
                   callbacks=callbacks(t, work, val_ds is not None, opts.log))
    phase_two = bool(pretrained and t["fine_tune_layers"] > 0 and t["fine_tune_epochs"] > 0)
    h2 = fine_tune(model, base, recipe, strategy, (train_ds, val_ds), work, opts) if phase_two else None
    clock.mark("fit")

    size = int(recipe.model["input_size"])
    golden_x = datasets.load_images([folder.files[int(i)] for i in held], size)
    golden_y = folder.labels[held]
    rng = np.random.default_rng(recipe.seed + 1)
    calib_idx = np.sort(rng.permutation(rest)[:int(recipe.data["calibration_samples"])])
    calib_x = datasets.load_images([folder.files[int(i)] for i in calib_idx], size)
    scores = model.predict(golden_x, batch_size=64, verbose=0)
    acc = float((scores.argmax(1) == golden_y).mean())
    clock.mark("evaluate")
    history = merge_history(h1, h2)
    metrics = {"holdout_accuracy": round(acc, 4), "holdout_samples": int(len(held)),
               "epochs_run": len(history.get("loss", [])), "phase_two": phase_two,
               "final_val_accuracy": (history.get("val_accuracy") or [None])[-1]}
    info = {
        "metrics": metrics,
        "data": {"source": source_desc, "classes": folder.classes, "images": len(folder.files),
                 "unreadable": len(folder.bad), "unreadable_examples": folder.bad[:10],
                 "sizes": sorted([list(s) for s in folder.sizes])[:10], "train": int(len(rest)),
                 "golden": int(len(held)), "calibration": int(len(calib_idx))},
        "model": {"family": "MobileNetV2", "alpha": recipe.model["alpha"], "input_size": size,
                  "weights": recipe.model["weights"], "params": int(model.count_params())},
        "history": history,
    }
    return write_common(staging, recipe, model, {INPUT_NAME: calib_x}, {INPUT_NAME: golden_x, "labels": golden_y},
                        folder.classes, image_preprocessing(size), info)
