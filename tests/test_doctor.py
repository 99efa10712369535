"""edgekit doctor: versions against the known-good pins, and optional components."""

from __future__ import annotations

import json
import shutil

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
    assert states["tflite-runtime"] in ("ok", "differs", "not installed (optional)")


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
