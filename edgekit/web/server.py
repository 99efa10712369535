"""A static file server on 127.0.0.1 that serves only what it was told to serve.

Browsers refuse to fetch ``.wasm`` (and module scripts) from ``file://`` URLs, so every page edgekit opens
is served over HTTP. The server binds a free loopback port, maps URL prefixes to folders or single files
("mounts"), refuses anything else (no directory listings, no ``..``, no symlinks out of a mount), and
stops when its ``with`` block ends.
"""

from __future__ import annotations

import mimetypes
import os
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

# Types browsers insist on: wasm streaming compilation needs application/wasm, module scripts a JS type.
_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".bin": "application/octet-stream",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
    ".md": "text/markdown; charset=utf-8",
}

# Cross-origin isolation: it unlocks SharedArrayBuffer (multi-threaded wasm in TF.js and onnxruntime-web)
# and 5 us performance.now() resolution instead of 100 us.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _read_no_follow(path: Path) -> bytes:
    """The bytes of ``path``, refusing (OSError) a symlink put in its place after it was resolved."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


class StaticServer:
    """``with StaticServer() as s: s.mount("/model/", folder); page.goto(s.url("/model/x"))``."""

    def __init__(self, isolated: bool = True, host: str = "127.0.0.1"):
        self.isolated = isolated
        self._mounts: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[int, str]] = []  # (status, path): what the page asked for

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def mount(self, prefix: str, target: Path) -> None:
        """Serve ``target`` (a folder, or a single file) at URL ``prefix``. A folder prefix ends with '/'."""
        target = Path(target).resolve()
        if target.is_dir() != prefix.endswith("/"):
            raise ValueError(f"mount {prefix!r}: a folder prefix ends with '/', a file prefix does not ({target})")
        with self._lock:
            self._mounts[prefix] = target

    def unmount(self, prefix: str) -> None:
        with self._lock:
            self._mounts.pop(prefix, None)

    def resolve(self, url_path: str) -> Path | None:
        """The file for ``url_path``, or None when it is outside every mount or not a plain file."""
        path = unquote(urlsplit(url_path).path)
        with self._lock:
            mounts = sorted(self._mounts.items(), key=lambda kv: -len(kv[0]))  # longest prefix wins
        for prefix, target in mounts:
            if not prefix.endswith("/"):
                if path == prefix:
                    return target if target.is_file() else None
                continue
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix):]
            parts = [p for p in rel.split("/") if p]
            if not parts or any(p in (".", "..") or "\\" in p for p in parts):
                return None
            try:
                candidate = target.joinpath(*parts).resolve()
                # resolve() follows symlinks: a link that leaves the mount is refused like '..'.
                if target not in candidate.parents or not candidate.is_file():
                    return None
            except (OSError, ValueError):  # a NUL byte, a name too long for the file system: not found
                return None
            return candidate
        return None

    def _handler_class(self) -> type[SimpleHTTPRequestHandler]:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                self._serve(body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(body=False)

            def _serve(self, body: bool) -> None:
                file = server.resolve(self.path)
                try:
                    data = _read_no_follow(file) if file is not None else None
                except OSError:  # removed, unreadable or replaced by a link since resolve(): not found either
                    data = None
                if file is None or data is None:
                    server.requests.append((404, self.path))
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                server.requests.append((200, self.path))
                self.send_response(HTTPStatus.OK)
                ctype = _TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0]
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                if server.isolated:
                    for k, v in ISOLATION_HEADERS.items():
                        self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # the request list above is the log; stderr stays clean for the worker protocol

        return Handler

    def start(self) -> StaticServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="edgekit-static", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> StaticServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
