"""edgekit.runtimes: the runtime registry (formats, device kinds, runners, one availability check)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit import runtimes
from edgekit.devices.accel import EdgeTPUDevice, GPUDevice
from edgekit.devices.local import BrowserDevice, LocalCPU
from edgekit.devices.mcu import MCUDevice
from edgekit.devices.ssh import SSHDevice
from edgekit.errors import InputError
from edgekit.formats import TARGETS
from edgekit.protocol import Job, JobResult
from edgekit.runtimes import REGISTRY, Placement, RuntimeSpec, make_runner, runtimes_for, spec, unavailable_reason
from edgekit.runtimes.base import OutOfProcessRunner, Runner


def test_every_runtime_runs_formats_that_convert_produces() -> None:
    produced = {t.format for t in TARGETS.values()}
    for rt in REGISTRY:
        assert rt.formats and set(rt.formats) <= produced, rt.name
        for kind, place in rt.runs_on.items():
            assert kind in runtimes.DEVICE_KINDS, (rt.name, kind)
            assert set(rt.formats_on(kind)) <= produced, (rt.name, kind)
            assert place.formats is None or place.formats, (rt.name, kind)
    assert len({rt.name for rt in REGISTRY}) == len(REGISTRY)  # names are the report's runtime column: unique


def test_every_device_kind_is_one_the_registry_knows() -> None:
    assert {LocalCPU.kind, SSHDevice.kind, GPUDevice.kind, EdgeTPUDevice.kind,
            BrowserDevice.kind, MCUDevice.kind} == set(runtimes.DEVICE_KINDS)


def test_the_format_to_runtime_mapping_is_what_validate_always_ran() -> None:
    # The former FORMAT_RUNTIMES table and the per-device special cases, now all derived from the registry.
    assert runtimes_for("saved_model", "local") == ["tensorflow"]
    assert runtimes_for("tflite", "local") == ["litert"]
    assert runtimes_for("onnx", "local") == ["onnxruntime", "onnx-web"]
    assert runtimes_for("tfjs", "local") == ["tfjs-wasm", "tfjs-cpu", "tfjs-browser-wasm", "tfjs-browser-gpu"]
    assert runtimes_for("edgetpu", "local") is None  # a compiled Edge TPU model belongs to --device edgetpu
    assert runtimes_for("tflite", "ssh") == ["litert"]
    assert [runtimes_for(f, "ssh") for f in ("saved_model", "onnx", "tfjs", "edgetpu")] == [None] * 4
    assert [runtimes_for(f, "gpu") for f in ("tflite", "onnx", "saved_model")] == [["litert"], ["onnxruntime"],
                                                                                  ["tensorflow"]]
    assert runtimes_for("tfjs", "gpu") is None and runtimes_for("edgetpu", "gpu") is None
    assert runtimes_for("edgetpu", "edgetpu") == ["litert"] and runtimes_for("tflite", "edgetpu") is None
    assert runtimes_for("tflm", "local") == ["tflm"]  # TFLite Micro's interpreter (issue 12)
    assert runtimes_for("nonexistent", "local") == []  # a format no runtime runs: an "unavailable" row, not a skip


@pytest.mark.parametrize("kind", runtimes.DEVICE_KINDS)
def test_availability_is_none_or_a_reason(kind: str) -> None:
    for rt in REGISTRY:
        if kind not in rt.runs_on:
            with pytest.raises(InputError, match=f"does not run on {kind} devices"):
                unavailable_reason(rt.name, kind)
            continue
        reason = unavailable_reason(rt.name, kind)
        assert reason is None or (isinstance(reason, str) and len(reason) > 20), (rt.name, kind, reason)


def test_a_missing_library_is_one_reason_with_the_install_hint(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in (
        "onnxruntime", "tensorflow", "ai_edge_litert", "tflite_runtime") else real(n, *a))
    assert unavailable_reason("onnxruntime") == "ONNX Runtime is not installed: pip install onnxruntime"
    assert "pip install tensorflow" in unavailable_reason("tensorflow")
    assert "pip install ai-edge-litert" in unavailable_reason("litert", "gpu")  # the library before the GPU


def test_accelerator_checks_follow_the_device_options(monkeypatch) -> None:
    from edgekit.runtimes import hardware

    monkeypatch.setattr(hardware, "gpu_nodes", lambda: [])
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    monkeypatch.setattr(hardware, "find_edgetpu_library", lambda: None)
    assert "no GPU on this machine" in unavailable_reason("litert", "gpu")
    assert unavailable_reason("litert", "gpu", {"delegate": "/x/libdelegate.so"}) is None  # the delegate decides
    assert "no GPU on this machine" in unavailable_reason("tensorflow", "gpu", {"delegate": "/x/libdelegate.so"})
    assert "libedgetpu.so.1 is not installed" in unavailable_reason("litert", "edgetpu")
    assert unavailable_reason("litert", "edgetpu", {"delegate": "libedgetpu.so.1"}) is None
    monkeypatch.setattr(hardware, "gpu_nodes", lambda: ["/dev/nvidia0"])
    monkeypatch.setattr(hardware, "dist_version", lambda name: None)
    assert "pip install onnxruntime-gpu" in unavailable_reason("onnxruntime", "gpu")


def test_fixed_options_are_given_once_and_overridable() -> None:
    assert runtimes.runner_options("tfjs-cpu") == {"backend": "cpu"}
    assert runtimes.runner_options("onnx-web", options={"threads": 2}) == {"engine": "onnx", "backend": "wasm",
                                                                          "threads": 2}
    assert runtimes.runner_options("onnxruntime", "gpu")["providers"][0] == "CUDAExecutionProvider"
    runner = make_runner("tfjs-browser-gpu")
    assert isinstance(runner, OutOfProcessRunner) and (runner.engine, runner.backend) == ("tfjs", "gpu")
    assert make_runner("tfjs-wasm", {"backend": "cpu"}).options == {"backend": "cpu"}
    with pytest.raises(InputError, match="unknown runtime 'nope'; known: litert, onnxruntime"):
        spec("nope")


def test_naming_every_runner_imports_no_framework() -> None:
    code = ("import json, sys\nfrom edgekit import runtimes\n"
            "for rt in runtimes.REGISTRY:\n"
            "    for target in [rt.runner, rt.check] + [p.runner or rt.runner for p in rt.runs_on.values()]:\n"
            "        runtimes.load_target(target)\n"
            "    web = rt.name.startswith(('tfjs-browser', 'onnx-web', 'litert-web'))\n"
            "    runtimes.unavailable_reason(rt.name) if not web else 0\n"
            "print(json.dumps([m for m in ('tensorflow', 'onnxruntime', 'ai_edge_litert', 'keras') "
            "if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert json.loads(out.stdout) == []


class Doubler(Runner):
    """A runtime for a test: y = 2x, out of nothing but numpy."""

    def run_job(self, job: Job) -> JobResult:
        from edgekit.protocol import load_npz

        feeds = load_npz(job.feeds_path)
        np.savez(job.outputs_path, y=feeds["x"] * self.options["factor"])
        return JobResult(runtime=job.runtime, notes=[f"factor {self.options['factor']}"])


def doubler_unavailable_reason(options=None) -> str | None:
    return None if options and options.get("factor") == 2 else "Doubler needs factor 2: pip install doubler"


def test_adding_a_runtime_is_one_registry_entry(monkeypatch, tmp_path: Path) -> None:
    entry = RuntimeSpec("doubler", f"{__name__}:Doubler", ("tflite",), f"{__name__}:doubler_unavailable_reason",
                        options={"factor": 2}, runs_on={"local": Placement()})
    monkeypatch.setattr(runtimes, "REGISTRY", (*REGISTRY, entry))
    assert LocalCPU().runtimes("tflite") == ["litert", "doubler"]  # the device asks the registry
    assert SSHDevice.runtimes(SSHDevice.__new__(SSHDevice), "tflite") == ["litert"]  # only where it runs
    assert unavailable_reason("doubler") is None
    assert unavailable_reason("doubler", options={"factor": 3}) == "Doubler needs factor 2: pip install doubler"
    np.savez(tmp_path / "feeds.npz", x=np.array([[1.5], [-2.0]], dtype=np.float32))
    job = Job(runtime="doubler", artifact={}, artifact_path="", inputs=[], outputs=[],
              feeds_path=str(tmp_path / "feeds.npz"), outputs_path=str(tmp_path / "out.npz"), result_path="")
    res = make_runner("doubler").run_job(job)
    with np.load(tmp_path / "out.npz") as z:
        assert z["y"].ravel().tolist() == [3.0, -4.0]
    assert res.notes == ["factor 2"]
