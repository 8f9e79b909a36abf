"""The warm server's pools (issue #19 item 3), wired into `tau.cli.warm_server`'s select loop.

Each forked run gets one end of a control socket pair (`fork_pair`); the server keeps the other in its selector and
answers the run's lease and release messages from its pools (`tau.mcp.warm_pool` for stdio MCP servers,
`tau.environment.docker_warm_pool` for sandbox containers). When the run is reaped, what it still holds is discarded
(`run_ended`). A forked child closes every pool descriptor and every other run's control socket and keeps only its
own (`in_child`), so a run can reach pooled resources only by leasing. A lease the sandbox pool answers later (a
container being made or reset) is sent when it is ready (`_deferred`); a pool that is off answers every lease
`refused`, so a run never waits on it.

`TAU_MCP_POOL=0` in the server's environment turns the MCP pool off (runs then start their servers themselves);
`TAU_MCP_POOL_IDLE` is its idle timeout in seconds (default 300). `TAU_SANDBOX_POOL=0` turns the sandbox pool off
(`TAU_SANDBOX_POOL=N`: containers kept per sandbox definition, default 2); `TAU_SANDBOX_POOL_IDLE` is its idle
timeout in seconds (default 300).
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tau.environment import docker_warm_pool
from tau.environment.docker_warm_pool import SandboxPool
from tau.mcp.warm_pool import McpPool, enabled_in, idle_seconds

__all__ = ["Control", "PoolHost"]

_MAX_MESSAGE = 16 * 1024 * 1024


@dataclass
class Control:
    """The server's end of one run's control socket."""

    sock: socket.socket
    pid: int = 0
    buffer: bytes = b""


class PoolHost:
    """Pools and the runs' control sockets (module docstring)."""

    def __init__(self, env: Mapping[str, str], report: Callable[[str], None]) -> None:
        self.mcp = McpPool(report, idle_s=idle_seconds(env)) if enabled_in(env) else None
        size, idle_s = docker_warm_pool.settings(env)
        self.sandbox = SandboxPool(report, self._deferred, size=size, idle_s=idle_s) if size else None
        self.controls: dict[int, Control] = {}  # by run pid
        _preload_docker()  # sandboxed runs import it with or without the pool

    def fork_pair(self) -> tuple[Control, socket.socket] | None:
        """(the server's end, the run's end) of a new control socket; None with every pool off."""
        if self.mcp is None and self.sandbox is None:
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        return Control(ours), theirs

    def adopt(self, control: Control, pid: int) -> None:
        control.pid = pid
        control.sock.setblocking(False)
        self.controls[pid] = control

    def in_child(self, own: socket.socket | None) -> None:
        """In a forked run: drop every pool descriptor and other runs' control sockets; attach our own."""
        from tau.environment import docker_pool
        from tau.mcp import pooled

        for control in self.controls.values():
            control.sock.close()
        descriptors = [
            *(self.mcp.descriptors() if self.mcp else ()),
            *(self.sandbox.descriptors() if self.sandbox else ()),
        ]
        for fd in descriptors:
            with contextlib.suppress(OSError):
                os.close(fd)
        pooled.attach(own if self.mcp is not None else None)
        docker_pool.attach(own if self.sandbox is not None else None)

    def timeout(self) -> float | None:
        timeouts = [pool.next_timeout() for pool in (self.mcp, self.sandbox) if pool is not None]
        known = [timeout for timeout in timeouts if timeout is not None]
        return min(known) if known else None

    def tick(self) -> None:
        if self.mcp is not None:
            self.mcp.expire()
        if self.sandbox is not None:
            self.sandbox.tick()

    def readable(self, control: Control) -> bool:
        """Handle what the run sent; False once it closed its end (`run_ended` cleans up when it is reaped)."""
        try:
            data = control.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        control.buffer += data
        while b"\n" in control.buffer:
            line, _, control.buffer = control.buffer.partition(b"\n")
            self._message(control, line)
        if len(control.buffer) > _MAX_MESSAGE:
            control.buffer = b""
            self._answer(control, {"refused": "message too large"}, [])
        return True

    def run_ended(self, pid: int) -> Control | None:
        """The run `pid` was reaped: read what it said last, discard what it still holds; its control to forget."""
        control = self.controls.pop(pid, None)
        if control is not None:
            self.readable(control)  # a release sent just before it exited
            control.sock.close()
        if self.mcp is not None:
            self.mcp.run_ended(pid)
        if self.sandbox is not None:
            self.sandbox.run_ended(pid)
        return control

    def close(self) -> None:
        for control in self.controls.values():
            control.sock.close()
        self.controls.clear()
        if self.mcp is not None:
            self.mcp.close()
        if self.sandbox is not None:
            self.sandbox.close()

    def _message(self, control: Control, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        clean = message.get("clean") is True
        if "mcp_lease" in message:
            answer, fds = self.mcp.lease(message["mcp_lease"], control.pid) if self.mcp else ({"refused": "off"}, [])
            self._answer(control, answer, fds)
        elif isinstance(message.get("mcp_release"), int) and self.mcp is not None:
            self.mcp.release(message["mcp_release"], clean=clean, holder=control.pid)
        elif "sandbox_lease" in message:
            now = self.sandbox.lease(message["sandbox_lease"], control.pid) if self.sandbox else {"refused": "off"}
            if now is not None:  # None: the pool answers when its container is made or reset
                self._answer(control, now, [])
        elif isinstance(message.get("sandbox_release"), int) and self.sandbox is not None:
            self.sandbox.release(message["sandbox_release"], clean=clean, holder=control.pid)

    def _deferred(self, pid: int, answer: dict[str, Any]) -> None:
        control = self.controls.get(pid)
        if control is not None:
            self._answer(control, answer, [])

    def _answer(self, control: Control, answer: dict[str, Any], fds: list[int]) -> None:
        data = json.dumps(answer).encode() + b"\n"
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
        with contextlib.suppress(OSError):
            control.sock.setblocking(True)
            control.sock.sendmsg([data], ancillary)
            control.sock.setblocking(False)


def _preload_docker() -> None:
    """The docker SDK and the docker backend, imported once here: forked sandboxed runs and the pool's workers then
    skip ~0.2-0.3 s of imports each."""
    with contextlib.suppress(ImportError):
        import docker  # type: ignore[import-untyped]  # noqa: F401

        import tau.environment.docker  # noqa: F401
