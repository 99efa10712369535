"""Convert-time load checks (issue 10.21): an artifact is ok only when its runtime loads it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from edgekit.artifact_check import check
from edgekit.manifest import Artifact, TensorSpec


def _ctx(tmp_path):
    return SimpleNamespace(staging=tmp_path, inputs=[TensorSpec("x", [None, 5], "float32")],
                           check_inputs={"x": np.zeros((2, 5), np.float32)})


def _onnx(tmp_path, op: str):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "model.onnx"))
    return Artifact(id="onnx", format="onnx", variant="float32", path="model.onnx")


def test_an_onnx_file_onnxruntime_refuses_is_failed_with_the_reason(tmp_path):
    art = _onnx(tmp_path, "Erfc")
    check(_ctx(tmp_path), art)
    assert art.status == "failed" and "ONNX Runtime cannot load it" in art.reason and "Erfc" in art.reason


def test_a_loadable_onnx_file_stays_ok(tmp_path):
    art = _onnx(tmp_path, "Erf")
    check(_ctx(tmp_path), art)
    assert art.ok and art.reason is None and "session: loaded" in art.extra["load_check"]


def test_a_tflite_file_litert_cannot_allocate_is_failed(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"TFL3" + b"\0" * 60)
    art = Artifact(id="tflite-float32", format="tflite", variant="float32", path="m.tflite")
    check(_ctx(tmp_path), art)
    assert art.status == "failed" and "LiteRT" in art.reason
    flex = Artifact(id="tflite-float32", format="tflite", variant="float32", path="m.tflite", requires_flex=True)
    check(_ctx(tmp_path), flex)
    assert flex.ok and flex.extra["load_check"].startswith("skipped: needs the Flex delegate")


def test_formats_without_a_convert_time_runtime_are_said_so(tmp_path):
    art = Artifact(id="saved_model", format="saved_model", variant="float32", path="saved_model")
    check(_ctx(tmp_path), art)
    assert art.ok and art.extra["load_check"] == "not applicable at convert time"


def test_a_missing_checking_runtime_skips_and_keeps_the_artifact(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    art = _onnx(tmp_path, "Erf")
    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    check(_ctx(tmp_path), art)
    assert art.ok and art.extra["load_check"].startswith("skipped: ImportError")


def test_tfjs_is_loaded_in_node_when_node_is_there(converted_mlp):
    """The TF.js check goes through the tfjs_node runner's public API (a renamed function broke it once)."""
    from edgekit.runtimes.tfjs_node import unavailable_reason
    from tests.helpers import require

    require(unavailable_reason({"backend": "cpu"}) is None, "TF.js in Node is not installed")
    tfjs = next(a for a in converted_mlp.manifest.artifacts if a.id == "tfjs")
    assert tfjs.ok and tfjs.extra["load_check"].startswith("TF.js in Node (cpu): loaded in "), tfjs.extra


def test_a_tfjs_folder_node_cannot_load_is_failed(tmp_path):
    from edgekit.runtimes.tfjs_node import unavailable_reason
    from tests.helpers import require

    require(unavailable_reason({"backend": "cpu"}) is None, "TF.js in Node is not installed")
    (tmp_path / "tfjs").mkdir()
    (tmp_path / "tfjs" / "model.json").write_text("{}")
    art = Artifact(id="tfjs", format="tfjs", variant="float32", path="tfjs",
                   io_names={"inputs": ["x"], "outputs": ["y"]})
    check(_ctx(tmp_path), art)
    assert art.status == "failed" and "TF.js in Node cannot load it" in art.reason and "modelTopology" in art.reason
