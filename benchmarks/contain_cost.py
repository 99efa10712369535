"""What crash containment (edgekit/isolate.py: int8 calibration in a child process) adds to a convert.

Converts the test-suite's MobileNetV2 fixture (tests/models.py) with int8 contained and in-process,
alternating, and prints the seconds and their ratio.
Run: PYTHONPATH=. .venv/bin/python benchmarks/contain_cost.py [ROUNDS] [FORMATS ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(rounds: int, format_sets: tuple[str, ...]) -> None:
    from tests import models

    work = Path(tempfile.mkdtemp(prefix="edgekit-bench-"))
    model = models.build_mobilenet(work / "mobilenet.keras")
    x, y = models.quadrant_images(160, 32, seed=13)
    np.savez(work / "cal.npz", image=x, labels=y)
    for formats in format_sets:
        times: dict[str, list[float]] = {"1": [], "0": []}
        for r in range(rounds):
            for contain in ("1", "0"):
                out = work / f"o-{formats}-{contain}-{r}"
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "edgekit", "convert", str(model), "--out", str(out),
                                "--formats", formats, "--calibration", str(work / "cal.npz"), "--quiet"],
                               check=True, capture_output=True, env={**os.environ, "EDGEKIT_CONTAIN": contain})
                times[contain].append(time.perf_counter() - t)
        on, off = min(times["1"]), min(times["0"])
        print(f"--formats {formats}: contained {on:.1f} s, in-process {off:.1f} s (best of {rounds}), "
              f"+{on - off:.1f} s, ratio {on / off:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, tuple(sys.argv[2:]) or ("tflite-int8", "all"))
