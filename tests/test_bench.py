"""edgekit.bench: the benchmark_model loop rule, statistics, the environment fingerprint."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgekit.bench import check_settings, fingerprint, run_loop, summarize, thin
from edgekit.errors import InputError
from edgekit.protocol import BenchSettings


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


def test_fingerprint_has_cpu_and_versions() -> None:
    fp = fingerprint()
    assert fp["cores"] >= 1 and fp["cpu"] and fp["python"].startswith("3.")
    assert set(fp) >= {"cpu", "cores", "usable_cores", "governor", "os", "python", "numpy"}
