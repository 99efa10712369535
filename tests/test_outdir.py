"""edgekit.outdir: the output-folder contract shared by convert, train and bundle (--out checks, protected
inputs, staging in a temporary sibling, atomic replace, stale staging cleanup)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgekit.cli import app
from tests.helpers import assert_bad_input, fake_converted_folder


def _fake_keras(path: Path) -> Path:
    """A file `edgekit convert` sniffs as a .keras model (refusals come before TensorFlow loads it)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
    return path


@pytest.mark.parametrize("option", ["--labels", "--preprocessing"])
def test_convert_force_never_deletes_an_input_inside_out(tmp_path: Path, option: str) -> None:
    model = _fake_keras(tmp_path / "m.keras")
    out = tmp_path / "out"
    out.mkdir()
    inp = out / ("labels.txt" if option == "--labels" else "pre.json")
    inp.write_text("a\nb\n" if option == "--labels" else json.dumps({"resize": "stretch"}))
    res = CliRunner().invoke(app, ["convert", str(model), "--out", str(out), "--force", "--formats",
                                   "tflite-float32", option, str(inp)])
    assert_bad_input(res, str(inp), "--force would delete it")
    assert inp.is_file()


def test_bundle_out_inside_the_folder_it_reads_is_refused(tmp_path: Path) -> None:
    art = {"id": "tfjs", "format": "tfjs", "variant": "float32", "path": "tfjs", "status": "ok",
           "sha256": "0" * 64}
    d = fake_converted_folder(tmp_path / "conv", artifacts=[art])
    (d / "tfjs").mkdir()
    (d / "tfjs" / "model.json").write_text("{}")
    for out in (d / "tfjs", d, d / "new", tmp_path):
        res = CliRunner().invoke(app, ["bundle", str(d), "--target", "web", "--out", str(out), "--force"])
        assert_bad_input(res, "--out")
        assert (d / "tfjs" / "model.json").read_text() == "{}"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_of_a_killed_run_is_reported_and_removed(tmp_path: Path) -> None:
    from edgekit import outdir

    out = tmp_path / "out"
    dead = tmp_path / f".out.edgekit-tmp-{_dead_pid()}-0123abcd"
    dead.mkdir()
    (dead / "half.tflite").write_bytes(b"x")
    dead_lstm = tmp_path / f"{dead.name}-lstm"
    dead_lstm.mkdir()
    alive = tmp_path / f".out.edgekit-tmp-{os.getpid()}-89abcdef"
    alive.mkdir()
    other = tmp_path / f".other.edgekit-tmp-{_dead_pid()}-0123abcd"
    other.mkdir()
    notices = outdir.clean_stale(out)
    assert not dead.exists() and not dead_lstm.exists()
    assert alive.is_dir() and other.is_dir()  # a live run's staging, another folder's staging
    assert len(notices) == 1 and dead.name in notices[0] and "removed" in notices[0]


def test_check_out_rules(tmp_path: Path) -> None:
    from edgekit import outdir
    from edgekit.errors import InputError

    outdir.check_out(tmp_path / "new" / "deeper", force=False)  # created later
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(InputError, match="not empty; pass --force"):
        outdir.check_out(full, force=False)
    outdir.check_out(full, force=True, protected=[tmp_path / "elsewhere.txt"])
    with pytest.raises(InputError, match="contains the input"):
        outdir.check_out(full, force=True, protected=[full / "x"])
    with pytest.raises(InputError, match="contains the input"):
        outdir.check_out(full, force=True, protected=[full])
    (tmp_path / "link").symlink_to(full / "x")  # an input reached through a link into --out
    with pytest.raises(InputError, match="contains the input"):
        outdir.check_out(full, force=True, protected=[tmp_path / "link"])
    with pytest.raises(InputError, match="is a file"):
        outdir.check_out(full / "x", force=True)
    (tmp_path / "dirlink").symlink_to(full)
    with pytest.raises(InputError, match="symlink"):
        outdir.check_out(tmp_path / "dirlink", force=True)
    for out in (full / "sub", full, tmp_path):
        with pytest.raises(InputError, match="overlaps the input folder"):
            outdir.check_out(out, force=True, reads=full)


def test_staging_commits_whole_or_nothing(tmp_path: Path) -> None:
    from edgekit import outdir

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), outdir.staging(out) as st:
        (st.path / "new.txt").write_text("new")
        st.sibling("lstm").mkdir()
        raise RuntimeError("converter died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (out / "old.txt").read_text() == "old"
    with outdir.staging(out) as st:
        (st.path / "new.txt").write_text("new")
        st.sibling("lstm").mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and sorted(os.listdir(out)) == ["new.txt"]
    with outdir.staging(tmp_path / "other", commit=False) as st:
        (st.path / "x").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_text_inside_replaces_a_link(tmp_path: Path) -> None:
    from edgekit import outdir

    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "f.md").symlink_to(victim)
    outdir.write_text_inside(tmp_path, "f.md", "new")
    assert victim.read_text() == "keep" and not (tmp_path / "f.md").is_symlink()
    assert (tmp_path / "f.md").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.md", "victim"]


def test_convert_force_never_deletes_a_calibration_source_named_by_a_toml(tmp_path: Path) -> None:
    model = _fake_keras(tmp_path / "m.keras")
    out = tmp_path / "out"
    out.mkdir()
    (out / "calib.npy").write_bytes(b"data")
    toml = tmp_path / "calib.toml"
    toml.write_text('[calibration]\nsource = "out/calib.npy"\n')
    res = CliRunner().invoke(app, ["convert", str(model), "--out", str(out), "--force", "--formats",
                                   "tflite-int8", "--calibration", str(toml)])
    assert_bad_input(res, "calib.npy", "--force would delete it")
    assert (out / "calib.npy").read_bytes() == b"data"


# Where an input may sit relative to --out: a path below tmp, a path below out, or a link to either.
_PLACES = ["in/a.txt", "out/a.txt", "out/sub/a.txt", "out", "link_to_out_file", "out/link_outside"]


def _lay_out(root: Path, place: str) -> Path:
    (root / "in").mkdir(exist_ok=True)
    (root / "in" / "a.txt").write_text("input")
    (root / "out" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "out" / "a.txt").write_text("input")
    (root / "out" / "sub" / "a.txt").write_text("input")
    if not (root / "link_to_out_file").is_symlink():
        (root / "link_to_out_file").symlink_to(root / "out" / "a.txt")
        (root / "out" / "link_outside").symlink_to(root / "in" / "a.txt")
    return root / place


def test_force_never_loses_a_protected_input(tmp_path_factory) -> None:
    """For any set of inputs placed anywhere around --out: check_out refuses, or after --force and the atomic
    replace every input still reads as before."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from edgekit import outdir
    from edgekit.errors import InputError

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(st.lists(st.sampled_from(_PLACES), min_size=1, max_size=3, unique=True))
    def prop(places: list[str]) -> None:
        root = tmp_path_factory.mktemp("p")
        inputs = [_lay_out(root, p) for p in places]
        before = {p: sorted(x.name for x in p.iterdir()) if p.is_dir() else p.read_text() for p in inputs}
        try:
            outdir.check_out(root / "out", force=True, protected=inputs)
        except InputError:
            return
        with outdir.staging(root / "out") as stage:
            (stage.path / "new.txt").write_text("new")
        for p, content in before.items():
            assert (sorted(x.name for x in p.iterdir()) if p.is_dir() else p.read_text()) == content, p
        assert sorted(x.name for x in (root / "out").iterdir()) == ["new.txt"]

    prop()
