"""From a job to its host sandbox: the policy by flag and permission mode, network, writable roots, deny rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from host_sandbox_helpers import load_e2e

from tau.config.spec import JobSpec
from tau.environment import HostBackend
from tau.errors import ConfigError
from tau.runtime.workspace import host_sandbox_config, open_workspace


def job(tmp_path: Path, *args: str) -> JobSpec:
    e2e = load_e2e()
    box = e2e.Sandbox(tmp_path / "box")
    from tau.config import load_job

    job_file, prompt, flags = e2e.cli_flags(["-p", "hi", "--model", "test:x", *args])
    return load_job(job_path=job_file, prompt_text=prompt, flags=flags, env=box.env, cwd=box.work)


@pytest.mark.parametrize(
    ("args", "policy"),
    [
        ((), "workspace-write"),
        (("--permission-mode", "acceptEdits"), "workspace-write"),
        (("--permission-mode", "plan"), "read-only"),
        (("--permission-mode", "plan", "--sandbox-policy", "full"), "read-only"),  # plan is read-only, always
        (("--permission-mode", "plan", "--sandbox-policy", "workspace-write"), "read-only"),
        (("--permission-mode", "bypassPermissions"), "full"),
        (("--permission-mode", "bypassPermissions", "--sandbox-policy", "read-only"), "read-only"),
        (("--sandbox-policy", "full"), "full"),
        (("--sandbox-policy", "read-only"), "read-only"),
    ],
)
def test_policy_by_flag_and_mode(tmp_path: Path, args: tuple[str, ...], policy: str) -> None:
    config = host_sandbox_config(job(tmp_path, *args))
    assert config.policy == policy
    assert config.network is False  # off on the host by default, like docker
    assert (config.deny_read, config.deny_write, config.mask_roots) == (None, None, ())  # no deny rules: no walk


def test_network_and_writable_roots(tmp_path: Path) -> None:
    spec = job(tmp_path)
    sandbox = spec.environment.sandbox.model_copy(update={"network": "bridge", "writable_roots": ("~/cache", "rel")})
    permissions = spec.permissions.model_copy(update={"additional_directories": (str(tmp_path / "added"),)})
    environment = spec.environment.model_copy(update={"sandbox": sandbox})
    spec = spec.model_copy(update={"environment": environment, "permissions": permissions})
    config = host_sandbox_config(spec)
    assert config.network is True
    home = os.path.expanduser("~")
    workspace = spec.environment.workspace
    assert config.writable_roots == (f"{home}/cache", f"{workspace}/rel", str(tmp_path / "added"))


@pytest.mark.parametrize("root", ["/", "/proc/self", "/dev", "/sys/fs"])
def test_a_writable_root_cannot_undo_the_sandbox(tmp_path: Path, root: str) -> None:
    spec = job(tmp_path)
    sandbox = spec.environment.sandbox.model_copy(update={"writable_roots": (root,)})
    spec = spec.model_copy(update={"environment": spec.environment.model_copy(update={"sandbox": sandbox})})
    with pytest.raises(ConfigError, match="cannot be a writable root"):
        host_sandbox_config(spec)


class StandIn:
    """The three methods the permission layer provides, over fixed paths."""

    def __init__(self, root: str) -> None:
        self.root = root

    def denies_read(self, path: str) -> bool:
        return path.endswith("/.env")

    def denies_write(self, path: str) -> bool:
        return path.endswith(".lock")

    def mask_roots(self) -> tuple[str, ...]:
        return (self.root,)


def test_deny_rules_become_predicates_and_roots(tmp_path: Path) -> None:
    spec = job(tmp_path)
    rules = StandIn(spec.environment.workspace)
    config = host_sandbox_config(spec, rules)
    assert config.deny_read is not None and config.deny_read("/x/.env") and not config.deny_read("/x/y")
    assert config.deny_write is not None and config.deny_write("/x/a.lock")
    assert config.mask_roots == (os.path.realpath(spec.environment.workspace),)


@pytest.mark.anyio
async def test_the_opened_workspace_runs_sandboxed_and_cleans_up(tmp_path: Path) -> None:
    spec = job(tmp_path, "--permission-mode", "plan")
    before = set(Path("/tmp").glob(f"tau-sandbox-{os.getpid()}-*"))  # other tests' sandboxes in this process
    opened = await open_workspace(spec, "session")
    result = await opened.backend.run("echo x > made; ls /proc | grep -c '^[0-9]'", shell=True, timeout=30)  # type: ignore[attr-defined]
    assert "Read-only file system" in result.stderr, result
    private = set(Path("/tmp").glob(f"tau-sandbox-{os.getpid()}-*")) - before
    assert private
    for close in opened.closers:
        await close()
    assert not any(path.exists() for path in private)


@pytest.mark.anyio
async def test_real_deny_rules_mask_through_the_kernel(tmp_path: Path) -> None:
    spec = job(tmp_path, "--deny", "Read(./secrets/**)", "--deny", "Read(**/.env)", "--deny", "Edit(./locked/**)")
    work = Path(spec.environment.workspace)
    (work / "secrets").mkdir()
    (work / "secrets" / "key").write_text("KEY\n")
    (work / "sub").mkdir()
    (work / "sub" / ".env").write_text("TOKEN\n")
    (work / "locked").mkdir()
    (work / "locked" / "file").write_text("locked\n")
    (work / "open.txt").write_text("open\n")
    config = host_sandbox_config(spec)
    assert config.mask_roots == (os.path.realpath(work),)
    backend = HostBackend(work, sandbox=config)
    try:
        for command in ("cat secrets/key", "cat sub/.env", "echo x > locked/file", "touch locked/new"):
            result = await backend.run(command, shell=True, timeout=30)
            assert result.exit_code != 0 and "KEY" not in result.stdout and "TOKEN" not in result.stdout, result
        assert (work / "locked" / "file").read_text() == "locked\n"
        opened = await backend.run("cat open.txt && echo y > open.txt", shell=True, timeout=30)
        assert (opened.exit_code, opened.stdout) == (0, "open\n"), opened
    finally:
        await backend.aclose()


def test_deny_rules_about_commands_only_walk_nothing(tmp_path: Path) -> None:
    config = host_sandbox_config(job(tmp_path, "--deny", "Bash(rm *)"))
    assert (config.deny_read, config.mask_roots) == (None, ())
