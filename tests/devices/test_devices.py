"""GPU and Edge TPU devices on a machine that has neither: `unavailable` with the reason, never a silent CPU run.

What can run for real here does: LiteRT's CompiledModel runner (the GPU path's code) on the CPU accelerator,
checked against the reference outputs, and the worker's own detection that LiteRT finds no GPU adapter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit import bench, manifest
from edgekit.device_runner import runner as device_runner
from edgekit.devices import get_device
from edgekit.errors import InputError
from edgekit.protocol import BenchSettings, Job, load_npz
from edgekit.runtimes.hardware import find_edgetpu_library, gpu_nodes
from edgekit.runtimes.litert_accel import CompiledModelRunner
from edgekit.validate import ValidateOptions, validate

FAST = BenchSettings(runs=3, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)


def _opts(tmp_path: Path, **kw: Any) -> ValidateOptions:
    kw.setdefault("bench", FAST)
    kw.setdefault("ci", False)
    return ValidateOptions(report_dir=tmp_path / "report", **kw)


@pytest.mark.skipif(bool(gpu_nodes()), reason="this machine has a GPU: the absent-GPU path cannot be shown here")
def test_gpu_device_without_gpu_is_unavailable_with_reason(converted_cnn, tmp_path: Path) -> None:
    rep = validate(converted_cnn.out, _opts(tmp_path, device="gpu"))
    rows = rep["results"]
    # TFLite, ONNX and the SavedModel have GPU paths; TF.js in Node does not, so it gets no row.
    assert {r["format"] for r in rows} == {"tflite", "onnx", "saved_model"}
    assert all(r["status"] == "unavailable" and "no GPU on this machine" in r["reason"] for r in rows)
    assert rep["summary"]["exit_code"] == 0
    assert validate(converted_cnn.out, _opts(tmp_path, device="gpu", ci=True))["summary"]["exit_code"] == 1
    assert {s["artifact"] for s in rep["device"]["skipped"]} == {"tfjs"}


def test_litert_gpu_worker_reports_missing_adapter_as_unavailable(converted_cnn, tmp_path: Path) -> None:
    """Past the parent's device-node check, the worker itself must tell 'no GPU' from a broken run."""
    if gpu_nodes():
        pytest.skip("this machine has a GPU")
    folder = converted_cnn.out
    m = manifest.load(folder)
    art = m.artifact("tflite-float32")
    dev = get_device("gpu")
    job = Job(runtime="litert", artifact=art.to_dict(), artifact_path=str(folder / art.path),
              inputs=[vars(s) for s in m.inputs], outputs=[vars(s) for s in m.outputs],
              feeds_path=str(folder / manifest.GOLDEN_INPUTS), outputs_path=str(tmp_path / "o.npz"),
              result_path=str(tmp_path / "r.json"), threads=1, bench=FAST)
    out = dev.run(job, 120)
    assert out.status == "unavailable" and out.error.startswith("LiteRT could not use a GPU"), out.error


def test_compiled_model_runner_matches_reference_on_cpu(converted_cnn, tmp_path: Path) -> None:
    """The GPU path's runner code (CompiledModel, tensor buffers) with the CPU accelerator: same numbers."""
    folder = converted_cnn.out
    m = manifest.load(folder)
    ref = load_npz(folder / manifest.REFERENCE_OUTPUTS)["output_0"]
    feeds = load_npz(folder / manifest.GOLDEN_INPUTS)
    for art_id, bound in (("tflite-float32", 1e-5), ("tflite-int8", None)):
        art = m.artifact(art_id)
        job = Job(runtime="litert", artifact=art.to_dict(), artifact_path=str(folder / art.path),
                  inputs=[vars(s) for s in m.inputs], outputs=[vars(s) for s in m.outputs],
                  feeds_path=str(tmp_path / "feeds.npz"), outputs_path=str(tmp_path / f"{art_id}.npz"),
                  result_path=str(tmp_path / "r.json"), threads=1, bench=FAST)
        q_in = {q.name: q for q in art.quantization["inputs"]}
        from edgekit.quant import dequantize, quantize

        np.savez(tmp_path / "feeds.npz", **{k: quantize(v, q_in[k]) if k in q_in else v for k, v in feeds.items()})
        runner = CompiledModelRunner({"accelerator": "cpu"})
        res = runner.run_job(job)
        out = load_npz(tmp_path / f"{art_id}.npz")["output_0"]
        q_out = {q.name: q for q in art.quantization["outputs"]}
        got = dequantize(out, q_out["output_0"]) if "output_0" in q_out else out
        assert got.shape == ref.shape and res.latency["count"] >= 3
        if bound is not None:
            assert np.abs(got - ref).max() < bound
        else:  # int8: the same kernels as the Interpreter, so the same quantized outputs (within one step)
            from ai_edge_litert.interpreter import Interpreter

            it = Interpreter(model_path=str(folder / art.path), num_threads=1)
            it.allocate_tensors()
            x = np.load(tmp_path / "feeds.npz")["image"]
            o = it.get_output_details()[0]["index"]
            want = []
            for i in range(len(x)):
                it.set_tensor(it.get_input_details()[0]["index"], x[i:i + 1])
                it.invoke()
                want.append(it.get_tensor(o))
            diff = np.abs(out.astype(np.int32) - np.concatenate(want).astype(np.int32))
            assert diff.max() <= 1
        assert "CompiledModel accelerator: cpu" in runner.notes[0]


@pytest.mark.skipif(find_edgetpu_library() is not None, reason="libedgetpu is installed here")
def test_edgetpu_device_without_library_is_unavailable(converted_cnn, fresh_copy, tmp_path: Path) -> None:
    from edgekit.formats.edgetpu import EDGETPU_PATH

    folder = fresh_copy(converted_cnn.out)
    # An edgetpu artifact as convert records it once edgetpu_compiler has run (here: the int8 file's bytes;
    # the library check comes before anything is loaded).
    m = manifest.load(folder)
    src = m.artifact("tflite-int8")
    (folder / EDGETPU_PATH).write_bytes((folder / src.path).read_bytes())
    m.artifacts.append(manifest.Artifact(id="edgetpu", format="edgetpu", variant="int8", path=EDGETPU_PATH,
                                         sha256=manifest.sha256_path(folder / EDGETPU_PATH), bytes=src.bytes,
                                         quantization=src.quantization, io_names=src.io_names))
    manifest.save(m, folder)
    rep = validate(folder, _opts(tmp_path, devices=["cpu", "edgetpu"], artifacts=["edgetpu", "tflite-float32"]))
    rows = {(r["artifact"], r["device"]): r for r in rep["results"]}
    # The cpu never runs a compiled Edge TPU file; the edgetpu device runs nothing but that.
    assert set(rows) == {("edgetpu", "edgetpu"), ("tflite-float32", "cpu")}
    row = rows[("edgetpu", "edgetpu")]
    assert row["status"] == "unavailable" and "libedgetpu.so.1 is not installed" in row["reason"]
    assert "libedgetpu1-std" in row["reason"]
    assert rows[("tflite-float32", "cpu")]["status"] == "pass"


def test_delegate_option_is_checked(converted_cnn, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        validate(converted_cnn.out, _opts(tmp_path, device="gpu", delegate=str(tmp_path / "nope.so")))
    with pytest.raises(InputError, match="applies to gpu and edgetpu"):
        validate(converted_cnn.out, _opts(tmp_path, device="cpu", delegate="/lib/x.so"))


def test_a_library_that_is_not_a_delegate_is_an_error_row(converted_cnn, tmp_path: Path) -> None:
    libm = next((p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6",
                             "/usr/lib/libm.so.6") if Path(p).exists()), None)
    if libm is None:
        pytest.skip("no libm.so.6 at a known path")
    rep = validate(converted_cnn.out, _opts(tmp_path, device="gpu", delegate=libm, artifacts=["tflite-float32"]))
    (row,) = rep["results"]
    assert row["status"] == "error" and row["runtime"] == "litert" and row["reason"], row


@pytest.mark.parametrize("ci, code", [("", 0), ("true", 1)], ids=["local", "ci"])
def test_cli_gpu_json_and_device_help(converted_cnn, tmp_path: Path, ci: str, code: int) -> None:
    """No GPU here: the row is unavailable; that passes locally and fails the run with CI=true (documented)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
    proc = subprocess.run([sys.executable, "-m", "edgekit", "validate", str(converted_cnn.out), "--device", "gpu",
                           "--artifact", "onnx", "--json", "--report", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120, env=env)
    rep = json.loads(proc.stdout)
    (row,) = rep["results"]
    assert row["status"] == "unavailable" and rep["device"]["kind"] == "gpu"
    assert proc.returncode == code


def test_runner_timing_rule_matches_bench() -> None:
    """runner.py carries its own copy of the loop (it runs where edgekit is not installed): same rule."""
    for loop in (device_runner.run_loop, bench.run_loop):
        times, _ = loop(lambda: None, 7, 0.0, 5.0)
        assert len(times) == 7  # count rule
        times, elapsed = loop(lambda: None, 1, 0.05, 5.0)
        assert elapsed >= 0.05 and len(times) > 1  # min-time rule
        times, elapsed = loop(lambda: time.sleep(0.01), 10**6, 0.0, 0.05)
        assert 0.05 <= elapsed < 0.2 and len(times) < 20  # max-time rule
    assert device_runner.summarize([1.0, 2.0, 3.0]) == bench.summarize([1.0, 2.0, 3.0])
