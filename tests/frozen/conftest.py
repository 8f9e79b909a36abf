"""Fixtures for smoke tests of the frozen `tau` binary (docs/binary.md): every test runs the binary, never the venv.

`TAU_BINARY` names the binary under test (`scripts/build-binary` builds dist/tau). Without it the tests skip, except
under `CI=true` with `TAU_FROZEN_REQUIRED=1`, where a missing binary fails them: CI cannot pass by not building.
Each test gets a hermetic environment: no `TAU_*` or provider variables from the caller, `HOME` and
`XDG_CONFIG_HOME` in a temporary directory (user config there sets `max_retries = 0` for the network providers so
error paths answer at once), and a fresh copy of examples/hello as its working directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"
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
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")  # no `tau serve --local` of the machine's user takes these runs
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


# --- aimock: the same helpers as tests/e2e_http, loaded by path (test directories are not packages) ------------


def _load_e2e_http() -> ModuleType:
    path = ROOT / "tests" / "e2e_http" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_tau_frozen_e2e_http_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_e2e_http = _load_e2e_http()
run_aimock: Callable[[Path], Any] = _e2e_http.run_aimock
require_aimock: Callable[[], None] = _e2e_http.require_aimock


@pytest.fixture
def aimock_origin() -> Iterator[str]:
    """An aimock serving tests/e2e_http/fixtures/chat.json; yields `http://127.0.0.1:PORT`."""
    with run_aimock(ROOT / "tests" / "e2e_http" / "fixtures" / "chat.json") as origin:
        yield origin
