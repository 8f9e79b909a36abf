"""A run's side of the warm server's MCP pool: lease a running stdio server from the server process, talk MCP to it
over the socket that is its stdin/stdout, and give it back when the run lets go.

Only a run forked by `tau serve --local` has a pool: the server hands the child one end of a control socket
(`attach`). Everywhere else (`tau run` without a server, `tau serve`'s RPC runs, `tau mcp ls`) `lease` returns None
and `tau.mcp.toolsets` starts the server itself, as before. `TAU_MCP_POOL=0` in the run's environment does the same.

Contract with the server (`tau.mcp.warm_pool`): JSON lines on the control socket. `{"mcp_lease": {"command",
"args", "env", "cwd"}}` is answered by `{"lease": N}` with two descriptors attached (our end of the server's
stdin/stdout socket, its stderr file, emptied for this run) or by `{"refused": why}`, and then the run starts the
server itself. `{"mcp_release": N, "clean": bool}` gives it back: clean means no request of this run can still be
answered (no call timed out or cancelled, no partial message read, the server did not die). A process
not given back clean is killed by the server, and so is every lease of a run that ended without giving it back.

Each run gets its own MCP session on the pooled process: the client sends `initialize` again, lists tools again, and
nothing of the previous run's session (pending requests, half-read messages, its stderr) reaches it. What the server
process keeps in its own memory between sessions is the server's, as with a remote (http) server that many clients
share; a server that must start empty for every run is kept out of the pool with `TAU_MCP_POOL=0`.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import anyio

__all__ = ["Lease", "attach", "lease", "pooling_off", "transport_for"]

_CONTROL: list[socket.socket] = []  # the one control socket of a warm server's child, when there is one
_FDS = 2


def attach(control: socket.socket | None) -> None:
    """Set (in a warm server's child) or clear the control socket leases go through."""
    _CONTROL[:] = [control] if control is not None else []


def pooling_off(env: Mapping[str, str]) -> bool:
    return env.get("TAU_MCP_POOL", "").strip().lower() in {"0", "false", "no", "off"}


@dataclass
class Lease:
    """One pooled server held by this run. `clean` turns False as soon as a reply could still be on its way."""

    number: int
    sock: socket.socket
    stderr: IO[str]
    clean: bool = True
    partial: bool = False
    released: bool = False

    def release(self, *, dead: bool) -> None:
        if self.released:
            return
        self.released = True
        clean = self.clean and not dead and not self.partial
        with contextlib.suppress(OSError):
            self.sock.close()
        for control in _CONTROL:
            with contextlib.suppress(OSError):
                control.sendall(json.dumps({"mcp_release": self.number, "clean": clean}).encode() + b"\n")


def lease(command: str, args: list[str], env: Mapping[str, str], cwd: str) -> Lease | None:
    """A pooled server for this definition from the warm server, or None (no pool here, off, or refused)."""
    if not _CONTROL or pooling_off(env):
        return None
    control = _CONTROL[0]
    request = {"mcp_lease": {"command": command, "args": list(args), "env": dict(env), "cwd": cwd}}
    try:
        control.sendall(json.dumps(request).encode() + b"\n")
        data, fds = _receive(control)
    except OSError:
        return None
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("lease"), int) or len(fds) != _FDS:
        for fd in fds:
            os.close(fd)
        return None
    sock = socket.socket(fileno=fds[0])
    sock.setblocking(False)
    stderr = os.fdopen(fds[1], "r", encoding="utf-8", errors="replace")
    return Lease(answer["lease"], sock, stderr)


def _receive(control: socket.socket) -> tuple[bytes, list[int]]:
    """One answer line (answers are short and come one at a time) and the descriptors sent with it."""
    data = b""
    fds: list[int] = []
    while not data.endswith(b"\n"):
        chunk, ancillary, _flags, _addr = control.recvmsg(65536, socket.CMSG_SPACE(_FDS * 4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                fds.extend(received)
        if not chunk:
            raise OSError("the local server closed the pool's control socket")
        data += chunk
    for fd in fds:
        os.set_inheritable(fd, False)
    return data, fds


def transport_for(held: Lease) -> Any:
    """A fastmcp client transport speaking MCP over the leased server's stdin/stdout socket."""
    from fastmcp.client.transports.base import ClientTransport, TransportOptions

    class PooledTransport(ClientTransport):
        @contextlib.asynccontextmanager
        async def connect_session(
            self, *, transport_options: TransportOptions | None = None, **session_kwargs: Any
        ) -> AsyncGenerator[Any, None]:
            options = transport_options or TransportOptions()
            async with (
                _streams(held) as (read, write),
                options.session_class(read_stream=read, write_stream=write, **session_kwargs) as session,
            ):
                yield session

        def __repr__(self) -> str:
            return f"<PooledTransport(lease={held.number})>"

    return PooledTransport()


@contextlib.asynccontextmanager
async def _streams(held: Lease) -> AsyncGenerator[tuple[Any, Any], None]:
    """MCP message streams over the socket; never shuts the socket down (the pool keeps the server)."""
    import mcp_types as types
    from mcp.shared.message import SessionMessage

    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)
    sock = held.sock

    async def reader() -> None:
        pending = b""
        async with read_writer:
            while True:
                await anyio.wait_readable(sock)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    held.clean = False
                    return
                pending += data
                while b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    if not line.strip():
                        continue
                    try:
                        message: Any = SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
                    except Exception as exc:  # a malformed line is the session's to report
                        message = exc
                    await read_writer.send(message)
                held.partial = bool(pending)  # a message half read: its rest must not reach the next run

    async def writer() -> None:
        async with write_reader:
            async for message in write_reader:
                data = (message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n").encode()
                while data:
                    await anyio.wait_writable(sock)
                    try:
                        data = data[sock.send(data) :]
                    except BlockingIOError:
                        continue

    async with anyio.create_task_group() as group:
        group.start_soon(reader)
        group.start_soon(writer)
        try:
            yield read_stream, write_stream
        finally:
            group.cancel_scope.cancel()
