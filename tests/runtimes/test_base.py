"""edgekit.runtimes.base: the in-process runner contract (state checks around the _impl methods) and its job loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import EdgekitError
from edgekit.protocol import BenchSettings, Job, JobResult
from edgekit.runtimes.base import InProcessRunner, OutOfProcessRunner, run_in_process


class DoubleRunner(InProcessRunner):
    """A numpy 'runtime' computing y = 2x, counting calls."""

    def _open_impl(self, job: Job) -> None:
        self.invokes = 0
        self.opened = True

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        self.staged = feeds["x"]

    def _invoke_impl(self) -> None:
        self.invokes += 1
        self.y = self.staged * 2

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"y": feeds["x"] * 2}

    def _close_impl(self) -> None:
        self.opened = False


def test_run_in_process_writes_outputs_and_stats(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.savez(tmp_path / "feeds.npz", x=x)
    job = Job(runtime="double", artifact={}, artifact_path="", inputs=[{"name": "x", "shape": [None, 2],
              "dtype": "float32"}], outputs=[{"name": "y", "shape": [None, 2], "dtype": "float32"}],
              feeds_path=str(tmp_path / "feeds.npz"), outputs_path=str(tmp_path / "out.npz"),
              result_path=str(tmp_path / "r.json"), threads=1,
              bench=BenchSettings(runs=9, warmup=4, min_time=0, max_time=5, warmup_min_time=0))
    r = DoubleRunner()
    res = run_in_process(r, job)
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_array_equal(z["y"], x * 2)
    assert res.latency["count"] == 9 and res.warmup["count"] == 4
    assert r.invokes == 1 + 4 + 9  # first inference + warm-up + steady state
    assert not r.opened  # closed
    assert res.peak_rss_mb > 10 and res.load_ms >= 0 and res.infer_ms > 0
    # JobResult survives its JSON round trip (it crosses a process boundary).
    back = JobResult.from_json(res.to_json())
    assert back.latency == res.latency and back.threads == 1
    assert json.loads(job.to_json())["bench"]["runs"] == 9
    assert Job.from_json(job.to_json()).bench.runs == 9




def test_public_methods_check_the_state_before_the_impl_runs(tmp_path: Path) -> None:
    r = DoubleRunner()
    x = {"x": np.array([[1.5, -2.0]], dtype=np.float32)}
    with pytest.raises(EdgekitError, match=r"DoubleRunner.stage\(\): open\(\) a job first"):
        r.stage(x)
    with pytest.raises(EdgekitError, match=r"infer\(\): open\(\) a job first"):
        r.infer(x)
    r.open(None)  # type: ignore[arg-type]
    with pytest.raises(EdgekitError, match=r"invoke\(\): stage\(\) a sample first"):
        r.invoke()
    assert r.invokes == 0  # the checks refused before the implementation ran
    with pytest.raises(EdgekitError, match="already open"):
        r.open(None)  # type: ignore[arg-type]
    r.stage(x)
    r.invoke()
    r.invoke()
    assert r.invokes == 2 and r.y.tolist() == [[3.0, -4.0]]
    assert r.infer(x)["y"].tolist() == [[3.0, -4.0]]
    r.close()
    r.close()  # closing twice is harmless
    assert not r.opened
    with pytest.raises(EdgekitError, match=r"invoke\(\): open\(\) a job first \(the runner is closed\)"):
        r.invoke()


def test_an_in_process_runner_must_implement_every_impl() -> None:
    class Partial(InProcessRunner):
        def _open_impl(self, job: Job) -> None: ...

    with pytest.raises(TypeError, match="_infer_impl"):
        Partial()  # type: ignore[abstract]


def test_an_out_of_process_runner_needs_only_run_job(tmp_path: Path) -> None:
    class Echo(OutOfProcessRunner):
        def run_job(self, job: Job) -> JobResult:
            return JobResult(runtime=job.runtime, notes=[f"backend {self.options['backend']}"])

    job = Job(runtime="echo", artifact={}, artifact_path="", inputs=[], outputs=[], feeds_path="",
              outputs_path="", result_path="")
    assert Echo({"backend": "wasm"}).run_job(job).notes == ["backend wasm"]
    assert not hasattr(Echo, "invoke") and not hasattr(Echo, "open")  # no stubs that only raise
