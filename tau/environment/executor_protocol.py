"""The host side of the sandbox executor's JSON-lines protocol (sandbox/executor.py documents the wire format).

Owns: `ExecutorChannel`, one connection to one running executor: it writes requests, a reader thread demultiplexes
Docker's attach framing (8-byte headers: stream 1 = stdout, 2 = stderr) and resolves each request's future by id;
`executor_source()` finds the executor script tau sends with `python3 -c`.

Invariants:
- The channel is thread-based and loop-agnostic: callers await `asyncio.wrap_future(channel.submit(...))` on whatever
  event loop they run, so one channel serves every loop (tests run one loop per test; the CLI one loop per run).
- When the stream ends, every pending and later request fails with `ExecutorClosedError`; a channel never reconnects
  (the backend opens a new one).
- Reads are buffered (64 KiB), never one byte per syscall.

Contract with neighbours: `tau.environment.docker` hands over the raw socket of a `docker exec -i` attach; no docker
import here.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

__all__ = ("BOOTSTRAP", "ExecutorChannel", "ExecutorClosedError", "executor_source")

BOOTSTRAP = "import sys,json;exec(compile(json.loads(sys.stdin.buffer.readline()),'tau-executor','exec'))"
"""`python3 -c BOOTSTRAP` runs the executor whose source is sent, JSON-encoded, as the first line of stdin."""

_HEADER = struct.Struct(">BxxxL")


class ExecutorClosedError(ConnectionError):
    """The executor's stream ended (the executor, its container or the daemon went away)."""


def executor_source(path: Path | None = None) -> str:
    """The executor script's source: `sandbox/executor.py` beside the `tau` package unless `path` is given."""
    return (path or Path(__file__).resolve().parents[2] / "sandbox" / "executor.py").read_text(encoding="utf-8")


class ExecutorChannel:
    """Requests to one executor over a Docker attach socket (`framed=True`) or a plain byte stream."""

    def __init__(self, sock: socket.socket, *, framed: bool = True) -> None:
        self._sock = sock
        self._framed = framed
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed: ExecutorClosedError | None = None
        self.stderr_tail = b""
        self._reader = threading.Thread(target=self._read_loop, name="tau-executor-reader", daemon=True)
        self._reader.start()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def submit(self, request: dict[str, Any]) -> tuple[int, Future[dict[str, Any]]]:
        """Send one request (an `id` is added); return its id and the future of its reply."""
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            if self._closed is not None:
                future.set_exception(self._closed)
                return 0, future
            request_id = next(self._ids)
            self._pending[request_id] = future
        self.send({**request, "id": request_id})
        return request_id, future

    def send_source(self, source: str) -> None:
        """Send the executor's source (the first line BOOTSTRAP reads)."""
        self._send_bytes((json.dumps(source) + "\n").encode())

    def send(self, message: dict[str, Any]) -> None:
        """Send a request whose reply nobody waits for (a cancel); errors close the channel."""
        self._send_bytes((json.dumps(message) + "\n").encode())

    def _send_bytes(self, data: bytes) -> None:
        try:
            with self._write_lock:
                self._sock.sendall(data)
        except OSError as error:
            self._fail(ExecutorClosedError(f"executor stream broke while writing: {error}"))

    def close(self) -> None:
        """Close the stream; the executor sees EOF, kills what it runs and exits."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._fail(ExecutorClosedError("executor channel closed"))

    def _fail(self, error: ExecutorClosedError) -> None:
        with self._lock:
            if self._closed is None:
                self._closed = error
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(self._closed)

    def _deliver(self, line: bytes) -> None:
        try:
            reply = json.loads(line)
        except ValueError:
            return
        if not isinstance(reply, dict):
            return
        with self._lock:
            future = self._pending.pop(reply.get("id"), None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(reply)

    def _read_loop(self) -> None:
        reader = self._sock.makefile("rb", buffering=65536)
        pending = bytearray()
        try:
            while True:
                stream, chunk = self._read_chunk(reader)
                if chunk is None:
                    break
                if stream == 2:
                    self.stderr_tail = (self.stderr_tail + chunk)[-4096:]
                    continue
                pending.extend(chunk)
                while (end := pending.find(b"\n")) >= 0:
                    self._deliver(bytes(pending[:end]))
                    del pending[: end + 1]
        except (OSError, ValueError):
            pass
        finally:
            detail = self.stderr_tail.decode(errors="replace").strip()
            self._fail(ExecutorClosedError("executor stream ended" + (f": {detail[-500:]}" if detail else "")))

    def _read_chunk(self, reader: Any) -> tuple[int, bytes | None]:
        if not self._framed:
            data: bytes = reader.read1(65536)
            return 1, data or None
        header: bytes = reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return 0, None
        stream, size = _HEADER.unpack(header)
        payload: bytes = reader.read(size)
        if len(payload) < size:
            return 0, None
        return stream, payload
