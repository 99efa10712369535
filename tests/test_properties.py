"""Property-based tests (Hypothesis): for any manifest, preprocessing record, --tol or option string, the CLI
exits 0, 1 or 2 with no traceback (exit 2: one `edgekit: error:` line) and writes nothing outside its folders.

Bounded: the "edgekit" profile runs 50 examples per property (400 in all, ~15 s of CPU, under a minute loaded)
and has no deadline (a loaded CI machine must not make timing flakes). HYPOTHESIS_PROFILE=thorough runs more.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgekit import manifest as mf
from edgekit import schemas
from edgekit.bundle.preprocess import resolve
from edgekit.cli import app
from edgekit.devices import profiles
from edgekit.errors import InputError
from edgekit.train.recipe import load_recipe
from tests.helpers import manifest_dict

settings.register_profile("edgekit", max_examples=50, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "edgekit"))

runner = CliRunner()

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
           | st.sampled_from(["stretch", "crop", "rgb", "grayscale", "ok", "tflite", "", "..", "/etc/passwd"]))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
deep_text = st.integers(60, 5000).map(lambda n: "[" * n + "]" * n)


@contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh root holding the command's folder and a bystander file that must stay untouched."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "bystander.txt").write_text("keep")
        yield root


def snapshot(root: Path, owned: Path) -> dict[str, bytes]:
    """Every file under ``root`` outside ``owned`` (the folder the command may write), with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and owned not in p.parents}


def check_cli(res: Any, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    assert res.exit_code in allowed, (res.exit_code, res.output)
    assert "Traceback" not in res.output and not (res.exception and not isinstance(res.exception, SystemExit)), \
        res.output
    if res.exit_code == 2:
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), res.output


# ---------------------------------------------------------------------------------------------------------
# The manifest


@st.composite
def mutated_manifests(draw: st.DrawFn) -> str:
    """A valid manifest with one value somewhere replaced or removed, or deep / arbitrary text."""
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "deep", "text"]))
    if kind == "deep":
        return draw(deep_text)
    if kind == "text":
        return draw(st.text(max_size=40))
    doc: Any = copy.deepcopy(manifest_dict())
    node = doc
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = draw(json_values)
        break
    return json.dumps(doc)  # NaN/Infinity drawn by floats() become the invalid tokens a hand edit would write


@given(text=mutated_manifests())
def test_any_manifest_is_loaded_or_refused_in_one_line(text: str) -> None:
    with sandbox() as root:
        folder = root / "out"
        folder.mkdir()
        (folder / mf.MANIFEST_NAME).write_text(text)
        try:
            m = mf.load(folder)
        except mf.ManifestError as e:
            assert "\n" not in str(e)
        else:
            assert m.schema == mf.SCHEMA_VERSION
            json.dumps(m.to_dict(), allow_nan=False)  # what was accepted can be written back as JSON
        before = snapshot(root, folder)
        check_cli(runner.invoke(app, ["validate", str(folder)]), (2,))  # its golden files are absent: exit 2
        assert snapshot(root, folder) == before


# ---------------------------------------------------------------------------------------------------------
# The preprocessing record


records = st.one_of(
    st.dictionaries(st.sampled_from(list(schemas.HONOURED) + ["note", "range"]), json_values, max_size=5),
    st.fixed_dictionaries({}, optional={
        "scale": st.floats(), "mean": st.floats() | st.lists(st.floats(), max_size=4),
        "std": st.floats() | st.lists(st.floats(), max_size=4), "color": st.sampled_from(schemas.COLORS),
        "resize": st.sampled_from(schemas.RESIZES), "invert": st.booleans()}),
    json_values,
)


def _model(folder: Path) -> Path:
    p = folder / "model.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", "{}")
    return p


def convert_reading(option: str, name: str, text: str, accepted: bool) -> None:
    """convert with ``option FILE`` stops at a non-empty --out right after reading FILE: exit 2 either way, the
    --out refusal exactly when the schema accepts FILE, and nothing anywhere written or removed."""
    with sandbox() as root:
        model, given, out = _model(root), root / name, root / "out"
        given.write_text(text)
        out.mkdir()
        (out / "existing.txt").write_text("x")
        before = snapshot(root, root / "nothing-is-owned")
        res = runner.invoke(app, ["convert", str(model), "--out", str(out), "--formats", "tflite-float32",
                                  option, str(given)])
        check_cli(res, (2,))
        assert ("is not empty" in res.output) == accepted, res.output
        assert snapshot(root, root / "nothing-is-owned") == before


def accepts(read: Any, text: str, name: str) -> bool:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / name).write_text(text)
        try:
            read(Path(d) / name)
        except InputError:
            return False
    return True


@given(record=records, raw=st.none() | deep_text | st.text(max_size=30))
def test_any_preprocessing_is_recorded_or_refused(record: Any, raw: str | None) -> None:
    text = raw if raw is not None else json.dumps(record)
    accepted = accepts(schemas.read_preprocessing, text, "pre.json")
    convert_reading("--preprocessing", "pre.json", text, accepted)
    if accepted and isinstance(record, dict) and raw is None:
        for channels in (1, 3):
            try:
                p = resolve(record, channels)
            except InputError:
                continue
            assert len(p.mean) == len(p.std) == channels and all(s != 0 for s in p.std)


@given(labels=st.lists(st.text(max_size=8), max_size=5) | json_values, raw=st.none() | deep_text,
       name=st.sampled_from(["labels.json", "labels.txt"]))
def test_any_labels_file_is_read_or_refused(labels: Any, raw: str | None, name: str) -> None:
    text = raw if raw is not None else json.dumps(labels) if name.endswith(".json") else \
        "\n".join(map(str, labels)) if isinstance(labels, list) else str(labels)
    accepted = accepts(schemas.read_labels, text, name)
    convert_reading("--labels", name, text, accepted)


# ---------------------------------------------------------------------------------------------------------
# --tol and option strings


tol_items = st.one_of(
    st.text(max_size=30),
    st.builds(lambda scope, key, value: f"{scope}{key}={value}",
              st.sampled_from(["", "tflite-int8.", "float16.", "tflite-int8x.", "..", "a.b."]),
              st.sampled_from(["atol", "rtol", "max_abs", "min_top1", "min_cosine", "min_agreement", "x", ""]),
              st.sampled_from(["0.5", "1.5", "-1", "nan", "inf", "-inf", "none", "off", "1e309", "abc", ""])
              | st.floats().map(repr)),
)


@given(items=st.lists(tol_items, min_size=1, max_size=3))
def test_any_tolerance_is_one_line(items: list[str]) -> None:
    with sandbox() as root:
        folder = root / "out"
        folder.mkdir()
        (folder / mf.MANIFEST_NAME).write_text(json.dumps(manifest_dict()))
        before = snapshot(root, folder)
        check_cli(runner.invoke(app, ["validate", str(folder), *sum((["--tol", t] for t in items), [])]), (2,))
        assert snapshot(root, folder) == before


option_text = st.text(max_size=20) | st.sampled_from(["0", "-1", "nan", "inf", "1e400", "99999999999999999999",
                                                       "all", "tflite", "1,2,3", "x:1,a", "--force", ""])
convert_options = st.sampled_from(["--formats", "--int8-io", "--int8-weights", "--tfjs-quantize", "--opset",
                                   "--input-shape", "--lstm", "--jobs", "--seed", "--calibration-samples",
                                   "--golden-samples", "--calibration", "--golden"])
validate_options = st.sampled_from(["--max-time", "--timeout", "--device", "--artifact", "--runtime"])


@given(option=convert_options, value=option_text)
def test_any_convert_option_string_is_one_line(option: str, value: str) -> None:
    with sandbox() as root:
        model, out = _model(root), root / "out"
        out.mkdir()
        (out / "existing.txt").write_text("x")
        before = snapshot(root, root / "nothing-is-owned")
        check_cli(runner.invoke(app, ["convert", str(model), "--out", str(out), option, value]), (2,))
        assert snapshot(root, root / "nothing-is-owned") == before


@given(option=validate_options, value=option_text)
def test_any_validate_option_string_is_one_line(option: str, value: str) -> None:
    with sandbox() as root:
        folder = root / "out"
        folder.mkdir()
        (folder / mf.MANIFEST_NAME).write_text(json.dumps(manifest_dict()))
        before = snapshot(root, folder)
        check_cli(runner.invoke(app, ["validate", str(folder), option, value]), (2,))
        assert snapshot(root, folder) == before


@given(item=st.text(max_size=30) | st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from(["recipe.seed", "train.epochs", "data.holdout", "model.alpha", "export.formats", "x.y", "train"]),
    option_text))
def test_any_recipe_override_is_applied_or_refused(item: str) -> None:
    try:
        r = load_recipe("digits", [item])
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert r.seed >= 0 and r.train["epochs"] >= 1 and 0 < r.data["holdout"] < 0.5


@given(doc=st.dictionaries(st.sampled_from(["kind", "host", "port", "user", "threads", "python", "runtime",
                                            "connect_timeout", "emulated", "delegate", "description", "x"]),
                           scalars, max_size=6))
def test_any_device_profile_is_parsed_or_refused(doc: dict[str, Any]) -> None:
    try:
        p = profiles.from_dict(doc, name="p", source="p.toml")
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert p.kind in profiles.KINDS and (p.threads is None or p.threads >= 1)
