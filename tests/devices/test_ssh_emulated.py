"""Opt-in (`make test-rpi-emulated`): validate over a real sshd with an emulated aarch64 Raspberry Pi python.

scripts/rpi-emulated.sh builds the userland (Debian arm64 CPython 3.11 + the aarch64 ai-edge-litert wheel,
run by qemu-aarch64-static) and sets EDGEKIT_RPI_EMU_PYTHON. Asserts the device fingerprint and parity;
never latency: emulated inference is hundreds of times slower and says nothing about a real board.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgekit.protocol import BenchSettings
from edgekit.validate import ValidateOptions, validate
from tests.devices.test_ssh import SSHServer

EMU_PYTHON = os.environ.get("EDGEKIT_RPI_EMU_PYTHON")
pytestmark = pytest.mark.skipif(not EMU_PYTHON, reason="opt-in: run `make test-rpi-emulated`")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> SSHServer:
    server = SSHServer(tmp_path_factory.mktemp("sshd-emu"))
    yield server
    server.stop()


def test_emulated_pi_fingerprint_and_parity(sshd: SSHServer, converted_cnn, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    profile = sshd.profile(tmp_path / "rpi-emu.toml", python=EMU_PYTHON, workdir=str(remote), emulated=True,
                           connect_timeout=10, threads=4)
    # Few runs: each emulated inference is slow, and the numbers are not the point.
    bench = BenchSettings(runs=3, warmup=1, min_time=0.0, max_time=20.0, warmup_min_time=0.0)
    rep = validate(converted_cnn.out, ValidateOptions(device=str(profile), artifacts=["tflite-float32", "tflite-int8"],
                                                      bench=bench, ci=False, timeout_s=300,
                                                      report_dir=tmp_path / "report"))
    env = rep["device"]["environment"]
    assert env["machine"] == "aarch64" and "Raspberry Pi 4" in env["cpu"]
    assert env["runtime"] == "ai_edge_litert" and rep["device"]["emulated"] is True
    rows = {r["artifact"]: r for r in rep["results"]}
    assert all(r["status"] == "pass" for r in rows.values()), [r["reason"] for r in rows.values()]
    # The aarch64 kernels compute what the x86 source model computed (measured ~1e-6 relative).
    assert rows["tflite-float32"]["parity"]["outputs"]["output_0"]["max_abs"] < 1e-5
    assert rows["tflite-int8"]["parity"]["outputs"]["output_0"]["sqnr_db"] > 12
    for r in rows.values():
        assert any("emulated device (qemu)" in n for n in r["notes"])
    assert "rpi-emu (emulated)" in (tmp_path / "report" / "report.md").read_text()
    assert list(remote.iterdir()) == []
