"""The built wheel: complete package data (every file the checkout tracks under edgekit/, links resolved), no
node_modules, the extras and Python range users install with, and edgekit run from it outside the checkout."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import require

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(out), str(ROOT)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("edgekit-*.whl")
    return path


def _tracked() -> list[str]:
    proc = subprocess.run(["git", "ls-files", "edgekit"], cwd=ROOT, capture_output=True, text=True, check=False)
    require(proc.returncode == 0 and bool(proc.stdout.strip()), "not a git checkout")
    return proc.stdout.split()


def _expected_files() -> set[str]:
    """Every tracked file under edgekit/, a tracked link to a folder standing for the tracked files it points at."""
    tracked = set(_tracked())
    everything = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout.split())
    want = set()
    for rel in tracked:
        path = ROOT / rel
        if path.is_symlink() and path.is_dir():
            target = path.resolve().relative_to(ROOT).as_posix()
            want |= {rel + f[len(target):] for f in everything if f.startswith(target + "/")}
        else:
            want.add(rel)
    return want


def test_the_wheel_carries_every_tracked_file_and_no_node_modules(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_expected_files() - names)
    assert missing == [], f"package data missing from the wheel (pyproject.toml package-data): {missing}"
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n]
    for needed in ("edgekit/py.typed", "edgekit/js/package-lock.json", "edgekit/js/runner.js",
                   "edgekit/data/constraints.txt", "edgekit/data/constraints-py313.txt",
                   "edgekit/data/calibration/example.toml", "edgekit/data/devices/rpi.toml",
                   "edgekit/data/recipes/digits.toml", "edgekit/web/static/harness.js"):
        assert needed in names, needed
    assert wheel.stat().st_size < 1_000_000


def test_the_wheel_metadata_declares_the_extras_and_python_range(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = email.message_from_bytes(z.read(next(n for n in z.namelist() if n.endswith("dist-info/METADATA"))))
    assert meta["Requires-Python"] in (">=3.11,<3.14", "<3.14,>=3.11")
    assert {"convert", "tfjs", "runtimes", "web", "train", "all"} <= set(meta.get_all("Provides-Extra"))
    reqs = meta.get_all("Requires-Dist")
    assert any(r.startswith("tensorflowjs") and 'python_version < "3.13"' in r for r in reqs)
    assert any(r.startswith("tensorflow<2.22,>=2.19") for r in reqs)
    # the core is light: reading manifests, bundling and reporting need none of the converters
    core = [r.split(";")[0].split(">")[0].split("=")[0] for r in reqs if "extra ==" not in r]
    assert sorted(core) == ["numpy", "pydantic", "rich", "typer"]


@pytest.mark.slow
def test_edgekit_runs_from_the_installed_wheel_outside_the_checkout(wheel, tmp_path, converted_mlp):
    """validate, bundle, doctor and the recipes from the wheel's files (pip --target), in a folder away from the
    checkout, with this environment's libraries: package data that is missing shows up here. (Converting
    from the wheel in a fresh venv is the CI smoke job's: .ci/smoke-py313.sh.)"""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=120)
    # CI unset: browser rows (no JS libraries in this fresh cache) are unavailable here, not failures.
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "2", "XDG_CACHE_HOME": str(tmp_path / "c"),
           "CI": ""}
    work = tmp_path / "work"
    work.mkdir()

    def edgekit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edgekit", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    where = subprocess.run([sys.executable, "-c", "import edgekit; print(edgekit.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), where
    art = work / "art"
    shutil.copytree(converted_mlp.out, art)
    res = edgekit("validate", "art", "--device", "cpu", "--artifact", "tflite-float32", "--runs", "3", "--warmup",
                  "1", "--min-time", "0", "--warmup-min-time", "0", "--json")  # the cpu profile: the wheel's data
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = json.loads(res.stdout)["results"]
    assert [(r["artifact"], r["runtime"], r["status"]) for r in rows] == [("tflite-float32", "litert", "pass")]
    res = edgekit("bundle", "art", "--target", "android", "--out", "app")
    assert res.returncode == 0 and (work / "app").is_dir(), res.stdout + res.stderr
    res = edgekit("doctor", "--json")
    assert res.returncode == 0, res.stderr
    assert {p["name"]: p["known_good"] for p in json.loads(res.stdout)["packages"]}["tensorflow"]
    recipes = subprocess.run([sys.executable, "-c", "from edgekit.train import builtin_names, load_recipe; "
                              "print(sorted(load_recipe(n).task for n in builtin_names()))"], cwd=work, env=env,
                             capture_output=True, text=True, check=False)
    assert recipes.returncode == 0 and "image_classifier" in recipes.stdout, recipes.stderr


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            dist, version = line.split("==")
            pins[dist.strip().lower().replace("_", "-").replace(".", "-")] = version.strip()
    return pins


# Only on the main stack: tensorflowjs and what pins it (no TensorFlow 2.19 on Python 3.13).
MAIN_STACK_ONLY = {"tensorflowjs", "tensorflow-decision-forests", "ydf"}


def test_the_python_313_constraints_pin_everything_the_main_ones_do():
    """A pin added to constraints.txt goes into constraints-py313.txt too (same version unless that stack
    needs another), or pip resolves it unpinned on 3.13 and the smoke job drifts."""
    main, py313 = _pins("constraints.txt"), _pins("constraints-py313.txt")
    missing = sorted(set(main) - set(py313) - MAIN_STACK_ONLY)
    assert missing == [], f"pinned in constraints.txt, not in constraints-py313.txt: {missing}"
    assert py313["tensorflow"].startswith("2.21.") and main["tensorflow"].startswith("2.19.")
    assert not MAIN_STACK_ONLY & set(py313)
