"""schemas.py: strict JSON, labels, the preprocessing record (train writes, convert records, bundle reads)."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from edgekit import schemas
from edgekit.bundle.preprocess import resolve
from edgekit.cli import app
from edgekit.errors import InputError
from tests.helpers import assert_bad_input

runner = CliRunner()
DEEP = "[" * 200_000 + "]" * 200_000


@pytest.fixture()
def fake_model(tmp_path: Path) -> Path:
    """Passes convert's cheap checks (a zip with config.json); labels and preprocessing are read before TF."""
    p = tmp_path / "model.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", "{}")
    return p


def _convert(model: Path, tmp_path: Path, *args: str):
    out = tmp_path / "out"
    res = runner.invoke(app, ["convert", str(model), "--out", str(out), "--formats", "tflite-float32", *args])
    assert not out.exists()
    return res


@pytest.mark.parametrize("option", ["--labels", "--preprocessing"])
def test_deeply_nested_json_is_one_line(tmp_path: Path, fake_model: Path, option: str) -> None:
    # Defect #10: 200,000 levels gave a RecursionError traceback.
    f = tmp_path / "deep.json"
    f.write_text(DEEP)
    assert_bad_input(_convert(fake_model, tmp_path, option, str(f)), option, "nested too deeply")
    f.write_text('{"a": ' + "[" * 65 + "]" * 65 + "}")
    assert_bad_input(_convert(fake_model, tmp_path, option, str(f)), "nested deeper than 64 levels")


@pytest.mark.parametrize("text", ['{"mean": NaN}', '{"std": [1, Infinity, 1]}', '{"x": -Infinity}',
                                  '{"scale": 1e400}', '{"note": {"deep": [NaN]}}'])
def test_non_finite_preprocessing_is_refused(tmp_path: Path, fake_model: Path, text: str) -> None:
    # Defect #18: these went into manifest.json and model_card.json as invalid JSON, into Kotlin as `nanf`.
    f = tmp_path / "pre.json"
    f.write_text(text)
    res = _convert(fake_model, tmp_path, "--preprocessing", str(f))
    assert_bad_input(res, "--preprocessing", "give finite numbers")


@pytest.mark.parametrize(("text", "fragments"), [
    ('{"scale": true}', ("scale: expected a number, received True",)),
    ('{"mean": [0.5, "a", 0.5]}', ("mean[1]: expected a number, received 'a'",)),
    ('{"std": [1, 0, 1]}', ("std: expected a non-zero number",)),
    ('{"resize": "bilinear"}', ("resize: expected one of 'stretch' or 'crop', received 'bilinear'",)),
    ('{"color": "RGB"}', ("color: expected one of 'rgb', 'bgr' or 'grayscale'",)),
    ('{"invert": "yes"}', ("invert: expected true or false",)),
    ('[1, 2]', ("expected a JSON object, received list",)),
    ('{"a": 1', ("not valid JSON",)),
])
def test_preprocessing_types_are_checked_at_convert(tmp_path: Path, fake_model: Path, text: str, fragments) -> None:
    f = tmp_path / "pre.json"
    f.write_text(text)
    assert_bad_input(_convert(fake_model, tmp_path, "--preprocessing", str(f)), *fragments)


@pytest.mark.parametrize(("name", "text", "fragment"), [
    ("l.json", '["a", 1]', "[1]: expected a string, received 1"),
    ("l.json", '"abc"', "expected a list, received 'abc'"),
    ("l.json", "[]", "expected a non-empty value"),
    ("l.json", '["a\\nb"]', "without line breaks"),
    ("l.txt", "\n \n", "is empty"),
])
def test_bad_labels_are_one_line(tmp_path: Path, fake_model: Path, name: str, text: str, fragment: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    assert_bad_input(_convert(fake_model, tmp_path, "--labels", str(f)), "--labels", fragment)


def test_labels_and_preprocessing_read_as_given(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("cat\n\n  dog \n")
    (tmp_path / "l.json").write_text('["cat", "dog"]')
    assert schemas.read_labels(tmp_path / "l.txt") == schemas.read_labels(tmp_path / "l.json") == ["cat", "dog"]
    rec = {"scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406], "std": 0.5, "resize": "crop",
           "free": {"form": ["kept", 1, None]}}
    (tmp_path / "p.json").write_text(json.dumps(rec))
    assert schemas.read_preprocessing(tmp_path / "p.json") == rec  # recorded exactly as given
    assert schemas.read_labels(None) is None and schemas.read_preprocessing(None) is None


def test_bundle_resolves_the_same_record() -> None:
    p = resolve({"scale": 2, "mean": 1, "std": [1, 2, 4], "resize": "crop", "extra": 1}, 3)
    assert (p.scale, p.mean, p.std, p.resize, p.color, p.ignored) == (2.0, [1.0] * 3, [1.0, 2.0, 4.0], "crop",
                                                                      "rgb", ["extra"])
    assert resolve(None, 1).color == "grayscale"
    with pytest.raises(InputError, match="manifest preprocessing: resize: expected one of"):
        resolve({"resize": "bilinear to the input size, no crop"}, 3)
    with pytest.raises(InputError, match="'mean' must be a number or 3 numbers"):
        resolve({"mean": [1, 2]}, 3)


def test_one_line_names_field_expected_type_and_value() -> None:
    class M(BaseModel):
        a: list[int]

    with pytest.raises(ValidationError) as e:
        M.model_validate({"a": [1, "x", "y"]})
    assert schemas.one_line(e.value, "thing.json") == \
        "thing.json: a[1]: expected an integer, received 'x' (+1 more)"


def test_check_json_and_dumps_json() -> None:
    schemas.check_json({"a": [1, 2.5, None, "s", True]}, "x")
    for bad in ({"a": math.nan}, {1: 2}, {"a": {1, 2}}, [[[[1]]]]):
        with pytest.raises(InputError):
            schemas.check_json(bad, "x", max_depth=3)
    with pytest.raises(InputError, match="non-finite"):
        schemas.dumps_json({"a": math.inf})
    assert schemas.finite_or_none({"loss": [1.0, math.nan], "x": (math.inf,)}) == {"loss": [1.0, None], "x": [None]}


@pytest.mark.parametrize(("doc", "fragment"), [
    (DEEP, "nested too deeply"),
    ('{"files": {"calibration": "../../elsewhere.npz"}}', "files.calibration: expected a file name inside"),
    ('{"files": {"model": 5}}', "files.model: expected a string, received 5"),
    ('{"files": {}, "golden_samples": "abc"}', "golden_samples: expected an integer, received 'abc'"),
    ('{"files": {}, "formats": ["tflite"]}', "formats: expected a string"),
    ('{"files": "x"}', "files: expected an object"),
    ('{"files": {}, "metrics": {"loss": NaN}}', "NaN is not a JSON number"),
])
def test_train_record_is_typed(tmp_path: Path, doc: str, fragment: str) -> None:
    folder = tmp_path / "trained"
    folder.mkdir()
    (folder / "model.keras").write_text("x")
    (folder / "train.json").write_text(doc)
    res = runner.invoke(app, ["convert", str(folder)])
    assert_bad_input(res, "train.json is not a readable `edgekit train` record", fragment)
    assert not (folder / "artifacts").exists()


@pytest.mark.parametrize(("value", "fragment"), [
    ("[1]", "expected an object, received [1]"),
    ('{"task": {"type": "worker", "index": "abc"}}', "task.index: expected an integer, received 'abc'"),
    ('{"task": {"index": -1}}', "task.index: expected a number >= 0"),
    ('{"cluster": {"worker": "host:1"}}', "cluster.worker: expected a list"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_tf_config_is_typed(tmp_path: Path, monkeypatch, value: str, fragment: str) -> None:
    # A stray TF_CONFIG gave AttributeError/ValueError tracebacks when `edgekit train` decided who writes --out.
    monkeypatch.setenv("TF_CONFIG", value)
    res = runner.invoke(app, ["train", "sunspots-forecaster", "--out", str(tmp_path / "o")])
    assert_bad_input(res, "TF_CONFIG (environment variable)", fragment)
    assert not (tmp_path / "o").exists()


def test_tf_config_decides_the_chief(monkeypatch) -> None:
    from edgekit.train.engine import is_chief

    for value, chief in (('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}', True),
                         ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', False),
                         ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker"}}', False),
                         ('{"task": {"type": "chief", "index": 0}}', True)):
        monkeypatch.setenv("TF_CONFIG", value)
        assert is_chief() is chief, value
