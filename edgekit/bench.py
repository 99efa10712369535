"""Latency measurement: the benchmark_model loop rule, summary statistics, environment fingerprint.

numpy and the standard library only (and the leaf protocol): imported by the parent and by every worker.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.protocol import BenchSettings


def check_settings(s: BenchSettings) -> None:
    """Refuse settings that would not measure anything (user input: raise, never assert)."""
    for option, value in (("--min-time", s.min_time), ("--max-time", s.max_time),
                          ("--warmup-min-time", s.warmup_min_time)):
        if not math.isfinite(value):
            raise InputError(f"{option} must be a finite number of seconds. Received: {option[2:]}={value}")
    if s.runs < 1:
        raise InputError(f"--runs must be at least 1. Received: runs={s.runs}")
    if s.warmup < 0:
        raise InputError(f"--warmup must be 0 or more. Received: warmup={s.warmup}")
    if s.min_time < 0 or s.warmup_min_time < 0:
        raise InputError(f"--min-time must be 0 or more. Received: min_time={s.min_time}")
    if s.max_time <= 0:
        raise InputError(f"--max-time must be positive. Received: max_time={s.max_time}")


def run_loop(fn: Callable[[], Any], runs: int, min_time: float, max_time: float) -> tuple[list[float], float]:
    """Call ``fn`` while (count < runs or elapsed < min_time) and elapsed <= max_time.

    Returns the per-call times in ms and the elapsed seconds. Only ``fn`` sits between the two clock
    reads, so the loop's own cost (~0.1 us) is all that is added to what the runtime does.
    """
    clock = time.perf_counter_ns
    times: list[float] = []
    start = clock()
    min_ns, max_ns = min_time * 1e9, max_time * 1e9
    elapsed = 0
    while (len(times) < runs or elapsed < min_ns) and elapsed <= max_ns:
        t0 = clock()
        fn()
        t1 = clock()
        times.append((t1 - t0) / 1e6)
        elapsed = t1 - start
    return times, elapsed / 1e9


# Per-run times kept for plots. The summary uses every run; a 1-us model timed for a second makes a
# million of them, which no plot needs and no JSON file should carry.
MAX_SAMPLES = 2000


def thin(times_ms: list[float], most: int = MAX_SAMPLES) -> list[float]:
    """At most ``most`` of the per-run times, evenly strided (order kept, so drift stays visible)."""
    step = max(1, -(-len(times_ms) // most))
    return list(times_ms[::step])


# Steady-state times written to report.json (``latency_samples_ms``) for baselines (edgekit.baseline): enough
# for a stable bootstrap of the median; times are whole nanoseconds, so 6 decimals of a ms lose nothing.
REPORT_SAMPLES = 1000


def report_samples(times_ms: list[float]) -> list[float] | None:
    """At most REPORT_SAMPLES of the per-run times for report.json (None when there are none)."""
    return [round(float(v), 6) for v in thin(times_ms, REPORT_SAMPLES)] or None


def summarize(times_ms: list[float]) -> dict[str, float | int]:
    """count/min/max/mean/std/p50/p90/p99 of per-run times in ms."""
    if not times_ms:
        return {"count": 0}
    a = np.asarray(times_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {
        "count": int(a.size),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
    }


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB.

    Linux: VmHWM from /proc/self/status, because ru_maxrss survives exec: a worker forked from a large
    parent (a test process holding TensorFlow) would report the parent's peak as its own.
    Elsewhere: ru_maxrss (KiB on Linux, bytes on macOS)."""
    status = _read("/proc/self/status")
    for line in (status or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# ---------------------------------------------------------------------------------------------------------
# Environment fingerprint


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
            return value.strip()
    return platform.processor() or platform.machine()


def fingerprint() -> dict[str, Any]:
    """Where the numbers were measured; library versions come from each worker."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
