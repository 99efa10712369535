"""edgekit/extras.py: a missing library names the extra and the pip command (exit 3); a format that cannot be
converted here (tfjs on TensorFlow 2.21) is left out of 'all' with the reason, refused by name, never imported."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from typer.testing import CliRunner

from edgekit import extras
from edgekit.cli import app
from edgekit.errors import EXIT_MISSING_DEPENDENCY, FormatUnavailable, MissingDependency
from edgekit.formats import parse_formats, unavailable_targets


def _hide(monkeypatch, *modules: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda m, *a: None if m in modules else real(m, *a))


def _versions(monkeypatch, **versions: str | None) -> None:
    real = extras.version
    monkeypatch.setattr(extras, "version", lambda d: versions[d] if d in versions else real(d))


def test_a_missing_library_names_its_extra_and_the_pip_command(monkeypatch):
    _hide(monkeypatch, "tensorflow", "onnxruntime")
    with pytest.raises(MissingDependency) as e:
        extras.require("keras", "tensorflow")
    assert e.value.exit_code == EXIT_MISSING_DEPENDENCY == 3
    assert str(e.value).startswith("tensorflow is not installed: it comes with edgekit's `convert` extra: "
                                   "pip install 'edgekit[convert]' -c ")
    assert str(e.value).endswith(extras.constraints_file().name) and extras.constraints_file().is_file()
    assert "edgekit[runtimes]" in str(extras.missing("onnxruntime"))
    assert extras.missing("keras") is None


def test_the_constraints_file_matches_the_interpreter():
    name = extras.constraints_file().name
    assert name == ("constraints-py313.txt" if sys.version_info >= (3, 13) else "constraints.txt")
    assert "tensorflow==" in extras.constraints_file().read_text()


def test_convert_without_tensorflow_exits_3_with_the_pip_command(monkeypatch, mlp_path, tmp_path):
    _hide(monkeypatch, "tensorflow")
    res = CliRunner().invoke(app, ["convert", str(mlp_path), "--out", str(tmp_path / "o"), "--formats", "onnx"])
    assert res.exit_code == 3, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: tensorflow is not installed"), res.output
    assert "pip install 'edgekit[convert]' -c " in res.output and not (tmp_path / "o").exists()


def test_tfjs_on_a_newer_tensorflow_is_unavailable_with_the_alternative(monkeypatch):
    _versions(monkeypatch, tensorflow="2.21.0", tensorflowjs=None)
    reason = extras.tfjs_unavailable_reason()
    assert reason is not None and "TensorFlow 2.19" in reason and "TensorFlow 2.21.0" in reason
    assert "LiteRT.js" in reason and "onnxruntime-web" in reason and "pip install 'edgekit[all]'" in reason
    # installed next to a TensorFlow it does not support (pip --no-deps): still unavailable, never imported
    _versions(monkeypatch, tensorflow="2.21.0", tensorflowjs="4.22.0")
    assert "cannot run here" in extras.tfjs_unavailable_reason()


def test_tfjs_with_the_tensorflow_it_pins_is_available(monkeypatch):
    _versions(monkeypatch, tensorflow="2.19.0", tensorflowjs="4.22.0")
    assert extras.tfjs_unavailable_reason() is None


def test_an_unavailable_format_leaves_all_and_is_refused_by_name(monkeypatch):
    _versions(monkeypatch, tensorflow="2.21.0", tensorflowjs=None)
    kept, notes = unavailable_targets("all", parse_formats("all"))
    assert [t.id for t in kept] == ["saved_model", "tflite-float32", "tflite-float16", "tflite-dynamic",
                                    "tflite-int8", "onnx"]
    assert len(notes) == 1 and notes[0].startswith("tfjs left out: unavailable in this environment: ")
    for spec in ("tfjs", "onnx,tfjs"):
        with pytest.raises(FormatUnavailable, match="--formats tfjs: the tfjs format cannot be converted here") as e:
            unavailable_targets(spec, parse_formats(spec))
        assert e.value.exit_code == 3


def test_onnx_without_tf2onnx_is_unavailable_with_the_extra(monkeypatch):
    _hide(monkeypatch, "tf2onnx")
    kept, notes = unavailable_targets("all", parse_formats("all"))
    assert "onnx" not in [t.id for t in kept] and "edgekit[convert]" in notes[-1]


def test_this_stack_converts_every_format():
    # the main stack (Python 3.11, TensorFlow 2.19, tensorflowjs) has every format
    kept, notes = unavailable_targets("all", parse_formats("all"))
    if sys.version_info < (3, 13):
        assert notes == [] and len(kept) == len(parse_formats("all"))
    else:
        assert [n.split(" ")[0] for n in notes] == ["tfjs"]


def test_inside_pipx_the_command_installs_into_edgekits_own_venv(monkeypatch, tmp_path):
    """Under pipx, `pip install` would go to another environment: the command is `pipx runpip edgekit install`."""
    (tmp_path / "pipx_metadata.json").write_text("{}")  # what pipx writes at the root of each venv it manages
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    cmd = extras.pip_command("convert")
    assert cmd.startswith("pipx runpip edgekit install 'edgekit[convert]' -c "), cmd
    _hide(monkeypatch, "tensorflow")
    assert "pipx runpip edgekit install 'edgekit[convert]'" in str(extras.missing("tensorflow"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "plain-venv"))
    assert extras.pip_command("convert").startswith("pip install 'edgekit[convert]' -c ")
