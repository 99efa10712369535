"""What every recipe shares: the distribution strategy, callbacks, the output folder contract.

The output folder (what ``edgekit convert DIR`` reads with no flags):
  model.keras         the trained model, preprocessing inside where it can be (raw inputs in)
  labels.txt          one class name per line (classifiers)
  preprocessing.json  what an app does to raw data before the model (and after, for forecasts)
  calibration.npz     representative inputs drawn from the training split (int8 calibration)
  golden.npz          the labelled hold-out, never trained or calibrated on (``labels`` array)
  recipe.toml         the resolved recipe, every key
  train.json          the marker convert looks for: file names, metrics, data counts, history, timings
  train.log           TensorFlow's own log lines (EDGEKIT_DEBUG=1 shows them on the terminal instead)
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__, outdir
from edgekit.errors import InputError
from edgekit.extras import pip_command
from edgekit.schemas import check_preprocessing, dumps_json, finite_or_none, read_tf_config

TRAIN_MARKER = "train.json"
MODEL_FILE = "model.keras"
CALIBRATION_FILE = "calibration.npz"
GOLDEN_FILE = "golden.npz"
LABELS_FILE = "labels.txt"
PREPROCESSING_FILE = "preprocessing.json"
RECIPE_FILE = "recipe.toml"
TRAIN_LOG = "train.log"  # TensorFlow's native log lines and Python warnings during training
STRATEGIES = ("none", "mirrored", "multiworker")
LOGS_DIR = "logs"  # TensorBoard event files: tensorboard --logdir FOLDER/logs
HISTORY_CSV = "history.csv"  # one row per epoch (Keras CSVLogger); a second phase writes history_<phase>.csv


@dataclass
class TrainOptions:
    out: Path | None = None  # default: ./<recipe name>-out
    data: str | None = None  # overrides data.source
    overrides: list[str] = field(default_factory=list)  # section.key=value
    strategy: str = "none"
    force: bool = False
    verbose: int = 0  # Keras fit verbosity
    log: Any = None  # callable(str) for progress lines; None = silent


@dataclass
class TrainResult:
    out: Path
    recipe: str
    task: str
    metrics: dict[str, Any]
    info: dict[str, Any]
    seconds: float


def make_strategy(name: str) -> Any:
    """tf.distribute strategy for --strategy. Created before any other TensorFlow op (multi-worker needs it)."""
    if name not in STRATEGIES:
        raise InputError(f"--strategy {name!r} is not one of {', '.join(STRATEGIES)}")
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise InputError("--strategy multiworker reads the cluster from the TF_CONFIG environment variable, "
                             "which is not set; see docs/recipes.md (multi-worker training)")
        read_tf_config(os.environ["TF_CONFIG"])
        reason = multiworker_unsupported()
        if reason:
            raise InputError(reason)
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


KERAS_MULTIWORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"
TRY_MULTIWORKER = "EDGEKIT_TRY_MULTIWORKER"


def multiworker_unsupported() -> str | None:
    """Why --strategy multiworker cannot train here, or None. Keras 3's fit() fails under
    MultiWorkerMirroredStrategy (two worker processes on 127.0.0.1, Keras 3.15.1 + TF 2.19, 2026-12-03: every
    worker stops at its first step with "Attempt to convert a value (PerReplica...) to a Tensor"); refused up
    front instead of after TensorFlow starts. EDGEKIT_TRY_MULTIWORKER=1 tries anyway (a fixed Keras)."""
    from importlib.metadata import version

    keras_version = version("keras")
    if int(keras_version.split(".")[0]) < 3 or os.environ.get(TRY_MULTIWORKER, "") not in ("", "0"):
        return None
    return (f"--strategy multiworker does not train with Keras {keras_version}: Keras 3's fit() fails under "
            f"MultiWorkerMirroredStrategy ({KERAS_MULTIWORKER_ISSUE}); use --strategy mirrored (every local "
            f"device) or none; {TRY_MULTIWORKER}=1 tries anyway")


def is_chief() -> bool:
    """Only the chief (worker 0 without a chief task) writes the output folder in multi-worker training."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    cfg = read_tf_config(raw)
    kind, index = cfg.task.type, cfg.task.index
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cfg.cluster)


def callbacks(train: dict[str, Any], workdir: Path, has_validation: bool, log: Any = None,
              phase: str = "") -> list[Any]:
    """EarlyStopping (best weights restored), ModelCheckpoint (best so far), ReduceLROnPlateau, a line per epoch,
    and the logs the Keras guides keep: TensorBoard event files under FOLDER/logs[/phase] and a CSV of every
    epoch (FOLDER is ``workdir``'s parent, the output folder being built)."""
    import keras

    folder = workdir.parent
    csv = folder / (f"{Path(HISTORY_CSV).stem}_{phase}.csv" if phase else HISTORY_CSV)

    class EpochLine(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items() if k != "learning_rate")
            log(f"  epoch {epoch + 1}/{self.params.get('epochs')}  {shown}  ({time.perf_counter() - self.t:.1f} s)")

    monitor = "val_loss" if has_validation else "loss"
    patience = int(train["patience"])
    cbs: list[Any] = [
        keras.callbacks.ModelCheckpoint(str(workdir / "best.weights.h5"), monitor=monitor, save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, patience // 2),
                                          min_lr=1e-6),
        keras.callbacks.CSVLogger(str(csv)),
    ]
    # TensorFlow >= 2.20 no longer depends on tensorboard, and tf.summary then raises at the first epoch: the
    # `train` extra brings it; without it the CSV is the log (and a line says so).
    if importlib.util.find_spec("tensorboard") is not None:
        # Epoch scalars only: no graph, no profiler, no per-batch writes (they would cost time on every step).
        cbs.append(keras.callbacks.TensorBoard(log_dir=str(folder / LOGS_DIR / phase), write_graph=False,
                                               profile_batch=0, update_freq="epoch"))
    elif log is not None:
        log(f"  no TensorBoard logs: tensorboard is not installed ({pip_command('train')})")
    if patience > 0:
        cbs.insert(0, keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                                    restore_best_weights=True))
    if log is not None:
        cbs.append(EpochLine())
    return cbs


def merge_history(*histories: Any) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for h in histories:
        if h is None:
            continue
        for k, v in h.history.items():
            out.setdefault(k, []).extend(round(float(x), 6) for x in v)
    return out


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


@contextmanager
def staging_folder(out: Path, log: Any = None) -> Iterator[Path]:
    """Build in a hidden sibling, move into place only when everything was written (as convert does).
    Only the chief writes the folder in multi-worker training; other workers' staging is dropped."""
    with outdir.staging(out, commit=is_chief()) as st:
        for notice in st.notices if log is not None else []:
            log(notice)
        yield st.path
        shutil.rmtree(st.path / "_work", ignore_errors=True)


def write_common(staging: Path, recipe: Any, model: Any, calibration: dict[str, np.ndarray],
                 golden: dict[str, np.ndarray], labels: list[str] | None, preprocessing: dict[str, Any],
                 info: dict[str, Any]) -> dict[str, Any]:
    """Write the contract files; returns train.json's content."""
    model.save(staging / MODEL_FILE)
    np.savez(staging / CALIBRATION_FILE, **calibration)
    np.savez(staging / GOLDEN_FILE, **golden)
    # The schema bundle reads with: a recipe can never write a record that convert or bundle refuses.
    check_preprocessing(preprocessing, f"recipe {recipe.name}: {PREPROCESSING_FILE}")
    (staging / PREPROCESSING_FILE).write_text(dumps_json(preprocessing) + "\n", encoding="utf-8")
    (staging / RECIPE_FILE).write_text(recipe.to_toml(), encoding="utf-8")
    if labels is not None:
        (staging / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
    golden_n = int(next(v for k, v in golden.items() if k != "labels").shape[0])
    calib_n = int(next(iter(calibration.values())).shape[0])
    doc = {
        "schema": 1,
        "tool": "edgekit train",
        "edgekit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipe": recipe.name,
        "task": recipe.task,
        "files": {"model": MODEL_FILE, "calibration": CALIBRATION_FILE, "golden": GOLDEN_FILE,
                  "labels": LABELS_FILE if labels is not None else None, "preprocessing": PREPROCESSING_FILE,
                  "recipe": RECIPE_FILE},
        "formats": recipe.export["formats"],
        "int8_max_drop": recipe.export["int8_max_drop"] if recipe.export["int8_max_drop"] >= 0 else None,
        "int8_weights": recipe.export["int8_weights"],
        "golden_samples": golden_n,
        "calibration_samples": calib_n,
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cores": os.cpu_count()},
        **info,
    }
    (staging / TRAIN_MARKER).write_text(dumps_json(finite_or_none(doc)) + "\n", encoding="utf-8")
    return doc


class Clock:
    """Named wall-clock phases for train.json."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.phases: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self.last, 2)
        self.last = now

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.t0, 2)


def rewrite_marker(staging: Path, doc: dict[str, Any]) -> None:
    (staging / TRAIN_MARKER).write_text(dumps_json(finite_or_none(doc)) + "\n", encoding="utf-8")
