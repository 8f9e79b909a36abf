"""The warm server's pool of stdio MCP server processes (issue #19 item 3), kept in `tau serve --local`'s parent.

A run forked by the server asks for a server by its full resolved definition (command, args, environment, working
directory: `tau.mcp.pooled`); the key is that definition, so two runs share a process only when they would have
started the very same one. The pool hands out an idle process of that key or starts one; a process serves one run at a
time and goes back to the pool only when the run gives it back clean. Anything else kills it: a dirty or missing
release, a run that ended holding it, a process found dead, output it wrote while idle that ends mid-message, or
`idle_s` without a run (default 300 s, `TAU_MCP_POOL_IDLE`). At most `max_idle` idle processes are kept (the oldest
goes first).

Processes are started as `tau.mcp.toolsets` starts them (wrapped by `tau.environment.lifetime`, so they die with the
server), with stdin and stdout one end of a Unix socket pair (the other end is what a run gets) and stderr an
O_APPEND file that is emptied before each lease, so a run's error messages show only its own stderr. Lines a process
writes while idle (log notifications, late replies) are read and dropped before the next lease.

Everything runs in the server's single thread (its select loop): no threads, so forking runs stays safe.
`TAU_MCP_POOL=0` in the server's environment turns the pool off (`enabled_in`); in a run's environment it keeps that
run out of it (`tau.mcp.pooled`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tau.environment.lifetime import lifetime_argv
from tau.mcp.pooled import pooling_off

__all__ = ["McpPool", "enabled_in"]

DEFAULT_IDLE_S = 300.0
_DRAIN_LIMIT = 1024 * 1024


def enabled_in(env: Mapping[str, str]) -> bool:
    return not pooling_off(env)


def idle_seconds(env: Mapping[str, str]) -> float:
    raw = env.get("TAU_MCP_POOL_IDLE", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_IDLE_S
    except ValueError:
        value = DEFAULT_IDLE_S
    return value if value > 0 else DEFAULT_IDLE_S


@dataclass
class _Process:
    key: str
    process: subprocess.Popen[bytes]
    ours: socket.socket
    stderr_fd: int
    holder: int | None = None  # the run's pid while leased
    idle_since: float = 0.0


@dataclass
class McpPool:
    """Pooled stdio MCP servers by definition. `report` gets one line per start/stop (never the definition)."""

    report: Callable[[str], None]
    idle_s: float = DEFAULT_IDLE_S
    max_idle: int = 16
    clock: Callable[[], float] = time.monotonic
    started: int = 0
    _leases: dict[int, _Process] = field(default_factory=dict)
    _idle: list[tuple[int, _Process]] = field(default_factory=list)
    _next: int = 1

    def descriptors(self) -> list[int]:
        """Every descriptor the pool holds (a forked run closes them: it gets its own through a lease)."""
        procs = [p for _, p in self._idle] + list(self._leases.values())
        return [fd for p in procs for fd in (p.ours.fileno(), p.stderr_fd) if fd >= 0]

    def lease(self, definition: Any, holder: int) -> tuple[dict[str, Any], list[int]]:
        """(answer, descriptors to send) for a run's `mcp_lease` request."""
        key = _key(definition)
        if key is None:
            return {"refused": "malformed definition"}, []
        proc = self._take_idle(key)
        if proc is None:
            try:
                proc = self._start(key, definition)
            except OSError as error:
                return {"refused": f"could not start: {error.strerror or error}"}, []
        os.ftruncate(proc.stderr_fd, 0)
        proc.holder = holder
        number, self._next = self._next, self._next + 1
        self._leases[number] = proc
        return {"lease": number}, [proc.ours.fileno(), proc.stderr_fd]

    def release(self, number: int, *, clean: bool, holder: int) -> None:
        proc = self._leases.get(number)
        if proc is None or proc.holder != holder:
            return
        del self._leases[number]
        proc.holder = None
        if clean and proc.process.poll() is None and self._drained(proc):
            proc.idle_since = self.clock()
            self._idle.append((number, proc))
            while len(self._idle) > self.max_idle:
                self._stop(self._idle.pop(0)[1], "more idle than kept")
        else:
            self._stop(proc, "not given back clean")

    def run_ended(self, holder: int) -> None:
        """A run ended: whatever it still holds is killed (it may have left a request half answered)."""
        for number, proc in list(self._leases.items()):
            if proc.holder == holder:
                del self._leases[number]
                self._stop(proc, "its run ended holding it")

    def next_timeout(self) -> float | None:
        """Seconds until the oldest idle process expires (for the server's select), or None."""
        if not self._idle:
            return None
        return max(0.0, min(p.idle_since for _, p in self._idle) + self.idle_s - self.clock())

    def expire(self) -> None:
        now = self.clock()
        keep = []
        for entry in self._idle:
            if now - entry[1].idle_since >= self.idle_s:
                self._stop(entry[1], "idle")
            else:
                keep.append(entry)
        self._idle = keep

    def close(self) -> None:
        for _, proc in self._idle:
            self._stop(proc, "server stopping")
        for proc in self._leases.values():
            self._stop(proc, "server stopping")
        self._idle, self._leases = [], {}

    def _take_idle(self, key: str) -> _Process | None:
        for index, (_number, proc) in enumerate(self._idle):
            if proc.key != key:
                continue
            del self._idle[index]
            if proc.process.poll() is None and self._drained(proc):
                return proc
            self._stop(proc, "found dead or mid-message")  # replaced by a fresh one below
            return None
        return None

    def _start(self, key: str, definition: dict[str, Any]) -> _Process:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        stderr_fd = _append_file()
        try:
            cwd = definition["cwd"]
            argv = lifetime_argv([definition["command"], *definition["args"]], cwd=cwd)
            process = subprocess.Popen(
                argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=stderr_fd, env=definition["env"], cwd=cwd
            )
        except BaseException:
            ours.close()
            os.close(stderr_fd)
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.started += 1
        self.report(f"tau: pooled MCP server pid {process.pid} started")
        return _Process(key, process, ours, stderr_fd)

    def _drained(self, proc: _Process) -> bool:
        """Read what the process wrote while nobody listened; False when it ends mid-message (or is too much)."""
        pending = b""
        while len(pending) < _DRAIN_LIMIT:
            try:
                data = proc.ours.recv(65536)
            except BlockingIOError:
                return not pending or pending.endswith(b"\n")
            except OSError:
                return False
            if not data:
                return False
            pending += data
        return False

    def _stop(self, proc: _Process, why: str) -> None:
        if proc.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.process.kill()
            with contextlib.suppress(Exception):
                proc.process.wait(timeout=5)
        proc.ours.close()
        with contextlib.suppress(OSError):
            os.close(proc.stderr_fd)
        proc.stderr_fd = -1
        self.report(f"tau: pooled MCP server pid {proc.process.pid} stopped ({why})")


def _append_file() -> int:
    """An anonymous O_APPEND file: a server's writes land at its end even after the pool empties it."""
    fd, path = tempfile.mkstemp(prefix="tau-mcp-stderr-")
    try:
        appending = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
    finally:
        os.unlink(path)
        os.close(fd)
    return appending


def _key(definition: Any) -> str | None:
    if not isinstance(definition, dict):
        return None
    command, args, env, cwd = (definition.get(k) for k in ("command", "args", "env", "cwd"))
    if not isinstance(command, str) or not command or not isinstance(cwd, str):
        return None
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        return None
    return json.dumps([command, args, sorted(env.items()), cwd])
