"""The kernel wall of each policy, through `HostBackend.run` directly (no permission rules in the picture)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, bash

from tau.environment.policy import policy_scope

pytestmark = pytest.mark.anyio

PY = shlex.quote(sys.executable)

# Each writes into the workspace (or next to it) in a different way; all must fail under read-only.
WRITES = {
    "sed -i": "sed -i s/data/pwned/ data.txt",
    "sort -o": "sort -o data.txt data.txt",
    "redirect >&": "echo pwned >& data.txt",
    "append >>": "echo pwned >> data.txt",
    "python open": f"{PY} -c \"open('data.txt', 'w').write('pwned')\"",
    "touch outside": "touch ../outside/new",
    "mkdir": "mkdir newdir",
    "ln hard": "ln data.txt hard",
    "ln -s": "ln -s data.txt soft",
    "chmod": "chmod 600 data.txt",
    "rm": "rm data.txt",
    "mv": "mv data.txt moved.txt",
    "truncate": "truncate -s 0 data.txt",
    "cp": "cp data.txt copy.txt",
}


def listing(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): (path.read_text() if path.is_file() else "<dir>")
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("name", list(WRITES))
async def test_read_only_cannot_write(ws: Path, make_backend: Factory, name: str) -> None:
    before = listing(ws.parent)
    backend = make_backend(ws, "read-only")
    result = await backend.run(bash(WRITES[name]), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert "Read-only file system" in result.stderr, result
    assert listing(ws.parent) == before


@pytest.mark.parametrize("name", ["sed -i", "python open", "mkdir", "ln hard", "chmod", "cp"])
async def test_workspace_write_can_write_the_workspace(ws: Path, make_backend: Factory, name: str) -> None:
    backend = make_backend(ws, "workspace-write")
    result = await backend.run(bash(WRITES[name]), shell=True, timeout=30)
    assert result.exit_code == 0, result


@pytest.mark.parametrize("policy", ["read-only", "workspace-write"])
@pytest.mark.parametrize(
    "command",
    [
        "touch ../outside/new",
        "echo pwned > ../outside/secret",
        "touch /etc/tau-sandbox-probe",
        "mount -o remount,rw /",
        "echo 1 > /proc/sys/kernel/sysrq",
        "mknod ./dev-null c 1 3",
    ],
)
async def test_outside_the_workspace_is_read_only(ws: Path, make_backend: Factory, policy: str, command: str) -> None:
    backend = make_backend(ws, policy)
    result = await backend.run(bash(command), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert (ws.parent / "outside" / "secret").read_text() == "outside secret\n"
    assert not (ws.parent / "outside" / "new").exists()
    assert not Path("/etc/tau-sandbox-probe").exists()


async def test_full_writes_anywhere(ws: Path, make_backend: Factory) -> None:
    backend = make_backend(ws, "full")
    result = await backend.run(bash("echo made > ../outside/new && echo ok > data.txt"), shell=True, timeout=30)
    assert result.exit_code == 0, result
    assert (ws.parent / "outside" / "new").read_text() == "made\n"


async def test_writable_roots_are_writable(ws: Path, make_backend: Factory, base: Path) -> None:
    extra = base / "extra"
    extra.mkdir()
    backend = make_backend(ws, "workspace-write", writable_roots=(str(extra),))
    result = await backend.run(bash(f"echo hi > {extra}/made && touch ../outside/new"), shell=True, timeout=30)
    assert (extra / "made").read_text() == "hi\n"
    assert result.exit_code != 0 and "Read-only file system" in result.stderr
    read_only = make_backend(ws, "read-only", writable_roots=(str(extra),))
    result = await read_only.run(bash(f"echo again > {extra}/made"), shell=True, timeout=30)
    assert result.exit_code != 0
    assert (extra / "made").read_text() == "hi\n"


@pytest.mark.parametrize(
    "target",
    [".git/config", ".git/hooks/pre-commit", ".git/hooks", ".claude/settings.json", ".mcp.json", ".tau/config.toml"],
)
async def test_protected_paths_stay_read_only(ws: Path, make_backend: Factory, target: str) -> None:
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text("{}")
    (ws / ".mcp.json").write_text("{}")
    (ws / ".tau").mkdir()
    before = listing(ws)
    backend = make_backend(ws, "workspace-write")
    command = (
        f"mkdir -p {target}/x" if target == ".git/hooks" else f"mkdir -p $(dirname {target}) && echo pwned > {target}"
    )
    result = await backend.run(bash(command), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert "Read-only file system" in result.stderr
    assert listing(ws) == before


async def test_git_still_commits_under_workspace_write(ws: Path, make_backend: Factory) -> None:
    backend = make_backend(ws, "workspace-write")
    init = await backend.run(["git", "init", "-q", str(ws)], timeout=30)  # creates .git: not there before
    assert init.exit_code == 0, init
    commit = await backend.run(
        bash("git add -A && git -c user.name=t -c user.email=t@e commit -qm one && git log --oneline"),
        shell=True,
        timeout=30,
    )
    assert commit.exit_code == 0, commit
    assert commit.stdout.strip().endswith("one")
    planted = await backend.run(bash("git config core.fsmonitor 'touch /tmp/x'"), shell=True, timeout=30)
    assert planted.exit_code != 0, planted
    assert "fsmonitor" not in (ws / ".git" / "config").read_text()


async def test_hard_link_to_an_outside_file_is_read_only(ws: Path, make_backend: Factory) -> None:
    target = ws.parent / "outside" / "secret"
    os.link(target, ws / "link")
    (ws / "a").write_text("a\n")
    os.link(ws / "a", ws / "b")  # both names inside: stays writable
    backend = make_backend(ws, "workspace-write")
    result = await backend.run(bash("echo pwned > link"), shell=True, timeout=30)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr, result
    assert target.read_text() == "outside secret\n"
    inside = await backend.run(bash("echo changed > b"), shell=True, timeout=30)
    assert inside.exit_code == 0, inside
    assert (ws / "a").read_text() == "changed\n"


async def test_moved_hard_link_is_found_again(ws: Path, make_backend: Factory) -> None:
    target = ws.parent / "outside" / "secret"
    (ws / "sub").mkdir()
    os.link(target, ws / "sub" / "link")
    backend = make_backend(ws, "workspace-write")
    assert (await backend.run(bash("mv sub moved"), shell=True, timeout=30)).exit_code == 0
    result = await backend.run(bash("echo pwned > moved/link"), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert target.read_text() == "outside secret\n"


async def test_private_tmp(ws: Path, make_backend: Factory) -> None:
    backend = make_backend(ws, "workspace-write")
    first = await backend.run(bash('echo kept > /tmp/note && echo "$TMPDIR"'), shell=True, timeout=30)
    assert first.exit_code == 0 and first.stdout == "/tmp\n", first
    second = await backend.run(bash("cat /tmp/note"), shell=True, timeout=30)
    assert second.stdout == "kept\n"
    assert not Path("/tmp/note").exists()
    private = [path for path in Path("/tmp").glob(f"tau-sandbox-{os.getpid()}-*") if (path / "tmp" / "note").exists()]
    assert len(private) == 1
    assert oct(private[0].stat().st_mode & 0o777) == "0o700"
    await backend.aclose()
    assert not private[0].exists()


async def test_read_only_tmp_is_fresh_each_command(ws: Path, make_backend: Factory) -> None:
    backend = make_backend(ws, "read-only")
    first = await backend.run(bash("echo x > /tmp/note && cat /tmp/note"), shell=True, timeout=30)
    assert first.stdout == "x\n", first
    second = await backend.run(bash("cat /tmp/note"), shell=True, timeout=30)
    assert second.exit_code != 0


@pytest.mark.parametrize(
    ("configured", "scoped", "writes"),
    [
        ("workspace-write", "read-only", False),
        ("full", "read-only", False),
        ("read-only", "workspace-write", False),
        ("read-only", "full", False),
        ("workspace-write", "full", True),  # the scope never loosens: still workspace-write
        ("workspace-write", None, True),
    ],
)
async def test_a_scope_only_tightens(
    ws: Path, make_backend: Factory, configured: str, scoped: str, writes: bool
) -> None:
    backend = make_backend(ws, configured)
    with policy_scope(scoped):  # type: ignore[arg-type]
        result = await backend.run(bash("echo new > data.txt; echo x > ../outside/x"), shell=True, timeout=30)
    assert ((ws / "data.txt").read_text() == "new\n") is writes
    assert (ws.parent / "outside" / "x").exists() is (configured == "full" and scoped in (None, "full"))
    assert result.exit_code != 0


async def test_argv_commands_and_missing_programs(ws: Path, make_backend: Factory) -> None:
    backend = make_backend(ws, "read-only")
    listed = await backend.run(["cat", "data.txt"], timeout=30)
    assert (listed.exit_code, listed.stdout) == (0, "data\n")
    missing = await backend.run(["tau-no-such-program"], timeout=30)
    assert (missing.exit_code, missing.stderr) == (127, "tau-no-such-program: command not found\n")
    with pytest.raises(TypeError):
        await backend.run("cat data.txt", timeout=30)
    with pytest.raises(TypeError):
        await backend.run(["cat"], shell=True, timeout=30)


async def test_nested_user_namespaces_are_refused(ws: Path, make_backend: Factory) -> None:
    from tau.environment.bwrap import find_launcher

    launcher = find_launcher().launcher
    assert launcher is not None
    if not launcher.nested_userns_off:
        pytest.skip("bwrap cannot disable nested user namespaces here")
    backend = make_backend(ws, "workspace-write")
    result = await backend.run(["unshare", "-Ur", "true"], timeout=30)
    assert result.exit_code != 0, result


async def test_private_dirs_of_dead_processes_are_reaped(ws: Path, make_backend: Factory) -> None:
    import subprocess

    code = (
        "import anyio, os, sys\n"
        "from tau.environment import HostBackend\n"
        "from tau.environment.policy import SandboxConfig\n"
        "async def main():\n"
        "    await HostBackend(sys.argv[1], sandbox=SandboxConfig()).run('true', shell=True)\n"
        "    print(os.getpid(), flush=True)\n"
        "    os._exit(0)  # no aclose: what a SIGKILL leaves behind\n"
        "anyio.run(main)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(ws)], capture_output=True, text=True, check=True)
    stale = list(Path("/tmp").glob(f"tau-sandbox-{done.stdout.strip()}-*"))
    assert len(stale) == 1, done
    alive = make_backend(ws, "workspace-write")
    await alive.run("true", shell=True, timeout=30)
    mine = list(Path("/tmp").glob(f"tau-sandbox-{os.getpid()}-*"))
    other = make_backend(ws, "read-only")
    await other.run("true", shell=True, timeout=30)
    assert not stale[0].exists()
    assert all(path.exists() for path in mine)  # a live owner's directory is never taken
