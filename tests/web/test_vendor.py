"""edgekit/web/vendor.py: the pinned JavaScript files edgekit serves and bundles, from node_modules only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.web import vendor
from tests.helpers import require


def test_every_group_has_its_packages_and_names_are_unique() -> None:
    assert set(vendor.GROUPS) == set(vendor.PACKAGES)
    names = [Path(rel).name for rel in (r for g in vendor.GROUPS.values() for r in g)]
    assert len(names) == len(set(names))  # served flat under one vendor/ folder: no collisions
    for group, rels in vendor.GROUPS.items():
        for rel in rels:
            # each file comes from one of its group's own packages, never from elsewhere
            assert any(rel.startswith(pkg + "/") for pkg in vendor.PACKAGES[group]), rel


def test_files_map_names_into_node_modules() -> None:
    files = vendor.files("tfjs", "ort")
    assert list(files) == ["tf-core.min.js", "tf-backend-cpu.min.js", "tf-converter.min.js", "ort.wasm.min.js",
                           "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]
    for path in files.values():
        assert vendor.NODE_MODULES in path.parents
    with pytest.raises(KeyError):
        vendor.files("no-such-group")


def test_missing_and_versions_read_a_given_node_modules(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vendor, "NODE_MODULES", tmp_path)
    assert vendor.missing("ort") == list(vendor.GROUPS["ort"])
    for rel in vendor.GROUPS["ort"][:2]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert vendor.missing("ort") == [vendor.GROUPS["ort"][2]]
    (tmp_path / "onnxruntime-web" / "package.json").write_text(json.dumps({"version": "1.2.3"}))
    assert vendor.versions("ort") == {"onnxruntime-web": "1.2.3"}
    (tmp_path / "onnxruntime-web" / "package.json").write_text("{not json")
    assert vendor.versions("ort") == {"onnxruntime-web": "missing"}
    assert vendor.versions("tfjs-webgl") == {"@tensorflow/tfjs-backend-webgl": "missing"}


def test_installed_node_modules_hold_every_file_at_the_locked_versions() -> None:
    require(vendor.missing(*vendor.GROUPS) == [], f"run `make setup-js`: missing {vendor.missing(*vendor.GROUPS)[:3]}")
    lock = json.loads((vendor.NODE_MODULES.parent / "package-lock.json").read_text(encoding="utf-8"))
    versions = vendor.versions(*vendor.GROUPS)
    for pkg, version in versions.items():
        assert version == lock["packages"][f"node_modules/{pkg}"]["version"], pkg
