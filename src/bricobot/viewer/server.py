"""The local web server of ``bricobot view`` (standard library ``ThreadingHTTPServer``).

Routes: ``/`` the page for what the folder holds (dataset or training run); ``/static/<name>`` the
assets shipped in this package; ``/api/...`` JSON from :class:`DatasetApi` or :class:`RunApi`;
``/files/<path>`` a video or image inside the folder, with HTTP Range support so that browsers can
seek in large mp4 files. Read-only: only GET and HEAD exist. A ``/files/`` path is decoded once and
refused (404) if any segment is ``..``, ``.`` or empty, if it resolves (symlinks included) outside
the folder, or if it is not a media file, so ``/../../etc/passwd`` and its encoded variants get
nothing. Bound to a loopback address, it answers only requests whose Host is localhost. An error while answering one request is reported in that answer; the server keeps going.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, unquote, urlsplit

from bricobot.datasets import layout
from bricobot.errors import BricobotError
from bricobot.viewer.dataset_api import DatasetApi
from bricobot.viewer.run_api import RunApi

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
CHUNK_BYTES = 256 * 1024
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class NotViewableError(BricobotError):
    """The path is neither a dataset folder nor a training run folder."""


def detect_kind(root: Path) -> str:
    """``"dataset"`` (meta/info.json or data/ parquet files) or ``"run"`` (metrics.jsonl or
    checkpoints/); anything else raises :class:`NotViewableError` naming what was expected."""
    if not root.is_dir():
        raise NotViewableError(f"{root} does not exist or is not a folder")
    if (root / layout.INFO_PATH).is_file() or any((root / "data").glob("**/*.parquet")):
        return "dataset"
    if (root / "metrics.jsonl").is_file() or (root / "checkpoints").is_dir():
        return "run"
    raise NotViewableError(
        f"{root} is neither a dataset (no {layout.INFO_PATH}) nor a training run (no "
        "metrics.jsonl or checkpoints/): give a dataset folder or an outputs/train/<time> folder"
    )


def static_dir() -> Path:
    """The assets shipped in the package (``bricobot/viewer/static``)."""
    return Path(str(resources.files("bricobot.viewer").joinpath("static")))


def safe_file(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a media file inside ``root`` (after resolving links), else None.

    ``rel`` is the already-decoded path; a ``%`` left in it is a literal character, so a doubly
    encoded ``..`` is just a file name that does not exist.
    """
    parts = rel.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    try:
        path = root.joinpath(*parts).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path if path.suffix.lower() in MEDIA_TYPES else None


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes of a single ``Range: bytes=a-b`` request; None if unsatisfiable."""
    match = RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if not first:  # bytes=-N: the last N bytes
        if not last:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


class ViewerServer(ThreadingHTTPServer):
    """Serves one folder, a dataset or a training run, until shut down."""

    daemon_threads = True
    # Quiet the traceback http.server prints when a browser drops a video request mid-way.
    quiet_errors = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.kind = detect_kind(self.root)
        self.api: DatasetApi | RunApi = (
            DatasetApi(self.root) if self.kind == "dataset" else RunApi(self.root)
        )
        self.static = static_dir()
        super().__init__((host, port), ViewerHandler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], self.quiet_errors):
            super().handle_error(request, client_address)


class ViewerHandler(BaseHTTPRequestHandler):
    """One request: a page, a static asset, an API answer or a media file (ranges allowed)."""

    server: ViewerServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (a playing video makes many); errors still are."""

    def _dispatch(self, send_body: bool) -> None:
        if not self._host_allowed():
            self._send_json(403, {"error": "this viewer only answers to localhost"}, send_body)
            return
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = dict(parse_qsl(url.query))
        try:
            if path in ("/", "/index.html"):
                self._send_static(f"{self.server.kind}.html", send_body)
            elif path.startswith("/static/"):
                self._send_static(path.removeprefix("/static/"), send_body)
            elif path.startswith("/api/"):
                route = [p for p in path.removeprefix("/api/").split("/") if p]
                status, body = self.server.api.handle(route, query)
                self._send_json(status, body, send_body)
            elif path.startswith("/files/"):
                self._send_file(path.removeprefix("/files/"), send_body)
            else:
                self._send_json(404, {"error": "not found"}, send_body)
        except self.server.quiet_errors:
            raise
        except Exception as exc:  # one bad request must not stop the viewer
            self.log_error("%s failed: %r", self.path, exc)
            self._send_json(500, {"error": f"{type(exc).__name__}: {exc}"}, send_body)

    def _host_allowed(self) -> bool:
        """On a loopback address, only requests naming localhost: a web page elsewhere cannot
        read the dataset through a DNS name rebound to 127.0.0.1."""
        if not ipaddress.ip_address(str(self.server.server_address[0])).is_loopback:
            return True
        host = self.headers.get("Host", "")
        name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        return name.lower() in LOCAL_NAMES

    def _send_static(self, name: str, send_body: bool) -> None:
        path = self.server.static / name
        suffix = Path(name).suffix.lower()
        if "/" in name or suffix not in STATIC_TYPES or not path.is_file():
            self._send_json(404, {"error": "not found"}, send_body)
            return
        data = path.read_bytes()
        self._headers(200, STATIC_TYPES[suffix], len(data), {"Cache-Control": "no-cache"})
        if send_body:
            self.wfile.write(data)

    def _send_json(self, status: int, body: Any, send_body: bool) -> None:
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
        self._headers(status, "application/json", len(data), {"Cache-Control": "no-store"})
        if send_body:
            self.wfile.write(data)

    def _send_file(self, rel: str, send_body: bool) -> None:
        path = safe_file(self.server.root, rel)
        if path is None:
            self._send_json(404, {"error": "not found"}, send_body)
            return
        size = path.stat().st_size
        kind = MEDIA_TYPES[path.suffix.lower()]
        header = self.headers.get("Range")
        first, last = 0, size - 1
        if header:
            wanted = parse_range(header, size)
            if wanted is None:
                self._headers(416, kind, 0, {"Content-Range": f"bytes */{size}"})
                return
            first, last = wanted
            extra = {"Content-Range": f"bytes {first}-{last}/{size}", "Accept-Ranges": "bytes"}
            self._headers(206, kind, last - first + 1, extra)
        else:
            self._headers(200, kind, size, {"Accept-Ranges": "bytes"})
        if send_body:
            with path.open("rb") as f:
                f.seek(first)
                copy_bytes(f, self.wfile, last - first + 1)

    def _headers(self, status: int, kind: str, length: int, extra: dict[str, str]) -> None:
        self.send_response(HTTPStatus(status))
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()


def copy_bytes(src: BinaryIO, dst: Any, count: int) -> None:
    """Copy ``count`` bytes in chunks, so a large video never sits in memory whole."""
    while count > 0:
        chunk = src.read(min(CHUNK_BYTES, count))
        if not chunk:
            break
        dst.write(chunk)
        count -= len(chunk)


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 0) -> ViewerServer:
    """A server bound to ``host:port`` (port 0: a free one), not yet serving; see ``.url``."""
    return ViewerServer(root, host, port)
