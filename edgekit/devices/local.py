"""The local CPU: one worker subprocess per job, so a crashing runtime takes down only itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edgekit.devices.base import Device, JobOutcome
from edgekit.protocol import Job, JobResult

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


class LocalCPU(Device):
    name = "cpu"
    kind = "local"
    def describe(self) -> dict[str, Any]:
        from edgekit.bench import fingerprint

        return {"name": self.name, "kind": self.kind, "environment": fingerprint()}

    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        job.options = {**job.options, **self.runner_options()}
        job_path = Path(job.result_path).with_suffix(".job.json")
        job_path.write_text(job.to_json(), encoding="utf-8")
        env = dict(os.environ)
        # The worker must import this edgekit even when it is not installed (a source checkout).
        pkg_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for var in _THREAD_VARS:  # keep helper thread pools at the thread count being measured
            env[var] = str(job.threads)
        cmd = [sys.executable, "-m", "edgekit.runtimes.worker", str(job_path)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired as e:
            tail = _tail(e.stderr)
            return JobOutcome(None, f"timed out after {timeout_s:g} s", time.perf_counter() - t0, tail)
        wall = time.perf_counter() - t0
        tail = _tail(proc.stderr)
        result_path = Path(job.result_path)
        result = JobResult.from_json(result_path.read_text(encoding="utf-8")) if result_path.is_file() else None
        if proc.returncode < 0:
            return JobOutcome(result, f"the {job.runtime} worker crashed ({_signal_name(proc.returncode)})", wall, tail)
        if result is None:
            last = tail[-1] if tail else "no output"
            return JobOutcome(None, f"the {job.runtime} worker exited with {proc.returncode}: {last}", wall, tail)
        if result.ok:
            return JobOutcome(result, None, wall, tail)
        return JobOutcome(result, result.error, wall, tail, status=result.status)


def _tail(text: str | bytes | None, n: int = 20) -> list[str]:
    if text is None:
        return []
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()][-n:]


class BrowserDevice(LocalCPU):
    """Headless Chromium here: the same worker subprocesses, the runtimes the registry places on ``browser``."""

    name = "browser"
    kind = "browser"

    def runner_options(self) -> dict[str, Any]:
        return {"accelerator": self.kind}  # the worker builds the registry's runner for this device kind
