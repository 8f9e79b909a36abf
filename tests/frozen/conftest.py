"""Fixtures for smoke tests of the frozen `tau` binary (docs/binary.md): every test runs the binary, never the venv.

`TAU_BINARY` names the binary under test (`scripts/build-binary` builds dist/tau). Without it the tests skip, except
under `CI=true` with `TAU_FROZEN_REQUIRED=1`, where a missing binary fails them: CI cannot pass by not building.
Each test gets a hermetic environment: no `TAU_*` or provider variables from the caller, `HOME` and
`XDG_CONFIG_HOME` in a temporary directory (user config there sets `max_retries = 0` for the network providers so
error paths answer at once), and a fresh copy of examples/hello as its working directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"
AIMOCK_CLI = ROOT / "tests" / "partners" / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
_LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 15.0
_DROPPED_PREFIXES = ("TAU_", "OPENAI_", "ANTHROPIC_", "AZURE_OPENAI_", "OLLAMA_")
USER_CONFIG = """\
[providers.openai]
max_retries = 0
[providers.openai-chat]
max_retries = 0
[providers.anthropic]
max_retries = 0
[providers.ollama]
max_retries = 0
"""

RunTau = Callable[..., subprocess.CompletedProcess[str]]


def _ci_requires_binary() -> bool:
    return os.environ.get("CI", "").lower() == "true" and os.environ.get("TAU_FROZEN_REQUIRED") == "1"


@pytest.fixture(scope="session")
def tau_binary() -> Path:
    """The frozen binary under test (`$TAU_BINARY`), checked to be a native executable and not a Python script."""
    given = os.environ.get("TAU_BINARY", "")
    reason = None
    if not given:
        reason = "TAU_BINARY is not set (build with scripts/build-binary, then TAU_BINARY=dist/tau)"
    elif not Path(given).is_file() or not os.access(given, os.X_OK):
        reason = f"TAU_BINARY={given} is not an executable file"
    if reason is not None:
        if _ci_requires_binary():
            pytest.fail(f"frozen binary required in CI (TAU_FROZEN_REQUIRED=1): {reason}")
        pytest.skip(reason)
    binary = Path(given).resolve()
    with binary.open("rb") as handle:
        magic = handle.read(4)
    assert magic == b"\x7fELF", f"TAU_BINARY={binary} is not a frozen binary (a script? the venv's console script?)"
    return binary


@pytest.fixture
def hermetic_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
    home = tmp_path / "home"
    config = tmp_path / "xdg-config"
    (config / "tau").mkdir(parents=True)
    (config / "tau" / "config.toml").write_text(USER_CONFIG)
    home.mkdir()
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(config), PYTHONDONTWRITEBYTECODE="1")
    env.pop("TAU_DEBUG", None)
    return env


@pytest.fixture
def hello_dir(tmp_path: Path) -> Path:
    """A fresh copy of examples/hello (without its notes/ output)."""
    target = tmp_path / "hello"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("notes", "__pycache__"))
    return target


@pytest.fixture
def run_tau(tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path) -> RunTau:
    """`run_tau(*args, env={...}, cwd=..., timeout=...)`: the binary with `args`, output captured as text."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(tau_binary), *args],
            cwd=cwd or hello_dir,
            env={**hermetic_env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


# --- aimock (copied from tests/e2e_http/conftest.py: that conftest is not importable as a module) ---------------


def require_aimock() -> None:
    """Skip (locally) or fail (CI=true) when the node partner aimock cannot run."""
    if shutil.which("node") is None:
        reason = "node is not installed"
    elif not AIMOCK_CLI.exists():
        reason = "npm test partners are not installed: run scripts/install-test-partners.sh"
    else:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"aimock unavailable in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def run_aimock(fixture_file: Path) -> Iterator[str]:
    """Run aimock serving `fixture_file`; yields its origin (`http://127.0.0.1:PORT`)."""
    require_aimock()
    process = subprocess.Popen(
        ["node", str(AIMOCK_CLI), "-p", "0", "-h", "127.0.0.1", "-f", str(fixture_file), "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        origin = _wait_until_listening(process)
        _wait_until_healthy(origin)
        yield origin
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_listening(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    seen = b""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"aimock exited with {process.wait()}: {seen.decode(errors='replace')}")
        seen += line
        if match := _LISTENING.search(line):
            return match.group(1).decode()
    raise RuntimeError(f"aimock did not start in {_START_TIMEOUT}s: {seen.decode(errors='replace')}")


def _wait_until_healthy(origin: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{origin}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


@pytest.fixture
def aimock_origin() -> Iterator[str]:
    """An aimock serving tests/e2e_http/fixtures/chat.json; yields `http://127.0.0.1:PORT`."""
    with run_aimock(ROOT / "tests" / "e2e_http" / "fixtures" / "chat.json") as origin:
        yield origin
