"""Read-only git commands run none of the programs the repository's own config names; the sanitised config is what
git reads back. The canary programs announce themselves on stderr (nothing else is writable under read-only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, bash

from tau.environment import gitconfig
from tau.environment.gitindex import gitlinks

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
        str((repo / ".git" / "worktrees" / "linked").resolve()), str((repo / ".git").resolve()), str(linked.resolve())
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


def _commit(ws: Path, *args: str) -> None:
    git(ws, "-c", "user.name=t", "-c", "user.email=t@e", *args)


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_gitlinks_are_read_from_every_index_version(ws: Path, base: Path, version: str) -> None:

    git(ws, "init", "-q")
    for name in ("a/deep/one", "b", "zz/two"):
        sub = ws / name
        sub.mkdir(parents=True)
        git(sub, "init", "-q")
        _commit(sub, "commit", "-q", "--allow-empty", "-m", "sub")
    (ws / "a" / "deep" / "plain.txt").write_text("x\n")
    (ws / "longer-file-name-to-shift-padding.txt").write_text("y\n")
    git(ws, "add", "-A")
    git(ws, "update-index", "--index-version", version)
    assert gitlinks(str(ws / ".git" / "index")) == ["a/deep/one", "b", "zz/two"]


def test_gitlinks_of_a_broken_index_are_what_could_be_read(base: Path) -> None:

    (base / "index").write_bytes(b"DIRC\x00\x00\x00\x02\x00\x00\x00\x05" + b"\x00" * 30)
    assert gitlinks(str(base / "index")) == []
    (base / "index").write_bytes(b"not an index")
    assert gitlinks(str(base / "index")) == []


async def test_an_embedded_repository_and_a_submodule_run_none_of_their_programs(
    repo: Path, make_backend: Factory, base: Path
) -> None:
    """git recurses into gitlinks and reads each one's own config: theirs are sanitised too (embedded repository,
    absorbed submodule under .git/modules)."""
    embedded = repo / "embedded"
    embedded.mkdir()
    git(embedded, "init", "-q")
    (embedded / "f.txt").write_text("one\n")
    git(embedded, "add", "-A")
    _commit(embedded, "commit", "-q", "-m", "e")
    upstream = base / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q")
    (upstream / "g.txt").write_text("one\n")
    git(upstream, "add", "-A")
    _commit(upstream, "commit", "-q", "-m", "u")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "mod")
    git(repo, "add", "-A")
    _commit(repo, "commit", "-q", "-m", "links")
    (embedded / "f.txt").write_text("two\n")
    (repo / "mod" / "g.txt").write_text("two\n")
    for sub in (embedded, repo / "mod"):
        git(sub, "config", "core.fsmonitor", f"{base / 'canary'} sub-fsmonitor")
        git(sub, "config", "diff.external", f"{base / 'canary'} sub-external")
    targets = {t.path for t in gitconfig.config_targets(str(repo.resolve()))}
    assert str((repo / ".git" / "modules" / "mod" / "config").resolve()) in targets
    assert str((embedded / ".git" / "config").resolve()) in targets
    for command in ("git status", "git diff --submodule=diff", "git status --ignore-submodules=none"):
        result = await make_backend(repo, "read-only").run(bash(f"{command} </dev/null"), shell=True, timeout=30)
        assert CANARY not in result.stdout + result.stderr, (command, result)
    control = await make_backend(repo, "workspace-write").run(bash("git -C embedded diff"), shell=True, timeout=30)
    assert CANARY in control.stderr, control


async def test_core_worktree_leading_out_of_the_repository_is_dropped(
    repo: Path, make_backend: Factory, base: Path
) -> None:
    outside = base / "home"
    (outside / ".ssh").mkdir(parents=True)
    (outside / ".ssh" / "id_rsa").write_text("SECRET-KEY\n")
    git(repo, "config", "core.worktree", str(outside))
    result = await make_backend(repo, "read-only").run(bash("git status --porcelain; git diff"), shell=True, timeout=30)
    assert "SECRET-KEY" not in result.stdout and ".ssh" not in result.stdout, result
    inside_dir = git(repo, "rev-parse", "--git-dir").strip()
    git(repo, "config", "core.worktree", "..")  # the usual relative value stays
    text = gitconfig.sanitised_text(str(repo / inside_dir / "config"), str(repo.resolve()))
    assert 'worktree = ".."' in text
