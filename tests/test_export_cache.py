"""edgekit.export_cache: the canonical SavedModel export is reused only for the same source, input signature and
versions; a hit gives the same artifacts as a miss; entries are atomic, checked, and only in the user's own folder."""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgekit import export_cache as ec
from edgekit.manifest import TensorSpec, sha256_path
from tests.artifact_runs import load_golden, run_onnx


def _source(sha: str = "a" * 64, shape: tuple[int, ...] = (8,)) -> SimpleNamespace:
    return SimpleNamespace(sha256=sha, kind="keras", inputs=[TensorSpec("features", [None, *shape], "float32")])


def _exported(folder: Path, payload: bytes = b"graph") -> Path:
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(payload)
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(ec.ENV, str(root))
    return root


def test_a_changed_source_signature_or_version_is_another_key(monkeypatch) -> None:
    base = ec.digest(ec.key(_source()))
    assert ec.digest(ec.key(_source())) == base  # the same inputs: the same key
    assert ec.digest(ec.key(_source(sha="b" * 64))) != base
    assert ec.digest(ec.key(_source(shape=(9,)))) != base  # --input-shape changes the export's signature
    assert ec.digest(ec.key(_source(), part="text-split")) != base  # the numeric part of a text model
    monkeypatch.setattr(ec, "__version__", "0.0.0+other")
    assert ec.key(_source())["edgekit"] == "0.0.0+other" and ec.digest(ec.key(_source())) != base
    import keras
    import tensorflow as tf

    fields = ec.key(_source())
    assert (fields["tensorflow"], fields["keras"]) == (tf.__version__, keras.__version__)


def test_store_then_fetch_copies_the_same_bytes(cache, tmp_path) -> None:
    base, why = ec.ensure_root()
    assert why is None and base == cache and (cache.stat().st_mode & 0o077) == 0
    fields = ec.key(_source())
    assert not ec.fetch(base, fields, tmp_path / "out0")
    src = _exported(tmp_path / "exported")
    ec.store(base, fields, src)
    assert ec.fetch(base, fields, tmp_path / "out1")
    assert sha256_path(tmp_path / "out1") == sha256_path(src)
    ec.store(base, fields, _exported(tmp_path / "other", b"second writer"))  # a concurrent writer lost the race
    assert [p.name for p in (cache / ec.digest(fields)[:2]).iterdir()] == [ec.digest(fields)]  # no leftovers
    assert ec.fetch(base, fields, tmp_path / "out2") and sha256_path(tmp_path / "out2") == sha256_path(src)


@pytest.mark.parametrize("damage", ["flip", "drop_entry", "extra_file", "symlink", "other_key", "half_written"])
def test_a_damaged_entry_is_a_miss_and_is_discarded(cache, tmp_path, damage) -> None:
    base = ec.ensure_root()[0]
    fields = ec.key(_source())
    entry = cache / ec.digest(fields)[:2] / ec.digest(fields)
    ec.store(base, fields, _exported(tmp_path / "exported"))
    if damage == "flip":
        (entry / ec.FOLDER / "saved_model.pb").write_bytes(b"grapH")
    elif damage == "drop_entry":
        (entry / ec.ENTRY).unlink()
    elif damage == "extra_file":
        (entry / ec.FOLDER / "assets").mkdir()
        (entry / ec.FOLDER / "assets" / "x.txt").write_text("planted")
    elif damage == "symlink":
        (entry / ec.FOLDER / "variables" / "variables.index").unlink()
        (entry / ec.FOLDER / "variables" / "variables.index").symlink_to(tmp_path / "exported" / "variables" /
                                                                            "variables.index")
    elif damage == "other_key":
        meta = json.loads((entry / ec.ENTRY).read_text())
        meta["key"]["source_sha256"] = "c" * 64
        (entry / ec.ENTRY).write_text(json.dumps(meta))
    else:  # a writer killed before its rename: only a .tmp folder, never read as an entry
        os.rename(entry, entry.parent / f".tmp-{entry.name[:16]}-1-deadbeef")
    assert not ec.fetch(base, fields, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not entry.exists()
    ec.store(base, fields, _exported(tmp_path / "exported2"))  # rebuilt by the next miss
    assert ec.fetch(base, fields, tmp_path / "out")


def test_only_the_users_own_folder_holds_code(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert "writable by other users" in ec.unusable_reason(shared)
    site = Path(sysconfig.get_paths()["purelib"])
    assert "site-packages" in ec.unusable_reason(site / "edgekit-cache")
    monkeypatch.setenv(ec.ENV, str(shared))
    calls, warnings = [], []
    monkeypatch.setattr("edgekit.source.export_saved_model", lambda *a: calls.append(a))
    assert ec.export(_source(), None, tmp_path / "sm", True, warnings) == ec.OFF
    assert len(calls) == 1 and "writable by other users" in warnings[0] and ec.ENV in warnings[0]
    assert not any(shared.iterdir())  # nothing written into a folder others could change


def test_the_user_cache_folder_is_the_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(ec.ENV, raising=False)
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert ec.root() == tmp_path / "mine" / "saved_model"


def _convert(model: Path, out: Path, calibration: Path, **kw):
    from edgekit.convert import ConvertOptions, convert

    return convert(model, out, ConvertOptions(calibration=str(calibration), golden_samples=16, **kw))


def test_a_hit_gives_the_same_artifacts_as_a_miss(cache, tmp_path, mlp_path, mlp_calibration) -> None:
    """The SavedModel export itself is not byte-reproducible (saved_model.pb and the variables differ between two
    exports); a hit copies the bytes the miss stored, so every converter starts from the same SavedModel. TFLite is
    byte-reproducible: a hit's files equal the miss's and a --no-cache run's. ONNX (like TF.js) is not, cache or
    not (tf2onnx names the graph with a counter): its outputs are exactly the same."""
    fmts = "saved_model,tflite-float32,tflite-dynamic,onnx"
    miss = _convert(mlp_path, tmp_path / "miss", mlp_calibration, formats=fmts)
    hit = _convert(mlp_path, tmp_path / "hit", mlp_calibration, formats=fmts)
    off = _convert(mlp_path, tmp_path / "off", mlp_calibration, formats="saved_model,tflite-float32,tflite-dynamic",
                   cache=False)
    status = [r.manifest.artifacts[0].extra["export_cache"] for r in (miss, hit, off)]
    assert status == [ec.MISS, ec.HIT, ec.OFF]
    assert len(list(cache.glob("??/*"))) == 1  # --no-cache neither read nor wrote an entry
    assert all(a.ok for r in (miss, hit, off) for a in r.manifest.artifacts)
    arts = [{a.id: a for a in r.manifest.artifacts} for r in (miss, hit, off)]
    assert all(arts[0][i].sha256 == arts[1][i].sha256 for i in ("saved_model", "tflite-float32", "tflite-dynamic"))
    assert all(arts[0][i].sha256 == arts[2][i].sha256 for i in ("tflite-float32", "tflite-dynamic"))
    golden = load_golden(miss.out)[0]
    want, got = (run_onnx(r.out, r.manifest, arts[0]["onnx"], golden) for r in (miss, hit))
    assert all(np.array_equal(want[k], got[k]) for k in want)
    assert miss.manifest.golden == hit.manifest.golden  # the same golden set and reference outputs


def test_no_cache_flag(cache, tmp_path, mlp_path, mlp_calibration) -> None:
    from typer.testing import CliRunner

    from edgekit.cli import app
    from edgekit.manifest import load

    res = CliRunner().invoke(app, ["convert", str(mlp_path), "--out", str(tmp_path / "o"), "--formats",
                                   "saved_model", "--calibration", str(mlp_calibration), "--no-cache", "--quiet"])
    assert res.exit_code == 0, res.output
    assert load(tmp_path / "o").artifacts[0].extra["export_cache"] == ec.OFF and not cache.exists()


def test_a_full_disk_while_copying_out_keeps_the_entry(cache, tmp_path, monkeypatch) -> None:
    """ENOSPC writing the staging copy is the disk's fault, not the entry's: it propagates (convert turns it into
    its 'no space left' error) and the good entry stays for the next run."""
    import errno
    import shutil

    base = ec.ensure_root()[0]
    fields = ec.key(_source())
    ec.store(base, fields, _exported(tmp_path / "exported"))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full)
    with pytest.raises(OSError) as e:
        ec.fetch(base, fields, tmp_path / "out")
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    monkeypatch.setenv(ec.ENV, str(cache))
    assert ec.fetch(base, fields, tmp_path / "out")


def test_the_least_recently_used_entries_are_pruned(cache, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ec, "MAX_ENTRIES", 2)
    base = ec.ensure_root()[0]
    keys = [ec.key(_source(sha=c * 64)) for c in "abc"]
    for i, fields in enumerate(keys[:2]):
        ec.store(base, fields, _exported(tmp_path / f"e{i}"))
        entry = cache / ec.digest(fields)[:2] / ec.digest(fields)
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))  # a before b
    assert ec.fetch(base, keys[0], tmp_path / "hit")  # a hit makes a the most recently used
    ec.store(base, keys[2], _exported(tmp_path / "e2"))
    assert [ec.fetch(base, k, tmp_path / f"o{i}") for i, k in enumerate(keys)] == [True, False, True]
