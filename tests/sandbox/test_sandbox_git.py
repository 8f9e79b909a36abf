"""Read-only git commands run none of the programs the repository's own config names; the sanitised config is what
git reads back. The canary programs announce themselves on stderr (nothing else is writable under read-only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, bash

from tau.environment import gitconfig

pytestmark = pytest.mark.anyio
CANARY = "TAU-CANARY"
COMMANDS = ["git status", "git diff", "git log -p", "git diff HEAD --stat", "git show HEAD"]


def git(ws: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(ws), *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(ws: Path, base: Path) -> Path:
    canary = base / "canary"
    canary.write_text(f'#!/bin/sh\necho "{CANARY} $0 $*" >&2\ncat "${{1:--}}" 2>/dev/null\nexit 0\n')
    canary.chmod(0o755)
    git(ws, "init", "-q")
    git(ws, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "root")
    (ws / ".gitattributes").write_text("*.txt diff=x filter=y\n")
    git(ws, "add", "-A")
    git(ws, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    for key, value in {
        "core.fsmonitor": f"{canary} fsmonitor",
        "diff.x.textconv": f"{canary} textconv",
        "filter.y.clean": f"{canary} clean",
        "filter.y.smudge": f"{canary} smudge",
        "core.pager": f"{canary} pager",
        "diff.external": f"{canary} external",
        "include.path": str(base / "included"),
        "core.hooksPath": str(base),
    }.items():
        git(ws, "config", key, value)
    (base / "included").write_text(f"[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {canary}\n")
    (ws / "data.txt").write_text("changed\n")
    return ws


@pytest.mark.parametrize("command", COMMANDS)
async def test_read_only_git_runs_no_repository_program(repo: Path, make_backend: Factory, command: str) -> None:
    result = await make_backend(repo, "read-only").run(bash(f"{command} </dev/null"), shell=True, timeout=30)
    assert CANARY not in result.stdout + result.stderr, result
    assert result.exit_code == 0, result


async def test_the_control_runs_them(repo: Path, make_backend: Factory) -> None:
    """Without the sanitised config (workspace-write binds the real one) the canaries do run: the test can fail."""
    result = await make_backend(repo, "workspace-write").run(bash("git diff"), shell=True, timeout=30)
    assert CANARY in result.stderr, result


async def test_git_reads_the_sanitised_config(repo: Path, make_backend: Factory) -> None:
    git(repo, "remote", "add", "origin", 'https://example.invalid/a "b";c#d')
    result = await make_backend(repo, "read-only").run(["git", "config", "--list", "--local"], timeout=30)
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [
        "core.repositoryformatversion=0",
        "core.filemode=true",
        "core.bare=false",
        "core.logallrefupdates=true",
        'remote.origin.url=https://example.invalid/a "b";c#d',
        "remote.origin.fetch=+refs/heads/*:refs/remotes/origin/*",
    ]


async def test_a_worktree_config_is_blanked(repo: Path, make_backend: Factory, base: Path) -> None:
    git(repo, "config", "extensions.worktreeConfig", "true")
    git(repo, "config", "--worktree", "core.fsmonitor", str(base / "canary"))
    result = await make_backend(repo, "read-only").run(bash("git status"), shell=True, timeout=30)
    assert result.exit_code == 0 and CANARY not in result.stderr, result


async def test_a_linked_worktree_uses_the_common_config(repo: Path, make_backend: Factory, base: Path) -> None:
    linked = base / "linked"
    git(repo, "worktree", "add", "-q", str(linked))
    (linked / "data.txt").write_text("linked change\n")
    result = await make_backend(linked, "read-only").run(bash("git diff && git status"), shell=True, timeout=30)
    assert result.exit_code == 0 and CANARY not in result.stderr, result
    assert gitconfig.find_git_dirs(str(linked)) == gitconfig.GitDirs(
        str((repo / ".git" / "worktrees" / "linked").resolve()), str((repo / ".git").resolve())
    )


def test_quoting_round_trips_through_git(base: Path) -> None:
    nasty = 'tab\there "quoted" back\\slash ;semi #hash\nnewline'
    source = base / "config"
    source.write_text("")
    subprocess.run(["git", "config", "-f", str(source), 'remote.we"ird\\name.url', nasty], check=True)
    subprocess.run(["git", "config", "-f", str(source), "branch.main.merge", "refs/heads/main"], check=True)
    subprocess.run(["git", "config", "-f", str(source), "core.sshCommand", "evil"], check=True)
    out = base / "out"
    out.write_text(gitconfig.sanitised_text(str(source)))
    read_back = subprocess.run(
        ["git", "config", "-f", str(out), "--get", 'remote.we"ird\\name.url'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert read_back.stdout == nasty + "\n"
    listed = git(out.parent, "config", "-f", str(out), "--list")
    assert "sshcommand" not in listed.lower()
    assert "branch.main.merge=refs/heads/main" in listed


@pytest.mark.parametrize(
    "text",
    [
        "[core]\n\tfsmonitor = evil\n",
        '[core "x"]\n\tfsmonitor = evil\n',
        "[core] fsmonitor = evil\n",  # a key on the header line: the header is not understood, so nothing survives
        '[remote "o"]\n\turl = ok\n\tuploadpack = evil\n\treceivepack = evil\n',
        '[include]\n\tpath = /tmp/x\n[includeIf "gitdir:/"]\n\tpath = /tmp/x\n',
        '[diff "x"]\n\ttextconv = evil\n[merge "y"]\n\tdriver = evil\n[filter "z"]\n\tprocess = evil\n',
        '[branch "m"]\n\tremote = o\n[core]\n\tpager = evil\\\n\tmore\n',
        "[alias]\n\tst = !evil\n[credential]\n\thelper = evil\n[protocol]\n\tallow = always\n",
    ],
)
def test_nothing_that_runs_a_program_survives(text: str) -> None:
    kept = gitconfig.sanitise(gitconfig.parse(text))
    allowed = {("remote", "url"), ("branch", "remote")}
    assert {(entry.section, entry.name) for entry in kept} <= allowed
