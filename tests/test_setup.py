"""edgekit setup: npm ci from the shipped lockfile into a per-user cache keyed by the lockfile's hash (never into
site-packages, never half-installed), where edgekit then finds the JS runtimes; the system parts per OS."""

from __future__ import annotations

import json
import os
import stat
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgekit import setup_js, system_deps
from edgekit.cli import app
from edgekit.errors import EdgekitError, InputError, MissingDependency

FAKE_NPM = """#!/bin/sh
# stands in for npm: `npm ci` must run where the shipped lockfile was copied
[ "$1" = ci ] && [ -f package-lock.json ] && [ -f package.json ] || exit 7
echo "$@" > ../npm-args
mkdir -p node_modules/@tensorflow/tfjs-core
echo '{"version": "4.22.0"}' > node_modules/@tensorflow/tfjs-core/package.json
exit ${FAKE_NPM_EXIT:-0}
"""


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("EDGEKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "edgekit"


@pytest.fixture()
def npm(tmp_path) -> str:
    path = tmp_path / "npm"
    path.write_text(FAKE_NPM)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_cache_is_per_user_and_keyed_by_the_lockfile(cache, tmp_path, monkeypatch):
    digest = setup_js.lock_hash()
    assert len(digest) == 64 and setup_js.cache_home() == cache / "js" / digest[:16]
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore a relative value
    assert setup_js.cache_root() == Path.home() / ".cache" / "edgekit"
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert setup_js.cache_home().parent.parent == tmp_path / "mine"


def test_install_runs_npm_ci_from_the_lockfile_and_edgekit_then_uses_the_cache(cache, npm):
    assert not setup_js.is_complete(setup_js.cache_home())
    done = setup_js.install(npm=npm)
    home = setup_js.cache_home()
    assert done.installed and done.home == home and done.bytes > 0
    assert (home / "package-lock.json").read_bytes() == (setup_js.SHIPPED / "package-lock.json").read_bytes()
    assert (home.parent / "npm-args").read_text().split() == setup_js.NPM_CI
    assert (home / "node_modules" / setup_js.STAMP).read_text().strip() == setup_js.lock_hash()
    assert setup_js.home() == home and setup_js.node_modules() == home / "node_modules"
    assert not setup_js.install(npm=npm).installed  # complete: nothing to do
    assert setup_js.install(npm=npm, force=True).installed
    assert sorted(p.name for p in home.parent.iterdir()) == [home.name, "npm-args"]  # no staging leftovers


def test_a_failed_npm_ci_leaves_nothing_that_counts_as_installed(cache, npm, monkeypatch):
    monkeypatch.setenv("FAKE_NPM_EXIT", "1")
    with pytest.raises(EdgekitError, match=r"npm ci failed \(exit 1\)"):
        setup_js.install(npm=npm)
    assert not setup_js.cache_home().exists() and not setup_js.is_complete(setup_js.cache_home())
    assert [p.name for p in setup_js.cache_home().parent.iterdir()] == ["npm-args"]


def test_without_npm_setup_exits_3_saying_how_to_get_node(cache, monkeypatch):
    monkeypatch.setattr(setup_js.shutil, "which", lambda _: None)
    with pytest.raises(MissingDependency) as e:
        setup_js.install()
    assert e.value.exit_code == 3 and str(e.value).startswith("npm is not installed: ")
    assert str(e.value).endswith("then run `edgekit setup` again") and ("nodejs" in str(e.value) or "Node.js" in
                                                                         str(e.value))
    res = CliRunner().invoke(app, ["setup"])
    assert res.exit_code == 3 and res.output.startswith("edgekit: error: npm is not installed"), res.output


def test_setup_never_writes_into_site_packages(monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(Path(sysconfig.get_paths()["purelib"]) / "edgekit-cache"))
    with pytest.raises(InputError, match="inside site-packages"):
        setup_js.install(npm="/bin/false")
    assert not (Path(sysconfig.get_paths()["purelib"]) / "edgekit-cache").exists()


def test_a_checkout_node_modules_is_used_until_the_cache_for_its_lockfile_is_complete(cache, npm):
    if not (setup_js.SHIPPED / "node_modules").is_dir():
        assert setup_js.home() == setup_js.cache_home()  # a wheel install, or a checkout without npm ci
    else:
        assert setup_js.home() == setup_js.SHIPPED
    setup_js.install(npm=npm)
    assert setup_js.home() == setup_js.cache_home()


def test_runner_scripts_are_copied_next_to_the_node_modules_they_import(tmp_path):
    assert setup_js.script("runner.js", setup_js.SHIPPED) == setup_js.SHIPPED / "runner.js"
    copy = setup_js.script("runner.js", tmp_path)
    assert copy == tmp_path / "runner.js" and copy.read_bytes() == (setup_js.SHIPPED / "runner.js").read_bytes()
    copy.write_text("// an older edgekit's runner")
    assert setup_js.script("runner.js", tmp_path).read_bytes() == (setup_js.SHIPPED / "runner.js").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["runner.js"]


@pytest.mark.parametrize("release, manager", [
    ({"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 13 (trixie)"}, "apt"),
    ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "apt"),
    ({"ID": "fedora"}, "dnf"),
    ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "dnf"),
    ({"ID": "arch"}, "pacman"),
    ({"ID": "alpine"}, "apk"),
    ({"ID": "nixos"}, None),
])
def test_the_package_manager_comes_from_os_release(release, manager):
    assert system_deps.detect(release, "Linux").manager == manager


def test_each_system_part_gets_this_systems_command():
    deb = system_deps.System("Debian", "apt", "x86_64")
    assert system_deps.how_to_get("chromium", deb).startswith("sudo apt-get install -y chromium (")
    assert system_deps.how_to_get("sshd", deb).startswith("sudo apt-get install -y openssh-server (")
    assert system_deps.how_to_get("node", system_deps.System("Fedora", "dnf", "x86_64")).startswith(
        "sudo dnf install -y nodejs npm (")
    assert system_deps.how_to_get("edgetpu_compiler", deb).startswith("Coral's apt repository")
    arm = system_deps.System("Debian", "apt", "aarch64")
    assert "only for x86-64 Debian/Ubuntu" in system_deps.how_to_get("edgetpu_compiler", arm)
    mac = system_deps.System("macOS 15.1", "brew", "arm64")
    assert system_deps.how_to_get("node", mac).startswith("brew install node (")
    assert "Chromium or Google Chrome" in system_deps.how_to_get("chromium", mac)
    nix = system_deps.System("NixOS", None, "x86_64")
    assert "https://nodejs.org" in system_deps.how_to_get("node", nix)


def test_os_release_is_parsed(tmp_path):
    p = tmp_path / "os-release"
    p.write_text('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\n# comment\n')
    assert system_deps.os_release(p) == {"PRETTY_NAME": "Ubuntu 24.04.1 LTS", "ID": "ubuntu", "ID_LIKE": "debian"}
    assert system_deps.os_release(tmp_path / "none") == {}


def test_setup_check_reports_without_installing(cache):
    res = CliRunner().invoke(app, ["setup", "--check", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["js"]["cache"] == str(setup_js.cache_home()) and data["js"]["complete"] is False
    assert not setup_js.cache_home().exists()
    comps = {c["name"]: c for c in data["components"]}
    assert {"node", "chromium", "ssh", "sshd", "edgetpu_compiler", "tfjs npm packages"} <= set(comps)
    assert all(c["present"] or c["hint"] for c in comps.values())
    assert data["system"]["machine"] == os.uname().machine


def test_doctor_points_to_setup_for_missing_parts(cache, monkeypatch, tmp_path):
    from edgekit import doctor

    monkeypatch.setattr(setup_js, "SHIPPED", tmp_path / "no-js")  # a wheel install: no node_modules of its own
    monkeypatch.setattr(setup_js, "lock_hash", lambda js_dir=None: "0" * 64)
    comps = {c.name: c for c in doctor.components()}
    assert not comps["tfjs npm packages"].present and "edgekit setup" in comps["tfjs npm packages"].hint
    assert str(cache / "js" / ("0" * 16)) in comps["tfjs npm packages"].hint
