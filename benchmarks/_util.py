"""Shared helpers for the benchmark scripts: timing a command in a fresh process with its peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent

_MEASURE = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss, "rc": p.returncode, "err": p.stderr.decode()[-400:]}))
"""


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` from a small parent process, so RUSAGE_CHILDREN is this command's own peak RSS."""
    res = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=env,
                         check=True)
    out = json.loads(res.stdout)
    if out["rc"] != 0:
        raise SystemExit(f"benchmark command failed ({out['rc']}): {' '.join(cmd)}\n{out['err']}")
    return out


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t
