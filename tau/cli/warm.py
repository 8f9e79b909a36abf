"""The thin client of warm runs: `tau run|resume|fork` handed to this user's local server (`tau serve --local`).

Imports the standard library only (and `tau.cli.started`, itself stdlib-only): it runs before click, pydantic or
anything of tau's is imported, so a warm run costs an interpreter start and one round trip on a Unix socket.

`handoff(argv)` returns (the caller runs the command locally) unless a server takes the job; then it never returns:
the process exits with the remote run's exit code, or dies of the signal the run died of. A server that is absent,
unreachable, of another build, or whose socket directory is not this user's own (owner, mode 0700) means a local run,
never an error. `--no-server` anywhere in the arguments, `TAU_NO_SERVER` set (not empty, not `0`), a closed standard
descriptor, or a command other than run/resume/fork also mean a local run.

The wire (JSON lines on a stream socket, see `tau.cli.warm_server` for the server side):

    client -> server   {"tau": 1, "build": B, "argv": [...], "env": {...}, "umask": N, "started": S|null}
                       with SCM_RIGHTS [stdin, stdout, stderr, cwd (O_PATH)]
    server -> client   {"refused": REASON}  (then the client runs locally)  |  {"pid": P}  (the run started)
    client -> server   {"signal": N}         (SIGINT/SIGTERM/SIGHUP received: the run gets the same signal)
    server -> client   {"exit": N} | {"signal": N}   (the run's end; the connection closes)

Invariants: the run gets this process's own descriptors, working directory (the directory itself, not its path),
environment, umask and start time (`--timeout` counts from this process's launch), so its output bytes, exit codes,
TTY questions and tool environment are those of a local run. Once the server answered `pid`, the job is never run
again locally: a connection lost after that is one line on stderr and exit 1. A client that goes away (killed)
closes the socket and the server sends its run SIGTERM, as a one-file launcher's death does to a local run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import Any, NoReturn

from tau.signal_death import die_by

__all__ = ["PROTOCOL", "build_id", "handoff", "socket_dir", "socket_path"]

PROTOCOL = 1
WARM_COMMANDS = frozenset({"run", "resume", "fork"})
NO_SERVER_FLAG = "--no-server"
SOCKET_NAME = "serve.sock"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_state = {"tried": False}  # one attempt per process (the entry and `main()` both ask; a server child never asks)


def socket_dir(env: dict[str, str] | os._Environ[str], uid: int) -> Path:
    """Where this user's local server listens: `$XDG_RUNTIME_DIR/tau` when that is set to an absolute path (as the
    XDG spec says, even when it does not exist: then there is no server), else `/tmp/tau-<uid>` (either must be this
    user's, mode 0700: checked by `owned_dir`)."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "tau"
    return Path("/tmp") / f"tau-{uid}"


def socket_path(env: dict[str, str] | os._Environ[str], uid: int) -> Path:
    return socket_dir(env, uid) / SOCKET_NAME


def owned_dir(path: Path, uid: int) -> str | None:
    """Why `path` is not a directory only `uid` can enter (a problem in words), or None when it is."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"{path}: {error.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != uid:
        return f"{path} belongs to uid {info.st_uid}, not {uid}"
    if info.st_mode & 0o077:
        return f"{path} is open to others (mode {stat.S_IMODE(info.st_mode):04o}, want 0700)"
    return None


def build_id() -> str:
    """What must match between client and server: tau's version and the code it runs (the frozen binary's path,
    or the directory of the `tau` package)."""
    from tau import __version__

    where = sys.executable if getattr(sys, "frozen", False) else os.path.dirname(os.path.abspath(__file__))
    return f"{__version__}:{os.path.realpath(where)}"


def mark_tried() -> None:
    """No hand-off from this process (a run the server forked, or a caller that decided already)."""
    _state["tried"] = True


def wanted(argv: list[str], env: dict[str, str] | os._Environ[str]) -> bool:
    """Whether `argv` (without the program name) is a command a local server may take."""
    if not argv or argv[0] not in WARM_COMMANDS or NO_SERVER_FLAG in argv:
        return False
    return env.get("TAU_NO_SERVER", "") in ("", "0")


def _std_open() -> bool:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            return False
    return True


def _connect(path: Path, uid: int) -> socket.socket | None:
    if owned_dir(path.parent, uid) is not None:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != uid:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _started_seconds() -> float | None:
    from tau.cli import started

    return started.start_seconds()


def _job(argv: list[str]) -> bytes:
    mask = os.umask(0o022)
    os.umask(mask)
    message = {
        "tau": PROTOCOL,
        "build": build_id(),
        "argv": argv,
        "env": dict(os.environ),
        "umask": mask,
        "started": _started_seconds(),
    }
    return json.dumps(message).encode("utf-8", "surrogatepass") + b"\n"


class _Lines:
    """JSON lines read from the server's side of the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            value = json.loads(line)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def handoff(argv: list[str]) -> None:
    """Hand `argv` (without the program name) to the local server, or return for a local run (module docstring)."""
    if _state["tried"]:
        return
    _state["tried"] = True
    if not wanted(argv, os.environ) or not _std_open():
        return
    uid = os.getuid()
    sock = _connect(socket_path(os.environ, uid), uid)
    if sock is None:
        return
    try:
        cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        sock.close()
        return  # the local run reports the missing directory
    try:
        payload = _job(argv)
        sock.sendmsg([payload[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fds(0, 1, 2, cwd))])
        sock.sendall(payload[1:])
    except OSError:
        sock.close()
        return
    finally:
        os.close(cwd)
    lines = _Lines(sock)
    answer = lines.next()
    if answer is None or "pid" not in answer:
        sock.close()
        return  # refused (another build, a bad job message) or gone before starting: run locally
    _follow(sock, lines)


def _fds(*fds: int) -> bytes:
    import array

    return array.array("i", fds).tobytes()


def _follow(sock: socket.socket, lines: _Lines) -> NoReturn:
    """The run is remote now: relay signals to it until its end arrives, then end the same way."""

    def relay(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(json.dumps({"signal": signum}).encode() + b"\n")

    for sig in FORWARDED:
        signal.signal(sig, relay)
    end = lines.next()
    if end is not None and isinstance(end.get("signal"), int):
        die_by(end["signal"])
    if end is None or not isinstance(end.get("exit"), int):
        with contextlib.suppress(OSError):
            os.write(2, b"tau: the local server went away during the run (see `tau serve --local`)\n")
        raise SystemExit(1)
    raise SystemExit(end["exit"])


def listen_owner_only(path: Path, backlog: int) -> socket.socket:
    """A Unix stream socket listening on `path` (a stale one there removed), mode 0600 from its creation on: the
    local server's socket and its provider pool's (tau.cli.warm_server, tau.cli.provider_pool)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(backlog)
    return listener
