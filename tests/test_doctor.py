"""edgekit doctor: versions against the known-good pins, and optional components."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from edgekit import doctor
from edgekit.cli import app


def test_pins_come_from_the_shipped_constraints_file():
    pins = doctor.known_good()
    assert pins["tensorflow"] == "2.19.0" and pins["ai-edge-litert"] == "2.3.0" and pins["ydf"] == "0.13.0"


def test_installed_versions_match_the_known_good_set():
    report = doctor.run_doctor()
    states = {p.name: p.state for p in report.packages}
    # make setup installs exactly the pins; anything else here means the environment drifted.
    for name in ("tensorflow", "keras", "tensorflowjs", "tf2onnx", "onnxruntime", "ai-edge-litert", "numpy"):
        assert states[name] == "ok", (name, states[name])
    # The optional legacy runtime: exactly the state its installed version implies (this line once accepted all).
    installed, pin = doctor._version("tflite-runtime"), doctor.known_good().get("tflite-runtime")
    want = "not installed (optional)" if installed is None else ("ok" if installed == pin or pin is None else "differs")
    assert states["tflite-runtime"] == want


@pytest.mark.parametrize("name, installed, pin, state", [
    ("tflite-runtime", None, "2.14.0", "not installed (optional)"),
    ("tensorflow", None, "2.19.0", "missing"),
    ("tensorflow", "2.19.0", "2.19.0", "ok"),
    ("tensorflow", "2.20.0", "2.19.0", "differs"),
    ("typer", "0.12.0", None, "ok"),  # unpinned: any version is fine
])
def test_package_state_is_decided_by_version_and_pin(name, installed, pin, state):
    assert doctor.PackageStatus(name, "", installed, pin).state == state


def test_accelerators_come_from_the_registry_checks(monkeypatch, tmp_path):
    from edgekit.runtimes import hardware

    monkeypatch.setattr(hardware, "gpu_nodes", lambda: [])
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    monkeypatch.setattr(hardware, "find_edgetpu_library", lambda: None)
    monkeypatch.setattr(doctor.shutil, "which", lambda tool: None)
    comps = {c.name: c for c in doctor.run_doctor().components}
    assert not comps["GPU"].present and "no GPU on this machine" in comps["GPU"].hint
    assert "falls back" not in comps["GPU"].hint  # a GPU row is never measured on the CPU
    assert not comps["libedgetpu"].present and "libedgetpu1-std" in comps["libedgetpu"].hint
    assert comps["GPU"].detail == "no GPU device node" and comps["libedgetpu"].detail == "not found"

    monkeypatch.setattr(hardware, "gpu_nodes", lambda: ["/dev/nvidia0"])
    monkeypatch.setattr(hardware, "find_edgetpu_library", lambda: "/usr/lib/libedgetpu.so.1")
    comps = {c.name: c for c in doctor.run_doctor().components}
    assert comps["GPU"].present and comps["GPU"].hint == "" and comps["GPU"].detail == "/dev/nvidia0"
    assert comps["libedgetpu"].present and comps["libedgetpu"].detail == "/usr/lib/libedgetpu.so.1"


def test_node_is_found_where_tfjs_in_node_looks(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKIT_NODE", str(tmp_path / "no-node"))
    comps = {c.name: c for c in doctor.run_doctor().components}
    assert not comps["node"].present and comps["node"].detail == "not found"
    assert "EDGEKIT_NODE=" in comps["node"].hint and "make setup-js" in comps["node"].hint


def test_a_drifted_version_is_flagged(monkeypatch):
    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda d: "2.20.0" if d == "tensorflow" else real(d))
    res = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "outside the known-good set: tensorflow" in res.output


def test_json_lists_components_and_node_is_detected():
    res = CliRunner().invoke(app, ["doctor", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    comps = {c["name"]: c for c in data["components"]}
    assert set(comps) >= {"node", "tfjs npm packages", "chromium", "ssh", "sshd", "edgetpu_compiler", "libedgetpu",
                          "GPU"}
    assert comps["node"]["present"] == (shutil.which("node") is not None)
    for c in comps.values():
        assert c["present"] or c["hint"], c  # anything missing says how to add it
