"""`edgekit --help` and `edgekit convert --help` against the standalone converters' --help, in one run.

Target (issue 2): 0.5 s and 100 MB peak RSS or less for edgekit, which must not import TensorFlow to print help.
Run: .venv/bin/python benchmarks/cli_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _util import VENV_BIN, measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFDF_DISABLE_WELCOME_MESSAGE": "1"}
    commands = {
        "edgekit --help": [str(VENV_BIN / "edgekit"), "--help"],
        "edgekit convert --help": [str(VENV_BIN / "edgekit"), "convert", "--help"],
        "edgekit validate --help": [str(VENV_BIN / "edgekit"), "validate", "--help"],
        "tflite_convert --help": [str(VENV_BIN / "tflite_convert"), "--help"],
        "tensorflowjs_converter --help": [str(VENV_BIN / "tensorflowjs_converter"), "--help"],
        "python -m tf2onnx.convert --help": [sys.executable, "-m", "tf2onnx.convert", "--help"],
    }
    rows = {}
    for name, cmd in commands.items():
        runs = [measure(cmd, env) for _ in range(args.repeat if name.startswith("edgekit") else 2)]
        rows[name] = (statistics.median(r["wall_s"] for r in runs), max(r["peak_rss_mb"] for r in runs))
    print(f"{'command':36} {'median s':>9} {'peak RSS MB':>12}")
    for name, (wall, rss) in rows.items():
        print(f"{name:36} {wall:9.3f} {rss:12.1f}")
    ek_wall, ek_rss = rows["edgekit convert --help"]
    standalone = [v for k, v in rows.items() if not k.startswith("edgekit")]
    fastest = min(w for w, _ in standalone)
    print(f"\nedgekit convert --help: {ek_wall:.3f} s, {ek_rss:.0f} MB "
          f"(target <= 0.5 s and <= 100 MB: {'MET' if ek_wall <= 0.5 and ek_rss <= 100 else 'MISSED'})")
    print(f"ratio to the fastest standalone converter's --help: {ek_wall / fastest:.2f}x time, "
          f"{ek_rss / min(r for _, r in standalone):.2f}x memory")


if __name__ == "__main__":
    main()
