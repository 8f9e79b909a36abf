"""Containment: what a command in the sandbox must not be able to do, each checked from the host's side too.

One hardened container with small limits serves the module. Every test asserts the host is untouched (a sentinel file
outside the workspace, the host's /etc/passwd) and that the backend answers with a clear result or error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic_ai.workspaces import WorkspaceTimeoutError

from tau.environment.docker import DockerBackend

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

MEMORY = 128 * 1024**2
PIDS = 64


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sandbox(
    module_backends: Callable[..., DockerBackend],
    owned: Callable[[Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> DockerBackend:
    return module_backends(owned(tmp_path_factory.mktemp("contain") / "ws"), memory=MEMORY, pids_limit=PIDS)


@pytest.fixture
def host_untouched(tmp_path: Path) -> Iterator[None]:
    """A sentinel beside the workspace and the host's /etc/passwd must be exactly as before."""
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("host")
    passwd = _digest(Path("/etc/passwd"))
    yield
    assert sentinel.read_text() == "host"
    assert _digest(Path("/etc/passwd")) == passwd


async def _leftovers(sandbox: DockerBackend) -> list[str]:
    """Processes in the container besides init, `sleep infinity`, the executor and the `ps` asking."""
    result = await sandbox.run(["ps", "-eo", "pid=,args="])
    keep = ("docker-init", "sleep infinity", "tau-executor", "import sys,json", "ps -eo")
    return [line for line in result.stdout.splitlines() if not any(word in line for word in keep)]


async def test_fork_bomb_stops_at_the_pids_limit(sandbox: DockerBackend, host_untouched: None) -> None:
    with pytest.raises(WorkspaceTimeoutError) as caught:
        await sandbox.run("bomb() { bomb | bomb & }; bomb; sleep 30", shell=True, timeout=3)
    assert "timed out after 3s" in str(caught.value)
    assert await _leftovers(sandbox) == []
    assert (await sandbox.run(["echo", "alive"])).stdout == "alive\n"


async def test_memory_hog_is_reported_as_out_of_memory(sandbox: DockerBackend, host_untouched: None) -> None:
    result = await sandbox.run(["python3", "-c", "b = bytearray(b'x') * (512 * 1024 * 1024); print(len(b))"])
    assert result.exit_code == 137
    assert "out of memory (sandbox limit 128 MiB)" in result.stderr
    assert (await sandbox.run(["echo", "alive"])).stdout == "alive\n"


async def test_a_command_past_its_timeout_leaves_nothing_running(sandbox: DockerBackend, host_untouched: None) -> None:
    with pytest.raises(WorkspaceTimeoutError):
        # A detached grandchild in its own session escapes the process group, not the tag sweep.
        await sandbox.run("setsid sleep 1000 & sleep 1000", shell=True, timeout=1)
    assert await _leftovers(sandbox) == []


async def test_outbound_connections_fail_without_a_network(sandbox: DockerBackend, host_untouched: None) -> None:
    code = "import socket; socket.create_connection(('1.1.1.1', 80), timeout=5)"
    result = await sandbox.run(["python3", "-c", code])
    assert result.exit_code != 0
    assert "Network is unreachable" in result.stderr
    interfaces = await sandbox.run(["cat", "/proc/net/dev"])
    assert [line.split(":")[0].strip() for line in interfaces.stdout.splitlines()[2:]] == ["lo"]


async def test_a_symlink_to_etc_passwd_reads_the_containers_file_never_the_hosts(
    sandbox: DockerBackend, host_untouched: None
) -> None:
    workdir = await sandbox.working_dir()
    assert (await sandbox.run(["ln", "-sf", "/etc/passwd", f"{workdir}/link"])).exit_code == 0
    with pytest.raises(
        PermissionError, match=r"path escapes the workspace: /workspace/link \(resolves to /etc/passwd\)"
    ):
        await sandbox.read_bytes(f"{workdir}/link")
    inside = await sandbox.run(["cat", f"{workdir}/link"])
    assert inside.exit_code == 0 and "tau:x:1000:1000" in inside.stdout
    assert inside.stdout != Path("/etc/passwd").read_text()


async def test_writes_outside_the_workspace_fail(sandbox: DockerBackend, host_untouched: None) -> None:
    result = await sandbox.run("echo owned > /etc/tau-escape", shell=True)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr
    with pytest.raises(PermissionError, match="path escapes the workspace: /etc/tau-escape is outside /workspace"):
        await sandbox.write_bytes("/etc/tau-escape", b"owned")
    assert not Path("/etc/tau-escape").exists()
    home = await sandbox.run("echo ok > $HOME/note && cat $HOME/note && echo $HOME", shell=True)
    assert home.stdout == "ok\n/tmp\n"  # the writable tmpfs is where HOME lives


async def test_the_container_is_hardened(sandbox: DockerBackend) -> None:
    status = (await sandbox.run(["cat", "/proc/self/status"])).stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert (await sandbox.run(["id", "-u"])).stdout == "1000\n"
