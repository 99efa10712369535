"""Source models: SavedModel trust (issue 10.2), damaged SavedModel folders (10.6), input shapes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from edgekit.errors import InputError
from tests.helpers import assert_bad_input

runner = CliRunner()


def _saved_model(path: Path, write_to: Path | None = None) -> Path:
    """A small SavedModel (y = x @ w + b, trained weights not needed: outputs differ across inputs).

    With ``write_to``, its serving signature also writes that file: a graph that touches the file system.
    """
    import tensorflow as tf

    class Affine(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            rng = np.random.default_rng(3)
            self.w = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
            self.b = tf.Variable(rng.normal(size=(3,)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            if write_to is not None:
                tf.io.write_file(str(write_to), tf.strings.as_string(tf.reduce_sum(x)))
            return {"y": tf.matmul(x, self.w) + self.b}

    m = Affine()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})
    return path


def _convert(model: Path, out: Path, *extra: str):
    return runner.invoke(app, ["convert", str(model), "--out", str(out), "--formats", "saved_model,onnx",
                               "--quiet", *extra])


def test_saved_model_without_variables_is_one_line(tmp_path):
    """Defect 10.6: a SavedModel folder without variables/ gave a FileNotFoundError traceback."""
    sm = _saved_model(tmp_path / "sm")
    shutil.rmtree(sm / "variables")
    assert_bad_input(_convert(sm, tmp_path / "o"), "no variables/ folder")
    assert not (tmp_path / "o").exists()


def test_saved_model_is_recorded_and_announced(tmp_path):
    res = _convert(_saved_model(tmp_path / "sm"), tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "notice: a SavedModel is code" in res.output
    source = json.loads((tmp_path / "o" / "manifest.json").read_text())["source"]
    assert source["kind"] == "saved_model" and source["executes_code"] is True and source["op_check"] == "passed"


def test_a_signature_that_writes_files_is_refused_before_it_runs(tmp_path):
    """Defect 10.2: a SavedModel whose signature writes a file wrote outside --out during convert."""
    from edgekit.graph_check import unsafe_ops

    victim = tmp_path / "elsewhere" / "written.txt"
    victim.parent.mkdir()
    sm = _saved_model(tmp_path / "sm", write_to=victim)
    assert [op for op, _ in unsafe_ops(sm)] == ["WriteFile"]
    assert_bad_input(_convert(sm, tmp_path / "o"), "WriteFile", "--trust-source")
    assert not victim.exists() and not (tmp_path / "o").exists()
    # The opt-out: the user vouches for the model; the graph runs, and the manifest says the check was skipped.
    res = _convert(sm, tmp_path / "o", "--trust-source")
    assert res.exit_code in (0, 1), res.output
    assert victim.is_file()
    source = json.loads((tmp_path / "o" / "manifest.json").read_text())["source"]
    assert source["op_check"] == "skipped (--trust-source)"


def test_keras_exports_pass_the_op_check(tmp_path, mlp_path):
    """No false alarm on edgekit's own canonical export (its save/restore functions are not reachable)."""
    import keras

    from edgekit.graph_check import unsafe_ops

    model = keras.saving.load_model(mlp_path, compile=False, safe_mode=True)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    assert unsafe_ops(tmp_path / "sm") == []


def test_unreadable_saved_model_pb(tmp_path):
    from edgekit.graph_check import unsafe_ops

    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(InputError, match="saved_model.pb is not readable"):
        unsafe_ops(tmp_path / "sm")
