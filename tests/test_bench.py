"""edgekit.bench: the benchmark_model loop rule, statistics, and the in-process job loop."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.bench import check_settings, fingerprint, run_loop, summarize, thin
from edgekit.errors import InputError
from edgekit.protocol import BenchSettings, Job, JobResult
from edgekit.runtimes.base import Runner, run_in_process


def test_loop_stops_at_runs_when_min_time_is_zero() -> None:
    times, _ = run_loop(lambda: None, runs=7, min_time=0.0, max_time=10.0)
    assert len(times) == 7


def test_loop_keeps_going_until_min_time() -> None:
    times, elapsed = run_loop(lambda: None, runs=3, min_time=0.05, max_time=10.0)
    assert elapsed >= 0.05
    assert len(times) > 3


def test_loop_is_bounded_by_max_time() -> None:
    times, elapsed = run_loop(lambda: time.sleep(0.01), runs=1000, min_time=0.0, max_time=0.05)
    # Stops at the first run that ends after 50 ms: a handful of runs, never 1000.
    assert 3 <= len(times) <= 8
    assert elapsed < 0.2
    assert all(t >= 9.0 for t in times)  # each run slept ~10 ms


def test_summarize_known_values() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["count"] == 5 and s["min"] == 1.0 and s["max"] == 100.0
    assert s["mean"] == pytest.approx(22.0)
    assert s["p50"] == pytest.approx(3.0)
    assert s["p90"] == pytest.approx(np.percentile([1, 2, 3, 4, 100], 90))
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 4, 100]))
    assert summarize([]) == {"count": 0}


def test_thin_keeps_order_and_bound() -> None:
    t = [float(i) for i in range(10_001)]
    out = thin(t, most=100)
    assert len(out) <= 100 and out == sorted(out) and out[0] == 0.0
    assert thin([1.0, 2.0], most=100) == [1.0, 2.0]


@pytest.mark.parametrize(
    "settings",
    [BenchSettings(runs=0), BenchSettings(runs=-1), BenchSettings(warmup=-1), BenchSettings(min_time=-1),
     BenchSettings(max_time=0)],
)
def test_bad_settings_are_input_errors(settings: BenchSettings) -> None:
    with pytest.raises(InputError):
        check_settings(settings)


class DoubleRunner(Runner):
    """A numpy 'runtime' computing y = 2x, counting calls."""

    runtime = "double"

    def open(self, job: Job) -> None:
        self.invokes = 0
        self.opened = True

    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        self.staged = feeds["x"]

    def invoke(self) -> None:
        self.invokes += 1
        self.y = self.staged * 2

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"y": feeds["x"] * 2}

    def close(self) -> None:
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


def test_fingerprint_has_cpu_and_versions() -> None:
    fp = fingerprint()
    assert fp["cores"] >= 1 and fp["cpu"] and fp["python"].startswith("3.")
    assert set(fp) >= {"cpu", "cores", "usable_cores", "governor", "os", "python", "numpy"}
