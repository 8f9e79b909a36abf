"""Parity (issue #19): the frozen binary's smoke tests pass through a warm local server too.

Every test of test_frozen_smoke.py is collected again here with a `run_tau` that runs the same binary against a
`TAU_BINARY serve --local` started for this module (its runtime dir a temporary one, so no other tau on the machine
is involved): `run`/`resume`/`fork` are then handed to the server, everything else runs locally as before. When the
module ends, the server's log must show exactly as many finished runs as `run`/`resume`/`fork` commands were given,
so the tests cannot pass by quietly running locally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_frozen_smoke import *  # noqa: F403 -- the same smoke tests, collected again with the warm `run_tau` below

_WARM_COMMANDS = ("run", "resume", "fork")


@dataclass
class _Served:
    runtime: Path
    handed: list[tuple[str, ...]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def warm_server(tau_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    root = tmp_path_factory.mktemp("warm")
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TAU_", "OPENAI_", "ANTHROPIC_"))}
    env.update(XDG_RUNTIME_DIR=str(runtime), HOME=str(root))
    process = subprocess.Popen(
        [str(tau_binary), "serve", "--local"], cwd=root, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr = process.stderr
    assert stderr is not None
    banner = stderr.readline().decode()
    served = _Served(runtime)
    drain = threading.Thread(target=lambda: served.log.extend(line.decode() for line in stderr), daemon=True)
    try:
        assert banner.startswith(f"tau: local server on {runtime}/tau/serve.sock"), banner
        drain.start()
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
        if drain.is_alive():
            drain.join(timeout=60)
        stderr.close()
    assert code == -signal.SIGTERM, served.log
    ended = [line for line in served.log if line.startswith("tau: run pid ")]
    assert len(ended) == len(served.handed), (served.handed, served.log)


@pytest.fixture
def run_tau(tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, warm_server: _Served) -> RunTau:  # noqa: F405
    """As conftest's `run_tau`, with the warm server's runtime dir in the environment."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        if args and args[0] in _WARM_COMMANDS:
            warm_server.handed.append(args)
        return subprocess.run(
            [str(tau_binary), *args],
            cwd=cwd or hello_dir,
            env={**hermetic_env, **(env or {}), "XDG_RUNTIME_DIR": str(warm_server.runtime)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
