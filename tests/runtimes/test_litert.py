"""edgekit.runtimes.litert: the LiteRT Interpreter on a .tflite built here (y = 2x + 1 and a sum), numbers checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.protocol import load_npz
from edgekit.runtimes.litert import LiteRTRunner
from tests.helpers import job_for

X = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]], dtype=np.float32)


@pytest.fixture(scope="module")
def tflite_path(tmp_path_factory) -> Path:
    import tensorflow as tf

    class Affine(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 3], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": 2.0 * x + 1.0, "total": tf.reduce_sum(x, axis=1, keepdims=True)}

    module = Affine()
    folder = tmp_path_factory.mktemp("litert")
    tf.saved_model.save(module, str(folder / "sm"), signatures={"serving_default": module.__call__})
    path = folder / "model.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(folder / "sm")).convert())
    return path


def test_infer_by_signature_names(tflite_path: Path, tmp_path: Path) -> None:
    r = LiteRTRunner()
    r.open(job_for(tmp_path, "litert", "tflite", tflite_path, {"x": X}, ["y", "total"]))
    try:
        got = r.infer({"x": X[:1]})
    finally:
        r.close()
    assert got["y"].tolist() == [[3.0, -3.0, 2.0]] and got["total"].tolist() == [[-0.5]]


def test_run_job_writes_every_sample_in_signature_order(tflite_path: Path, tmp_path: Path) -> None:
    job = job_for(tmp_path, "litert", "tflite", tflite_path, {"x": X}, ["total", "y"], threads=1)
    res = LiteRTRunner().run_job(job)
    out = load_npz(job.outputs_path)
    assert out["y"].tolist() == [[3.0, -3.0, 2.0], [7.0, 1.0, -2.0]]
    assert out["total"].tolist() == [[-0.5], [1.5]]
    assert res.latency["count"] == 3 and res.threads == 1 and res.first_ms > 0
    assert set(res.versions) & {"ai-edge-litert", "tflite-runtime"}


def test_io_names_pick_the_artifacts_own_tensors(tflite_path: Path, tmp_path: Path) -> None:
    # The signature calls them out_a/out_b; the file's own names are y/total, in that order.
    job = job_for(tmp_path, "litert", "tflite", tflite_path, {"x": X}, ["out_a", "out_b"],
                  io_names={"inputs": ["x"], "outputs": ["total", "y"]})
    LiteRTRunner().run_job(job)
    out = load_npz(job.outputs_path)
    assert out["out_a"].tolist() == [[-0.5], [1.5]] and out["out_b"][1].tolist() == [7.0, 1.0, -2.0]


def test_a_name_the_file_lacks_is_refused(tflite_path: Path, tmp_path: Path) -> None:
    job = job_for(tmp_path, "litert", "tflite", tflite_path, {"x": X}, ["logits"])
    with pytest.raises(InputError, match=r"has no tensor named \['logits'\]"):
        LiteRTRunner().open(job)
