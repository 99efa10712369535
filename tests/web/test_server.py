"""edgekit/web/server.py: the 127.0.0.1 static server serves its mounts and nothing else."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from edgekit.web.server import ISOLATION_HEADERS, StaticServer


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pub" / "sub").mkdir(parents=True)
    (tmp_path / "pub" / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "pub" / "sub" / "model.json").write_text('{"x": 1}')
    (tmp_path / "pub" / "inner-link.json").symlink_to(tmp_path / "pub" / "sub" / "model.json")
    (tmp_path / "pub" / "link").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "pub" / "dir-link").symlink_to(tmp_path / "private", target_is_directory=True)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key.txt").write_text("no")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "pubsecret.txt").write_text("no")  # shares the mount's name as a prefix
    return tmp_path


def _get(s: StaticServer, path: str, method: str = "GET") -> tuple[int, bytes, http.client.HTTPMessage]:
    req = urllib.request.Request(s.url(path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, b"", e.headers


def test_serves_mounted_files_with_types_and_isolation_headers(tree: Path) -> None:
    with StaticServer() as s:
        s.mount("/pub/", tree / "pub")
        code, body, headers = _get(s, "/pub/a.wasm")
        assert (code, body) == (200, b"\0asm")
        assert headers["Content-Type"] == "application/wasm" and headers["Content-Length"] == "4"
        assert headers["Cache-Control"] == "no-store"
        for k, v in ISOLATION_HEADERS.items():
            assert headers[k] == v
        code, body, headers = _get(s, "/pub/sub/model.json?cache=1")  # the query string is not part of the path
        assert (code, body, headers["Content-Type"]) == (200, b'{"x": 1}', "application/json")
        code, body, headers = _get(s, "/pub/a.wasm", method="HEAD")
        assert (code, body, headers["Content-Length"]) == (200, b"", "4")
        # A symlink that stays inside the mount is an ordinary file.
        assert _get(s, "/pub/inner-link.json")[:2] == (200, b'{"x": 1}')


def test_refuses_everything_outside_its_mounts_and_records_it(tree: Path) -> None:
    bad = ["/pub/../secret.txt", "/pub/%2e%2e/secret.txt", "/pub/sub/%2E%2E/%2E%2E/secret.txt",
           "/pub/..%5csecret.txt", "/pub/%2Fetc%2Fpasswd", "/pub/link", "/pub/dir-link/key.txt", "/pub/",
           "/pub/sub", "/pub/sub/", "/secret.txt", "/pubsecret.txt", "/pub/missing.bin", "/pub/a%00b",
           "/pub/" + "a" * 5000, "/"]
    with StaticServer() as s:
        s.mount("/pub/", tree / "pub")
        for path in bad:
            assert _get(s, path)[0] == 404, path
        assert s.requests == [(404, p) for p in bad]  # each refusal answered and recorded, none crashed


def test_file_mounts_longest_prefix_and_unmount(tree: Path) -> None:
    with StaticServer(isolated=False) as s:
        s.mount("/m/model.json", tree / "pub" / "sub" / "model.json")
        s.mount("/m/", tree / "pub")
        assert _get(s, "/m/model.json")[1] == b'{"x": 1}'  # the file mount, not /m/ + model.json (absent)
        assert _get(s, "/m/model.json/x")[0] == 404  # a file mount is that one path only
        code, _, headers = _get(s, "/m/a.wasm")
        assert code == 200 and headers["Cross-Origin-Embedder-Policy"] is None  # isolated=False
        s.unmount("/m/")
        assert _get(s, "/m/a.wasm")[0] == 404
        s.unmount("/never-mounted/")  # unmounting twice or never is harmless


def test_mount_prefix_must_match_folder_or_file(tree: Path) -> None:
    with StaticServer() as s:
        with pytest.raises(ValueError, match="a folder prefix ends with '/'"):
            s.mount("/pub", tree / "pub")
        with pytest.raises(ValueError, match="a folder prefix ends with '/'"):
            s.mount("/a/", tree / "pub" / "a.wasm")


def test_file_removed_after_resolve_is_not_found(tree: Path, monkeypatch) -> None:
    with StaticServer() as s:
        s.mount("/pub/", tree / "pub")
        monkeypatch.setattr(s, "resolve", lambda path: tree / "pub" / "gone.bin")
        assert _get(s, "/pub/gone.bin")[0] == 404
        assert s.requests == [(404, "/pub/gone.bin")]


def test_a_file_swapped_for_a_link_after_resolve_is_not_followed(tree: Path, monkeypatch) -> None:
    with StaticServer() as s:
        s.mount("/pub/", tree / "pub")
        monkeypatch.setattr(s, "resolve", lambda path: tree / "pub" / "link")  # now a link to secret.txt
        assert _get(s, "/pub/a.wasm")[:2] == (404, b"")


def test_binds_loopback_only_and_stops(tree: Path) -> None:
    with StaticServer() as s:
        s.mount("/pub/", tree / "pub")
        assert s.url("/x").startswith(f"http://127.0.0.1:{s.port}/")
        port = s.port
    with pytest.raises(OSError):  # stopped: nothing listens any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/pub/a.wasm", timeout=2)
