"""A scripted OpenAI-compatible server for the provider pool's tests: tests/providers' FaultServer (same scripts, same
streamed replies, HTTP/1.1 keep-alive) that also counts the TCP connections it accepted and records each request's
Authorization header, optionally over TLS with a self-signed certificate made by `openssl` for 127.0.0.1."""

from __future__ import annotations

import io
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))

from provider_faults import _TAG, FaultServer, _Handler, _Server

__all__ = ["Counting", "Stall", "self_signed", "serve_counting"]


@dataclass(frozen=True)
class Stall:
    """A stream that sends its headers and one chunk, then keeps the request open (a comment line every 0.1 s) until
    the client closes the connection; with `headers=False` it sends nothing at all and waits for the close.
    `Counting.stalled` is set once it started, `Counting.released` once it saw the connection closed."""

    headers: bool = True


class Counting(FaultServer):
    def __init__(self) -> None:
        super().__init__()
        self.connections = 0
        self.authorizations: list[str] = []
        self.cookies: list[str] = []
        self.stalled = threading.Event()
        self.released = threading.Event()


class _RecordingHandler(_Handler):
    server: _CountingServer

    def do_POST(self) -> None:
        faults = self.server.faults
        assert isinstance(faults, Counting)
        with faults._lock:
            faults.authorizations.append(self.headers.get("authorization", ""))
            faults.cookies.append(self.headers.get("cookie", ""))
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.loads(raw or b"{}")
        with faults._lock:
            stall = _stall_of(faults, body)
        if stall is not None and not stall.headers:
            faults.stalled.set()
            self.connection.recv(1)  # b"" when the client closed (it sends nothing more on this request)
            faults.released.set()
            self.close_connection = True
            return
        if stall is not None:
            self._stall(faults)
            return
        connection = self.rfile
        self.rfile = io.BytesIO(raw)  # the base handler reads the body again
        try:
            super().do_POST()
        finally:
            self.rfile = connection

    def _stall(self, faults: Counting) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            self._chunk(b'data: {"id":"s","object":"chat.completion.chunk","created":0,"model":"m","choices":[]}\n\n')
            faults.stalled.set()
            while True:
                time.sleep(0.1)
                self._chunk(b": waiting\n\n")
        except OSError:
            faults.released.set()
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_headers(self) -> None:
        self.send_header("set-cookie", "session=from-the-provider; Path=/")  # a pool must not carry it to the next run
        super().end_headers()


class _CountingServer(_Server):
    def __init__(self, faults: Counting, context: ssl.SSLContext | None) -> None:
        super().__init__(faults)
        self.RequestHandlerClass = _RecordingHandler
        self.context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        faults = self.faults
        assert isinstance(faults, Counting)
        with faults._lock:
            faults.connections += 1
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True)
        return sock, address


def _stall_of(faults: Counting, body: dict[str, Any]) -> Stall | None:
    match = _TAG.search(json.dumps(body.get("messages") or []))
    steps = faults._scripts.get(match.group(1), []) if match else []
    first = steps[0][0] if steps else None
    return first if isinstance(first, Stall) else None


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, valid one day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = ["-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), *names],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def serve_counting(tls: tuple[Path, Path] | None = None) -> Iterator[Counting]:
    """A running server on 127.0.0.1; `base_url` is its `/v1` endpoint (https with `tls`: (certificate, key))."""
    faults = Counting()
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
    server = _CountingServer(faults, context)
    scheme = "https" if tls is not None else "http"
    faults.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, name="counting-model", daemon=True)
    thread.start()
    try:
        yield faults
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
