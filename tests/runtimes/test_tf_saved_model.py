"""edgekit.runtimes.tf_saved_model: TensorFlow on a SavedModel built here (y = 3x - 1), numbers checked.

The runner sets TensorFlow's thread pools before the first op, which only a fresh process allows: it runs in the
worker process, as `edgekit validate` runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.devices.local import LocalCPU
from edgekit.protocol import load_npz
from tests.helpers import job_for

X = np.array([[1.0, 2.0], [-0.5, 0.0], [4.0, -3.0]], dtype=np.float32)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    import tensorflow as tf

    class Scale(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 3.0 * x - 1.0}

    module = Scale()
    path = tmp_path_factory.mktemp("tf") / "saved_model"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def test_run_job_computes_every_sample(saved_model: Path, tmp_path: Path) -> None:
    job = job_for(tmp_path, "tensorflow", "saved_model", saved_model, {"x": X.astype(np.float64)}, ["y"])
    out = LocalCPU().run(job, 300)  # a float64 feed becomes the signature's float32
    assert out.error is None, out.error
    assert load_npz(job.outputs_path)["y"].tolist() == [[2.0, 5.0], [-2.5, -1.0], [11.0, -10.0]]
    assert out.result.latency["count"] == 3 and out.result.versions["tensorflow"] and out.result.threads == 1


def test_an_unknown_signature_is_refused(saved_model: Path, tmp_path: Path) -> None:
    job = job_for(tmp_path, "tensorflow", "saved_model", saved_model, {"x": X}, ["y"],
                  options={"signature": "classify"})
    out = LocalCPU().run(job, 300)
    assert out.error == "InputError: the SavedModel has no signature 'classify'; it has ['serving_default']"


def test_an_output_the_signature_lacks_is_refused(saved_model: Path, tmp_path: Path) -> None:
    job = job_for(tmp_path, "tensorflow", "saved_model", saved_model, {"x": X}, ["logits"])
    out = LocalCPU().run(job, 300)
    assert out.error == "InputError: the SavedModel returned outputs ['y']; the manifest expects ['logits']"
    assert not Path(job.outputs_path).exists()
