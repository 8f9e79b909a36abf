"""The sandbox policies inside the docker container, through the kernel: `DockerBackend.run` with a `SandboxConfig`
(no permission rules in the picture), each write checked from the host's side too.

Plan mode (configured `read-only`): the workspace is mounted read-only. A command scoped `read-only` in a read-write
container: Landlock in the executor. `workspace-write`: protected paths, deny-write paths and outside hard links bound
read-only, deny-read paths masked; the host-side file operations get the same deny rules.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from tau.environment.docker import DockerBackend
from tau.environment.policy import SandboxConfig, policy_scope

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

MakeBackend = Callable[..., DockerBackend]
UID = 1000

# Each writes into the workspace in a different way; all must fail under read-only.
WRITES = {
    "sed -i": "sed -i s/data/pwned/ data.txt",
    "sort -o": "sort -o data.txt data.txt",
    "redirect >&": "echo pwned >& data.txt",
    "append >>": "echo pwned >> data.txt",
    "redirect >": "echo pwned > data.txt",
    "python open": "python3 -c \"open('data.txt', 'w').write('pwned')\"",
    "python truncate": "python3 -c \"import os; os.truncate('data.txt', 0)\"",
    "mkdir": "mkdir newdir",
    "ln hard": "ln data.txt hard",
    "ln -s": "ln -s data.txt soft",
    "rm": "rm data.txt",
    "mv": "mv data.txt moved.txt",
    "truncate": "truncate -s 0 data.txt",
    "cp": "cp data.txt copy.txt",
    "touch": "touch new.txt",
    "absolute path": "echo pwned > /workspace/abs.txt",
}
PROTECTED = [".git/config", ".git/hooks/pre-commit", ".git/hooks", ".claude/settings.json", ".mcp.json", ".tau/x"]


def bash(command: str) -> str:
    """The line the bash tool runs for `command`."""
    return f"exec bash -c {shlex.quote(command)}"


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Files (and their directories) under `root`, all owned by the container user."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(text)
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, UID, UID, follow_symlinks=False)
    return root


def listing(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): (path.read_text() if path.is_file() and not path.is_symlink() else "<other>")
        for path in sorted(root.rglob("*"))
    }


def workspace_files() -> dict[str, str]:
    return {
        "data.txt": "data\n",
        "secret.env": "TOKEN=hunter2\n",
        "secrets/key.pem": "PRIVATE\n",
        "locked.lock": "v1\n",
        ".git/config": "[core]\n\trepositoryformatversion = 0\n",
        ".git/hooks/": "",
        ".claude/settings.json": "{}\n",
        ".mcp.json": "{}\n",
        ".tau/": "",
    }


def deny_read(path: str) -> bool:
    return path.endswith("/secret.env") or "/secrets/" in path or path.endswith("/secrets")


def deny_write(path: str) -> bool:
    return path.endswith(".lock")


def config(policy: str, root: Path) -> SandboxConfig:
    return SandboxConfig(
        policy=policy,  # type: ignore[arg-type]
        deny_read=deny_read,
        deny_write=deny_write,
        mask_roots=(os.path.realpath(root),),
    )


@pytest.fixture(scope="module")
def plan_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("plan") / "ws", workspace_files())


@pytest.fixture(scope="module")
def plan(module_backends: MakeBackend, plan_ws: Path) -> DockerBackend:
    """The container of a plan-mode run: configured `read-only`."""
    return module_backends(plan_ws, sandbox=config("read-only", plan_ws))


@pytest.fixture(scope="module")
def default_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("default")
    make_tree(base / "outside", {"target.txt": "outside\n"})
    root = make_tree(base / "ws", workspace_files())
    os.link(base / "outside" / "target.txt", root / "hardlink.txt")  # a pre-existing hard link to an outside file
    return root


@pytest.fixture(scope="module")
def default(module_backends: MakeBackend, default_ws: Path) -> DockerBackend:
    """The container of a default-mode run: configured `workspace-write`."""
    return module_backends(default_ws, sandbox=config("workspace-write", default_ws))


# Plan mode: the workspace is mounted read-only ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(WRITES))
async def test_plan_mode_cannot_write_the_workspace(plan: DockerBackend, plan_ws: Path, name: str) -> None:
    before = listing(plan_ws)
    result = await plan.run(bash(WRITES[name]), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr, result
    assert listing(plan_ws) == before


async def test_plan_mode_mounts_the_workspace_read_only_and_reads_work(plan: DockerBackend) -> None:
    mounts = (await plan.run(["cat", "/proc/self/mounts"])).stdout.splitlines()
    [workspace] = [line for line in mounts if line.split()[1] == "/workspace"]
    assert workspace.split()[3].split(",")[0] == "ro"
    assert (await plan.run("cat data.txt && ls", shell=True)).stdout.startswith("data\n")
    scratch = await plan.run('echo note > "$TMPDIR/n" && cat "$TMPDIR/n" && echo gone > /tmp/shared', shell=True)
    assert scratch.stdout == "note\n"  # a private temp dir per command; the shared /tmp stays read-only
    assert "Permission denied" in scratch.stderr


# A command judged read-only in a read-write container: Landlock ------------------------------------------------


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_read_only_command_cannot_write_in_default_mode(
    default: DockerBackend, default_ws: Path, name: str
) -> None:
    before = listing(default_ws.parent)
    with policy_scope("read-only"):
        result = await default.run(bash(WRITES[name]), shell=True, timeout=30)
    assert result.exit_code != 0, result
    assert "Permission denied" in result.stderr, result
    assert listing(default_ws.parent) == before


async def test_a_read_only_command_reads_and_uses_its_private_tmp(default: DockerBackend) -> None:
    with policy_scope("read-only"):
        result = await default.run(
            'cat data.txt; d=$(mktemp -d) && echo x > "$d/f" && cat "$d/f"; echo quiet > /dev/null; echo $TMPDIR',
            shell=True,
        )
        shared = await default.run("echo pwned > /tmp/shared", shell=True)
    assert result.exit_code == 0, result
    data, scratch, tmpdir = result.stdout.splitlines()
    assert (data, scratch) == ("data", "x")
    assert tmpdir.startswith("/tmp/tau-ro-")
    assert shared.exit_code != 0 and "Permission denied" in shared.stderr
    assert (await default.run(["test", "-e", tmpdir])).exit_code == 1  # removed after the command


async def test_the_scope_applies_per_command_only(default: DockerBackend, default_ws: Path) -> None:
    with policy_scope("read-only"):
        denied = await default.run("echo one > scoped.txt", shell=True)
    allowed = await default.run("echo two > scoped.txt && cat scoped.txt && rm scoped.txt", shell=True)
    assert denied.exit_code != 0
    assert (allowed.exit_code, allowed.stdout) == (0, "two\n")
    assert not (default_ws / "scoped.txt").exists()


async def test_a_scope_never_loosens_the_configured_policy(plan: DockerBackend, plan_ws: Path) -> None:
    with policy_scope("full"):
        result = await plan.run("echo pwned > data.txt", shell=True)
    assert result.exit_code != 0
    assert (plan_ws / "data.txt").read_text() == "data\n"


# workspace-write: protected paths, deny rules, hard links -------------------------------------------------------


async def test_a_workspace_write_command_writes_the_workspace(default: DockerBackend, default_ws: Path) -> None:
    result = await default.run(
        "sed -i s/data/edited/ data.txt && mkdir -p sub && echo new > sub/new.txt && mv sub/new.txt moved.txt "
        "&& echo tmp > /tmp/t && cat /tmp/t",
        shell=True,
    )
    try:
        assert (result.exit_code, result.stdout) == (0, "tmp\n"), result
        assert (default_ws / "data.txt").read_text() == "edited\n"
        assert (default_ws / "moved.txt").read_text() == "new\n"
    finally:
        await default.run("sed -i s/edited/data/ data.txt && rm -r sub moved.txt", shell=True)


@pytest.mark.parametrize("target", PROTECTED)
async def test_a_workspace_write_command_cannot_touch_protected_paths(
    default: DockerBackend, default_ws: Path, target: str
) -> None:
    before = listing(default_ws)
    command = f"mkdir -p {target}/x" if target.endswith(("hooks", ".tau/x")) else f"echo pwned > {target}"
    result = await default.run(command, shell=True)
    assert result.exit_code != 0, result
    assert "Read-only file system" in result.stderr, result
    assert listing(default_ws) == before


async def test_deny_write_paths_are_read_only_for_commands_and_file_tools(
    default: DockerBackend, default_ws: Path
) -> None:
    result = await default.run("echo v2 > locked.lock", shell=True)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr
    with pytest.raises(PermissionError, match="denied by an Edit rule"):
        await default.write_bytes("/workspace/locked.lock", b"v2\n")
    assert (default_ws / "locked.lock").read_text() == "v1\n"
    assert (await default.read_bytes("/workspace/locked.lock")) == b"v1\n"  # still readable


async def test_masked_paths_are_unreadable_for_commands_and_file_tools(default: DockerBackend) -> None:
    for command in ("cat secret.env", "cat secrets/key.pem", "ls secrets", "cp secret.env /tmp/copy"):
        result = await default.run(command, shell=True)
        assert result.exit_code != 0, (command, result)
        assert "hunter2" not in result.stdout and "PRIVATE" not in result.stdout and "key.pem" not in result.stdout
    linked = await default.run("ln -sf secret.env alias && cat alias; rm -f alias", shell=True)
    assert "hunter2" not in linked.stdout
    with pytest.raises(PermissionError, match="denied by a Read rule"):
        await default.read_bytes("/workspace/secret.env")
    with pytest.raises(PermissionError, match="denied by a Read rule"):
        await default.read_bytes("/workspace/secrets/key.pem")
    names = [entry.name for entry in await default.list_dir("/workspace")]
    assert "secret.env" not in names and "secrets" not in names and "data.txt" in names


async def test_masks_hold_in_plan_mode_too(plan: DockerBackend) -> None:
    result = await plan.run("cat secret.env secrets/key.pem", shell=True)
    assert result.exit_code != 0
    assert "hunter2" not in result.stdout and "PRIVATE" not in result.stdout


async def test_a_hard_link_to_an_outside_file_is_read_only(default: DockerBackend, default_ws: Path) -> None:
    result = await default.run("echo pwned >> hardlink.txt", shell=True)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr
    assert (default_ws.parent / "outside" / "target.txt").read_text() == "outside\n"


async def test_git_commits_under_workspace_write_but_cannot_plant_config(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "ws", {"a.txt": "a\n"})
    init = await make_backend(root).run(["git", "init", "-q", "/workspace"])  # no policy: .git made before
    assert init.exit_code == 0, init
    backend = make_backend(root, sandbox=config("workspace-write", root))
    commit = await backend.run(
        "git add -A && git -c user.name=t -c user.email=t@e commit -qm one && git log --oneline", shell=True
    )
    assert commit.exit_code == 0, commit
    assert commit.stdout.strip().endswith("one")
    planted = await backend.run("git config core.fsmonitor 'touch /tmp/x'", shell=True)
    assert planted.exit_code != 0
    assert "fsmonitor" not in (root / ".git" / "config").read_text()
