"""The two HTTP servers of the hostile suite, both stdlib `http.server` in a daemon thread on 127.0.0.1.

- `CaptureServer`: "the repository's server". The hostile files name it everywhere they can (MCP urls and headers,
  base URLs, hooks that curl it, ...). It records every request (method, path, headers, body) and answers 200 with
  an empty JSON object. Each run gets its own path prefix (`/<token>/...`), so a request is attributed to the run
  whose files named it; a request under no known prefix is a finding of its own.
- `ModelProxy`: "the user's model endpoint". It records every request in full (aimock's own journal masks the
  `authorization` header, and which key was sent is part of what the suite checks) and forwards it to aimock,
  which plays the scripted model; the answer (a complete SSE stream) goes back unchanged.

Records are plain dicts; `requests()` returns a copy, safe to read while the servers still run.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """Everything the request carried, as one string to search for canaries."""
        lines = [f"{self.method} {self.path}", *(f"{k}: {v}" for k, v in self.headers.items())]
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        """A header's value, whatever case the client sent its name in."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()
        self.records: list[Recorded] = []
        self.upstream = ""

    def record(self, request: BaseHTTPRequestHandler) -> Recorded:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        entry = Recorded(request.command, request.path, dict(request.headers.items()), body)
        with self.lock:
            self.records.append(entry)
        return entry

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def requests(self) -> list[Recorded]:
        with self.lock:
            return list(self.records)


class _CaptureHandler(BaseHTTPRequestHandler):
    server: _Recorder
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.server.record(self)
        payload = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def do_CONNECT(self) -> None:
        """A proxy tunnel (HTTPS_PROXY points here): recorded, refused, so nothing reaches another host."""
        self.server.record(self)
        self.send_response(403)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Recorder
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        entry = self.server.record(self)
        keep = {"content-type", "authorization", "accept"}
        headers = {k: v for k, v in entry.headers.items() if k.lower() in keep}
        upstream = urllib.request.Request(
            self.server.upstream + entry.path, data=entry.body or None, headers=headers, method=entry.method
        )
        try:
            with urllib.request.urlopen(upstream, timeout=30) as response:
                status, kind, payload = response.status, response.headers.get("content-type", ""), response.read()
        except urllib.error.HTTPError as error:
            status, kind, payload = error.code, error.headers.get("content-type", ""), error.read()
        self.send_response(status)
        self.send_header("content-type", kind or "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(server: _Recorder) -> Iterator[_Recorder]:
    thread = threading.Thread(target=server.serve_forever, name="hostile-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def capture_server() -> Iterator[_Recorder]:
    """The repository's server: records and answers 200 `{}` to everything."""
    with _serve(_Recorder(_CaptureHandler)) as server:
        yield server


@contextmanager
def model_proxy(upstream_origin: str) -> Iterator[_Recorder]:
    """The user's model endpoint: records every request, forwards it to `upstream_origin` (aimock)."""
    server = _Recorder(_ProxyHandler)
    server.upstream = upstream_origin
    with _serve(server) as running:
        yield running


Server = _Recorder
