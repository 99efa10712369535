"""Edge TPU: the static pre-flight on real converted models (pass and fail), the missing compiler, the log parser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgekit import manifest
from edgekit.formats import GROUPS, parse_formats
from edgekit.formats.edgetpu import COMPILER, EDGETPU_PATH, parse_compiler_log, preflight


@pytest.fixture(scope="module")
def static_cnn(tmp_path_factory, cnn_path, cnn_calibration):
    """The trained test CNN converted for the Edge TPU (its batch gets pinned to 1)."""
    from edgekit.convert import ConvertOptions, convert

    out = tmp_path_factory.mktemp("etpu") / "cnn"
    return convert(cnn_path, out, ConvertOptions(calibration=str(cnn_calibration), golden_samples=16,
                                                 formats="tflite-int8,edgetpu"))


def test_preflight_refuses_float_and_dynamic_models(converted_cnn) -> None:
    folder = converted_cnn.out
    m = manifest.load(folder)
    f32 = preflight((folder / m.artifact("tflite-float32").path).read_bytes())
    assert not f32["ok"] and not f32["quantized"]
    assert any("not fully int8-quantized" in f for f in f32["failures"])
    i8 = preflight((folder / m.artifact("tflite-int8").path).read_bytes())
    # int8 everywhere, but the batch axis is unknown (the Flatten computes its shape at run time).
    assert i8["quantized"] and not i8["static_shapes"] and not i8["ok"]
    assert any("batch_size=1" in f for f in i8["failures"])


def test_static_int8_passes_preflight_and_missing_compiler_is_recorded(static_cnn) -> None:
    if shutil.which(COMPILER):
        pytest.skip("edgetpu_compiler is installed here: the missing-compiler path cannot be shown")
    m = static_cnn.manifest
    art = m.artifact("edgetpu")
    check = art.extra["preflight"]
    assert check["ok"] and check["quantized"] and check["static_shapes"] and check["first_cpu_op"] is None, check
    assert check["ops"]["builtin"]["CONV_2D"]["count"] == 2
    # No compiler: the format is failed with what to install, the pre-flight result kept.
    assert art.status == "failed" and "edgetpu_compiler is not installed" in art.reason
    assert "apt-get install edgetpu-compiler" in art.reason and "pre-flight passed" in art.reason
    assert not static_cnn.all_ok and m.artifact("tflite-int8").ok
    assert not (static_cnn.out / EDGETPU_PATH).exists()
    assert not list(static_cnn.out.glob("edgetpu_input*"))  # the compiler's input never stays behind
    # What the manifest file says, as validate will read it.
    again = manifest.load(static_cnn.out).artifact("edgetpu")
    assert again.extra["preflight"]["ok"] and again.reason == art.reason


def test_freeze_batch_keeps_the_numbers(converted_cnn) -> None:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.formats.edgetpu import freeze_batch
    from edgekit.tflite_inspect import inspect

    folder = converted_cnn.out
    data = (folder / manifest.load(folder).artifact("tflite-int8").path).read_bytes()
    frozen = freeze_batch(data)
    assert frozen is not None and inspect(frozen).inputs[0].shape_signature == [1, 16, 16, 3]
    assert preflight(frozen)["ok"]
    x = np.load(folder / manifest.GOLDEN_INPUTS)["image"][:8]
    outs = []
    for blob in (data, frozen):
        it = Interpreter(model_content=blob)
        it.allocate_tensors()
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        q = np.clip(np.round(x / i["quantization"][0] + i["quantization"][1]), -128, 127).astype(np.int8)
        got = []
        for k in range(len(q)):
            it.set_tensor(i["index"], q[k:k + 1])
            it.invoke()
            got.append(it.get_tensor(o["index"]))
        outs.append(np.concatenate(got))
    assert np.array_equal(outs[0], outs[1])  # same graph, same kernels: bit-identical


def test_edgetpu_is_opt_in() -> None:
    assert "edgetpu" not in GROUPS["all"]
    assert [t.id for t in parse_formats("tflite-int8,edgetpu")] == ["tflite-int8", "edgetpu"]


def test_compiler_log_parser() -> None:
    # The summary format `edgetpu_compiler -s` prints (Coral docs, compiler 16); written here, not captured.
    log = """Edge TPU Compiler version 16.0.384591198
Input: model_int8.tflite
Output: model_int8_edgetpu.tflite

Operator                       Count      Status

FULLY_CONNECTED                1          Mapped to Edge TPU
SOFTMAX                        1          Mapped to Edge TPU
SHAPE                          1          Operation is working on an unsupported data type
CONV_2D                        2          Mapped to Edge TPU
Number of operations that will run on Edge TPU: 4
Number of operations that will run on CPU: 1
"""
    r = parse_compiler_log(log)
    assert r["version"] == "16.0.384591198" and r["on_edgetpu"] == 4 and r["on_cpu"] == 1
    assert {o["op"]: o["count"] for o in r["ops"]} == {"FULLY_CONNECTED": 1, "SOFTMAX": 1, "SHAPE": 1, "CONV_2D": 2}
    assert r["ops"][2]["status"].startswith("Operation is working on an unsupported")


def test_preflight_rejects_garbage(tmp_path: Path) -> None:
    from edgekit.errors import InputError

    with pytest.raises(InputError):
        preflight(b"\x00" * 64)
