"""The quantization-hostile model (tests/quant_debug/hostile.py), built, trained and converted once per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.quant_debug import hostile


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
    """float32, float16, dynamic and plain int8, with the labelled golden set."""
    from edgekit.convert import ConvertOptions, convert

    opts = ConvertOptions(formats="saved_model,tflite", calibration=str(hostile_data["calibration"]),
                          golden=str(hostile_data["golden"]), golden_samples=300)
    return convert(hostile_path, tmp_path_factory.mktemp("conv") / "hostile", opts)
