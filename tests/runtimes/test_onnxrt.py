"""edgekit.runtimes.onnxrt: ONNX Runtime on a two-op model built here (y = x @ W + b), numbers checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.protocol import load_npz
from edgekit.runtimes.onnxrt import OnnxRuntimeRunner
from tests.helpers import job_for

W = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 0.0]], dtype=np.float32)
B = np.array([0.25, -1.0], dtype=np.float32)
X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0], [0.5, 0.5, 0.5]], dtype=np.float32)


def _model(path: Path, in_name: str = "x", out_name: str = "y") -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", [in_name, "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], [out_name])],
        "affine", [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [None, 2])],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_infer_computes_the_affine_map(tmp_path: Path) -> None:
    job = job_for(tmp_path, "onnxruntime", "onnx", _model(tmp_path / "m.onnx"), {"x": X}, ["y"])
    r = OnnxRuntimeRunner()
    r.open(job)
    try:
        got = r.infer({"x": X[1:2].astype(np.float64)})  # a float64 feed is cast to the model's float
    finally:
        r.close()
    assert got["y"].tolist() == [[7.25, 1.0]]  # [-1, 0, 4] @ W + B = [-1 + 8, 2] + [0.25, -1]


def test_run_job_writes_every_sample_and_times_the_loop(tmp_path: Path) -> None:
    job = job_for(tmp_path, "onnxruntime", "onnx", _model(tmp_path / "m.onnx"), {"x": X}, ["y"])
    res = OnnxRuntimeRunner().run_job(job)
    np.testing.assert_allclose(load_npz(job.outputs_path)["y"], X @ W + B, rtol=1e-6)
    assert res.latency["count"] == 3 and res.warmup["count"] == 1 and res.versions["onnxruntime"]


def test_own_tensor_names_are_mapped_through_io_names(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.onnx", in_name="input:0", out_name="Identity:0")
    job = job_for(tmp_path, "onnxruntime", "onnx", path, {"x": X}, ["y"],
                  io_names={"inputs": ["input:0"], "outputs": ["Identity:0"]})
    OnnxRuntimeRunner().run_job(job)
    np.testing.assert_allclose(load_npz(job.outputs_path)["y"], X @ W + B, rtol=1e-6)


def test_io_names_that_do_not_pair_are_refused(tmp_path: Path) -> None:
    job = job_for(tmp_path, "onnxruntime", "onnx", _model(tmp_path / "m.onnx"), {"x": X}, ["y"],
                  io_names={"inputs": ["x", "extra"], "outputs": ["y"]})
    with pytest.raises(InputError, match=r"the ONNX model has inputs \['x'\] and outputs \['y'\]"):
        OnnxRuntimeRunner().open(job)
