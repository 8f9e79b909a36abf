"""Startup hygiene (DESIGN.md §6): `tau --version` / `tau --help` import no provider SDK, mcp, docker or pydantic-ai;
a run imports the SDK of the provider it uses and no other. Measured with `python -X importtime -m tau`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tau_e2e import TIMEOUT, Recordings, Sandbox, closed_port, run_tau

HEAVY = ("openai", "anthropic", "mcp", "docker", "pydantic_ai")


def imported_modules(sandbox: Sandbox, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """(exit code, every module imported, stdout) of `python -X importtime -m tau ARGS`."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tau", *args],
        cwd=sandbox.work,
        env=env or sandbox.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    modules = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name)
    assert "tau.cli.main" in modules, completed.stderr[-2000:]
    return completed.returncode, modules, completed.stdout


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(sandbox: Sandbox, flag: str) -> None:
    code, modules, stdout = imported_modules(sandbox, flag)
    assert code == 0
    assert top_level(modules) & set(HEAVY) == set(), sorted(m for m in modules if m.split(".")[0] in HEAVY)
    if flag == "--version":
        assert stdout.startswith("tau ")
    else:
        assert "Usage: tau" in stdout and " run " in stdout


def test_openai_chat_run_imports_openai_not_anthropic(sandbox: Sandbox) -> None:
    sandbox.write(".tau/config.toml", "[providers.openai-chat]\nmax_retries = 0\n")
    env = {**sandbox.env, "TAU_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}
    code, modules, _ = imported_modules(sandbox, "run", "-p", "hi", "--model", "openai-chat:m", "-q", env=env)
    assert code == 1  # nobody listens: a provider failure, after the SDK was imported
    assert {"openai", "pydantic_ai"} <= top_level(modules)
    assert "anthropic" not in top_level(modules)
    assert "docker" not in top_level(modules)


def test_replay_run_imports_no_provider_sdk(sandbox: Sandbox, recordings: Recordings) -> None:
    args = recordings.replay_args("greet", sandbox, "-q")
    code, modules, stdout = imported_modules(sandbox, *args)
    assert (code, stdout) == (0, "Hello, Ada!\n")
    assert top_level(modules) & {"openai", "anthropic", "docker"} == set()


def test_console_script_and_module_agree(sandbox: Sandbox) -> None:
    script = run_tau("--version", sandbox=sandbox)
    module = subprocess.run(
        [sys.executable, "-m", "tau", "--version"],
        cwd=sandbox.work,
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert script.stdout.startswith("tau ")
