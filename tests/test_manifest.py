"""manifest.py: the typed convert -> validate/bundle contract, its load/save, and its refusals (one line, exit 2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgekit import manifest as mf
from edgekit.cli import app
from edgekit.errors import InputError, ManifestError
from tests.helpers import assert_bad_input, manifest_dict

runner = CliRunner()


def write(folder: Path, doc) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / mf.MANIFEST_NAME).write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return folder


def test_valid_manifest_round_trips_to_identical_bytes(tmp_path: Path) -> None:
    d = manifest_dict()
    m = mf.Manifest.from_dict(d)
    assert m.to_dict() == d
    assert m.artifacts[0].quantization["inputs"][0] == mf.QuantParams("image", "int8", 0.5, -3)
    assert m.inputs[0] == mf.TensorSpec("image", [None, 16, 16, 3], "float32") and not m.artifacts[1].ok
    path = mf.save(m, tmp_path)
    assert path.read_bytes() == (json.dumps(d, indent=2) + "\n").encode()
    assert mf.save(mf.load(tmp_path), tmp_path).read_bytes() == (json.dumps(d, indent=2) + "\n").encode()


def test_every_record_field_survives_save_and_load(tmp_path: Path) -> None:
    """The schema is derived from the dataclasses: a field added to them (with its default) must load back."""
    art = mf.Artifact(id="a", format="tflite", variant="float32", path="m.tflite")
    art.quantization["inputs"].append(mf.QuantParams("x", "int8", 0.25, 3))
    m = mf.Manifest(edgekit_version="0", source={}, inputs=[mf.TensorSpec("x", [None, 2], "float32")],
                    outputs=[mf.TensorSpec("y", [None, 3], "float32")], artifacts=[art])
    mf.save(m, tmp_path)
    assert mf.load(tmp_path) == m


def test_optional_fields_take_their_defaults() -> None:
    d = manifest_dict()
    for key in ("labels", "preprocessing", "golden", "calibration", "warnings", "created", "source"):
        del d[key]
    art = d["artifacts"][0]
    for key in list(art):
        if key not in ("id", "format", "variant", "path"):
            del art[key]
    d["unknown_future_field"] = {"x": 1}  # unknown keys are ignored, as before
    m = mf.Manifest.from_dict(d)
    a = m.artifacts[0]
    assert (a.status, a.sha256, a.converter, a.notes, a.requires_flex) == ("ok", None, {}, [], False)
    assert a.quantization == {"inputs": [], "outputs": []}
    assert m.source == {} and m.warnings == [] and m.labels is None


@pytest.mark.parametrize(("edit", "fragments"), [
    # Defect #11: each of these was a traceback.
    (lambda d: d["artifacts"][0].update(sha256=12345), ("artifacts[0].sha256", "expected a string", "12345")),
    (lambda d: d.update(golden="x"), ("golden", "expected an object", "'x'")),
    (lambda d: d.update(artifacts=["x"]), ("artifacts[0]", "expected an object", "'x'")),
    (lambda d: d["signature"]["inputs"][0].update(shape="16x16"), ("signature.inputs[0].shape", "a list")),
    (lambda d: d["signature"].pop("outputs"), ("signature.outputs", "required", "nothing")),
    (lambda d: d["artifacts"][0]["quantization"]["inputs"][0].update(zero_point="z"),
     ("artifacts[0].quantization.inputs[0].zero_point", "an integer", "'z'")),
    (lambda d: d["artifacts"][0].update(bytes=True), ("artifacts[0].bytes", "an integer", "True")),
    (lambda d: d.update(labels=[1, 2]), ("labels[0]", "a string", "1")),
    (lambda d: d["golden"].update(sha256=["a"]), ("golden.sha256", "an object")),
    (lambda d: d["artifacts"][0].update(io_names={"inputs": "x"}), ("artifacts[0].io_names.inputs", "a list")),
    (lambda d: d.update(signature=None), ("signature", "an object", "None")),
])
def test_wrong_types_are_one_line_naming_the_field(tmp_path: Path, edit, fragments) -> None:
    d = copy.deepcopy(manifest_dict())
    edit(d)
    with pytest.raises(ManifestError) as e:
        mf.Manifest.from_dict(d)
    for f in fragments:
        assert f in str(e.value), (f, str(e.value))
    assert "\n" not in str(e.value)
    res = runner.invoke(app, ["validate", str(write(tmp_path / "out", d))])
    assert_bad_input(res, fragments[0], "re-run `edgekit convert`")


@pytest.mark.parametrize(("text", "fragment"), [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"schema": 1, "x": ' + "[" * 100 + "]" * 100 + "}", "nested deeper than 64 levels"),
    ('{"schema": 1, "preprocessing": {"mean": NaN}}', "NaN is not a JSON number"),
    ('{"schema": 1, "preprocessing": {"mean": 1e999}}', "overflows"),
    ("[1, 2]", "does not hold a JSON object"),
    ('{"schema": "1"}', "manifest schema '1' is not supported"),
    ('{"schema": true}', "manifest schema True is not supported"),
], ids=["deep-200000", "deep-100", "nan", "overflow", "list", "schema-str", "schema-bool"])
def test_unreadable_manifests_are_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    folder = write(tmp_path / "out", text)
    with pytest.raises(ManifestError, match="re-run|install"):
        mf.load(folder)
    assert_bad_input(runner.invoke(app, ["validate", str(folder)]), fragment)


def test_save_refuses_non_finite_numbers_and_writes_nothing(tmp_path: Path) -> None:
    # Defect #18: NaN from a preprocessing record used to be written as the invalid JSON token NaN.
    m = mf.Manifest.from_dict(manifest_dict())
    m.preprocessing = {"mean": float("nan")}
    with pytest.raises(InputError, match="non-finite"):
        mf.save(m, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_artifact_lookup_and_safe_join(tmp_path: Path) -> None:
    m = mf.Manifest.from_dict(manifest_dict())
    assert m.artifact("onnx").reason == "boom"
    with pytest.raises(ManifestError, match="known ids: tflite-int8, onnx"):
        m.artifact("nope")
    assert mf.safe_join(tmp_path, "a/b.tflite") == tmp_path.resolve() / "a" / "b.tflite"
    for rel in ("/etc/passwd", "../x", "a/../../x", "", "~/x"):
        with pytest.raises(ManifestError):
            mf.safe_join(tmp_path, rel)


def test_sha256_and_size_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d" / "s").mkdir(parents=True)
    (tmp_path / "d" / "a.bin").write_bytes(b"abc")
    (tmp_path / "d" / "s" / "b.bin").write_bytes(b"de")
    import hashlib

    h = hashlib.sha256
    want = h(b"a.bin\0" + h(b"abc").hexdigest().encode() + b"\n" + b"s/b.bin\0" + h(b"de").hexdigest().encode()
             + b"\n").hexdigest()
    assert mf.sha256_path(tmp_path / "d") == want and mf.size_path(tmp_path / "d") == 5
    assert mf.sha256_path(tmp_path / "d" / "a.bin") == h(b"abc").hexdigest()


@pytest.mark.parametrize("target", ["web", "android", "ios"])
def test_bundle_refuses_non_finite_preprocessing(tmp_path: Path, target: str) -> None:
    # Defect #18: NaN in the recorded preprocessing went into model_card.json as NaN and into Kotlin as `nanf`.
    text = json.dumps(manifest_dict()).replace('"scale": 1.0', '"scale": NaN')
    folder = write(tmp_path / "out", text)
    res = runner.invoke(app, ["bundle", str(folder), "--target", target, "--out", str(tmp_path / "b")])
    assert_bad_input(res, "NaN is not a JSON number")
    assert not (tmp_path / "b").exists()
