"""Fixtures for the format modules' own tests: a conversion Context over a tiny trained model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests import models


@dataclasses.dataclass
class Prepared:
    """A source model exported once, its signature, calibration data, golden inputs and Keras outputs."""

    root: Path
    saved_model_dir: Path
    inputs: list[Any]
    outputs: list[Any]
    keras_model: Any
    calibration: Any
    golden: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]

    def context(self, staging: Path, **options: Any):
        """A fresh Context writing into ``staging`` (created), with ConvertOptions overridden by ``options``."""
        from edgekit.convert import ConvertOptions
        from edgekit.formats import Context

        staging.mkdir(parents=True, exist_ok=True)
        return Context(staging=staging, saved_model_dir=self.saved_model_dir, inputs=self.inputs,
                       outputs=self.outputs, keras_model=self.keras_model, calibration=self.calibration,
                       options=ConvertOptions(**options), check_inputs={k: v[:8] for k, v in self.golden.items()})


def prepare(path: Path, root: Path, calibration: np.ndarray, golden: np.ndarray) -> Prepared:
    from edgekit import source as src
    from edgekit.data import DataSet

    source, loaded = src.load(path, src.sniff(path), {})
    sm = root / "saved_model"
    src.export_saved_model(source, loaded, sm)
    inputs, outputs = src.saved_model_signature(sm)
    name = inputs[0].name
    calib = DataSet(arrays={name: calibration}, source="test")
    ref = np.asarray(source.keras_model(golden, training=False))
    return Prepared(root, sm, inputs, outputs, source.keras_model, calib, {name: golden}, {outputs[0].name: ref})


@pytest.fixture(scope="session")
def mlp_prepared(tmp_path_factory, mlp_path) -> Prepared:
    x, _ = models.feature_rows(300, seed=11)
    golden, _ = models.feature_rows(64, seed=21)
    return prepare(mlp_path, tmp_path_factory.mktemp("mlp-prepared"), x[:200], golden)


@pytest.fixture(scope="session")
def lstm_prepared(tmp_path_factory, lstm_path) -> Prepared:
    x, _ = models.sequences(200, seed=14)
    golden, _ = models.sequences(32, seed=22)
    return prepare(lstm_path, tmp_path_factory.mktemp("lstm-prepared"), x[:120], golden)


@pytest.fixture(scope="session")
def gru_prepared(tmp_path_factory, gru_path) -> Prepared:
    x, _ = models.sequences(200, seed=14)
    golden, _ = models.sequences(32, seed=22)
    return prepare(gru_path, tmp_path_factory.mktemp("gru-prepared"), x[:120], golden)
