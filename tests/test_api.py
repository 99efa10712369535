"""The public Python API: edgekit.convert/validate/bundle/train from the package root, loaded lazily (import
edgekit stays light), the verbs' modules still modules, and docs/python-api.md's example run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import edgekit
from edgekit import api
from edgekit.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras", "tf_keras", "tensorflowjs", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nimport json\n"
                          "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_edgekit_is_light():
    loaded = _modules_after("import edgekit")
    assert not loaded & {*HEAVY, "numpy", "pydantic", "typer", "rich"}, loaded
    loaded = _modules_after("import edgekit\nedgekit.convert, edgekit.validate, edgekit.bundle, edgekit.train")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)  # the verbs load; the converters wait for a call


def test_the_verbs_are_callable_modules_at_the_root():
    import edgekit.validate as v  # the module, with everything in it

    for verb in api.VERBS:
        obj = getattr(edgekit, verb)
        assert callable(obj) and obj.__name__ == f"edgekit.{verb}" and verb in edgekit.__all__
    assert v is edgekit.validate and hasattr(v, "ValidateOptions")
    from edgekit import convert

    assert convert is sys.modules["edgekit.convert"] and "convert" in dir(edgekit)
    with pytest.raises(AttributeError):
        edgekit.no_such_verb  # noqa: B018


@pytest.mark.parametrize("call, fragment", [
    (lambda: edgekit.convert("m.keras", "out", formatz="onnx"), "edgekit.convert: unknown option(s) formatz"),
    (lambda: edgekit.validate("out", run=3), "edgekit.validate: unknown option(s) run; valid: device"),
    (lambda: edgekit.bundle("out", "app", targett="web"), "edgekit.bundle: unknown option(s) targett"),
    (lambda: edgekit.train("digits", epochs=1), "edgekit.train: unknown option(s) epochs"),
])
def test_an_unknown_option_lists_the_valid_ones(call, fragment):
    with pytest.raises(InputError) as e:
        call()
    assert str(e.value).startswith(fragment)


def test_bad_input_raises_the_cli_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        edgekit.convert(tmp_path / "nope.keras", tmp_path / "out")
    with pytest.raises(InputError):
        edgekit.validate(tmp_path)  # no manifest.json


def _example() -> str:
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/python-api.md: exactly one ```python block is the runnable example"
    return blocks[0]


@pytest.mark.slow
def test_the_documented_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_example(), "docs/python-api.md", "exec"), {"__name__": "__docs__"})
    printed = capsys.readouterr().out
    assert "('tflite-dynamic', 'litert'): 'pass'" in printed and "('tflite-float32', 'litert'): 'pass'" in printed
    assert (tmp_path / "out" / "manifest.json").is_file() and (tmp_path / "app").is_dir()
