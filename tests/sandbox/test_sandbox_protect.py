"""What configures later runs stays out of a command's reach under workspace-write, also when it does not exist yet:
created protected paths are taken back, `.git` cannot be swapped, and an untrusted repository's git config names
no program to a command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, bash

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("command", "created"),
    [
        ("echo '{}' > .mcp.json", ".mcp.json"),
        ("mkdir -p .claude && echo '{\"hooks\": {}}' > .claude/settings.json", ".claude"),
        ("mkdir -p .tau && echo 'x = 1' > .tau/config.toml", ".tau"),
        ("mkdir elsewhere && mv elsewhere .claude", ".claude"),
    ],
)
async def test_a_command_cannot_create_what_configures_later_runs(
    ws: Path, make_backend: Factory, command: str, created: str
) -> None:
    backend = make_backend(ws, "workspace-write")
    result = await backend.run(bash(command), shell=True, timeout=30)
    assert not (ws / created).exists(), result
    assert (ws / f"{created}.tau-refused").exists()  # taken back, not destroyed
    assert f"{ws / created} configures later runs" in result.stderr


async def test_dot_git_cannot_be_swapped(ws: Path, make_backend: Factory) -> None:
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    backend = make_backend(ws, "workspace-write")
    swap = "mv .git .git-orig && cp -r .git-orig .git && printf '[core]\\n\\tfsmonitor = ./x.sh\\n' >> .git/config"
    result = await backend.run(bash(swap), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert not (ws / ".git-orig").exists() and "fsmonitor" not in (ws / ".git" / "config").read_text()


async def test_an_untrusted_repositorys_git_config_runs_nothing_under_workspace_write(
    ws: Path, make_backend: Factory
) -> None:
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    canary = ws.parent / "outside" / "ran"
    (ws / "x.sh").write_text(f"#!/bin/sh\ntouch {ws}/ran-inside\n")
    (ws / "x.sh").chmod(0o755)
    with (ws / ".git" / "config").open("a") as config:
        config.write(f"[diff]\n\texternal = {ws}/x.sh\n[user]\n\tname = Repo Person\n\temail = r@example.com\n")
    subprocess.run(["git", "-C", str(ws), "add", "data.txt"], check=True)
    (ws / "data.txt").write_text("changed\n")
    trusted = make_backend(ws, "workspace-write")
    untrusted = make_backend(ws, "workspace-write", sanitise_git=True)
    result = await untrusted.run(bash("git diff --ext-diff; git config user.name"), shell=True, timeout=30)
    assert not (ws / "ran-inside").exists() and not canary.exists(), result
    assert "Repo Person" in result.stdout  # harmless keys survive
    control = await trusted.run(bash("git diff --ext-diff"), shell=True, timeout=30)
    assert (ws / "ran-inside").exists(), control  # the same repository, trusted: its diff driver runs
