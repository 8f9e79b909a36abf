"""Helpers of tests/warm: start and stop a real `tau serve --local`, run `tau` as a subprocess and tell whether the run
went through the server (the client process never imports the CLI then: `python -X importtime` says so)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tau_e2e import TIMEOUT

PYTHON_TAU = (sys.executable, "-m", "tau")


@dataclass
class LocalServer:
    process: subprocess.Popen[bytes]
    socket: Path
    banner: str
    lines: list[str] = field(default_factory=list)  # its stderr after the banner (drained by a thread)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=TIMEOUT)


@contextmanager
def start_server(env: dict[str, str], *, cwd: Path, command: tuple[str, ...] = PYTHON_TAU) -> Iterator[LocalServer]:
    """`tau serve --local` in `env`; yields once it announced its socket (its first stderr line)."""
    process = subprocess.Popen(
        [*command, "serve", "--local"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    drain: threading.Thread | None = None
    try:
        assert process.stderr is not None
        banner = process.stderr.readline().decode()
        assert banner.startswith("tau: local server on "), (banner, process.stderr.read().decode()[-2000:])
        path = Path(banner.removeprefix("tau: local server on ").rsplit(" (pid", 1)[0])
        server = LocalServer(process, path, banner)
        drain = threading.Thread(target=_drain, args=(process.stderr, server.lines), daemon=True)
        drain.start()
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if drain is not None:
            drain.join(timeout=TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()


def _drain(stream: IO[bytes], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.decode(errors="replace"))


@dataclass
class Traced:
    """A `python -X importtime -m tau ...` run: its result and the modules the client process imported."""

    returncode: int
    stdout: bytes
    stderr: str  # without the importtime lines
    modules: set[str]

    @property
    def remote(self) -> bool:
        """The run went through a server: this process asked one (`tau.cli.warm`) and never imported the CLI itself
        (`tau.cli.main`, which every local command imports)."""
        return "tau.cli.main" not in self.modules and "tau.cli.warm" in self.modules


def run_traced(*args: str, env: dict[str, str], cwd: Path, input: bytes = b"", timeout: float = TIMEOUT) -> Traced:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tau", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    modules: set[str] = set()
    kept = []
    for line in completed.stderr.decode("utf-8", "replace").splitlines(keepends=True):
        if line.startswith("import time:"):
            if line.count("|") == 2:
                modules.add(line.rsplit("|", 1)[1].strip())
            continue
        kept.append(line)
    return Traced(completed.returncode, completed.stdout, "".join(kept), modules)


def processes_with_cwd(workspace: Path, argv_prefix: list[bytes]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if argv[: len(argv_prefix)] == argv_prefix and cwd == str(workspace):
            pids.append(int(entry.name))
    return pids
