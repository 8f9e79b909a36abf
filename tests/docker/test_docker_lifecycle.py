"""Lifecycle: reuse per session, attach mode, executor restart and fallback, orphans after kill -9, ls/rm/prune/exec,
and the content-hash image build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic_ai.workspaces import WorkspaceError

from tau.environment.docker import DockerBackend, DockerEngine
from tau.environment.sandbox import (
    LABEL_SESSION,
    LOCAL_BASE,
    SandboxError,
    build_image,
    exec_in,
    image_tag,
    list_sandboxes,
    owner_labels,
    prune,
    reap_orphans,
    remove,
)

pytestmark = [pytest.mark.docker, pytest.mark.anyio]
MakeBackend = Callable[..., DockerBackend]


async def test_a_session_reuses_its_container(make_backend: MakeBackend, workspace: Path) -> None:
    session = f"reuse-{uuid.uuid4().hex[:8]}"
    first = make_backend(workspace, session=session)
    await first.run(["touch", "/tmp/state"])
    first.close()
    second = make_backend(workspace, session=session)
    assert (await second.run(["ls", "/tmp/state"])).exit_code == 0  # same container: its tmpfs survived
    assert second.ref == first.ref
    [listed] = [sandbox for sandbox in list_sandboxes() if sandbox.session == session]
    assert (listed.status, listed.owner_pid, listed.owner_alive) == ("running", os.getpid(), True)


async def test_attach_mode_finds_the_mount_and_never_removes_the_container(
    docker_engine: DockerEngine, sandbox_image: str, workspace: Path
) -> None:
    name = f"user-box-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-v", f"{workspace}:/src", "-w", "/src", "--user", "1000:1000",
         sandbox_image, "sleep", "infinity"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        backend = DockerBackend.attach(name, engine=docker_engine)
        assert await backend.working_dir() == "/src"
        await backend.write_bytes("/src/hello.txt", b"hi")
        assert (await backend.run(["cat", "hello.txt"])).stdout == "hi"
        assert (workspace / "hello.txt").read_bytes() == b"hi"
        await backend.aclose()
        assert name not in [sandbox.name for sandbox in list_sandboxes()]  # unmanaged: invisible to ls/prune/reap
        with pytest.raises(SandboxError, match="no tau-managed container"):
            remove(name)
        assert docker_engine.find(name) is not None and docker_engine.find(name).running  # type: ignore[union-attr]
    finally:
        docker_engine.remove(name)


async def test_a_dead_executor_is_restarted_transparently(make_backend: MakeBackend, workspace: Path) -> None:
    backend = make_backend(workspace)
    assert backend.uses_executor and (await backend.run(["true"])).exit_code == 0
    with pytest.raises(WorkspaceError, match="executor died during the command"):
        await backend.run(["sh", "-c", "kill -9 $PPID; sleep 5"])  # the executor is the command's parent
    assert (await backend.run(["echo", "back"])).stdout == "back\n"


async def test_an_image_without_python_falls_back_to_plain_exec(make_backend: MakeBackend, workspace: Path) -> None:
    backend = make_backend(workspace, image=LOCAL_BASE)
    assert (await backend.run("echo hi; id -u", shell=True)).stdout == "hi\n1000\n"
    assert not backend.uses_executor
    missing = await backend.run(["no-such-program"])
    assert missing.exit_code == 127 and "executable file not found" in missing.stderr
    with pytest.raises(WorkspaceError, match="timed out after 1s"):
        await backend.run(["sleep", "1000"], timeout=1)
    assert "sleep 1000" not in (await backend.run(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"])).stdout


OWNER = textwrap.dedent(
    """
    import asyncio, sys
    from tau.environment.docker import DockerBackend
    from tau.environment.sandbox import SandboxSpec

    async def main():
        backend = DockerBackend(sys.argv[1], session=sys.argv[2], spec=SandboxSpec(image=sys.argv[3]))
        await backend.run(["true"])
        print("started", flush=True)
        await backend.run(["sleep", "1000"])

    asyncio.run(main())
    """
)


@pytest.fixture
def owner(workspace: Path, sandbox_image: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    session = f"owner-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(workspace), session, sandbox_image], stdout=subprocess.PIPE, text=True
    )
    yield process, session
    if process.poll() is None:
        process.kill()
    process.wait()
    for sandbox in list_sandboxes():
        if sandbox.session == session:
            remove(sandbox.id)


def test_kill_9_of_the_owner_mid_command_then_reap_removes_its_container(
    owner: tuple[subprocess.Popen[str], str], docker_engine: DockerEngine
) -> None:
    process, session = owner
    assert process.stdout is not None and process.stdout.readline() == "started\n"
    time.sleep(0.3)  # the `sleep 1000` is running inside
    [sandbox] = [sandbox for sandbox in list_sandboxes() if sandbox.session == session]
    assert sandbox.owner_pid == process.pid and sandbox.owner_alive is True
    assert session not in [reaped.session for reaped in reap_orphans()]  # owner alive: kept
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15  # the executor notices EOF and ends its exec session
    while docker_engine.find(sandbox.id) is not None and time.monotonic() < deadline:
        reap_orphans()
        time.sleep(0.1)
    assert docker_engine.find(sandbox.id) is None
    assert [s for s in list_sandboxes() if s.session == session] == []


async def test_prune_removes_orphans_but_never_live_owners(
    make_backend: MakeBackend, workspace: Path, docker_engine: DockerEngine
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = make_backend(workspace, owner_pid=dead.pid)
    live = make_backend(workspace)
    await orphan.working_dir()
    await live.working_dir()
    removed = prune(include_running=True)
    assert orphan.ref is not None and live.ref is not None
    assert orphan.ref.id in [sandbox.id for sandbox in removed]
    assert docker_engine.find(live.ref.id) is not None


async def test_exec_and_rm(make_backend: MakeBackend, workspace: Path, docker_engine: DockerEngine) -> None:
    backend = make_backend(workspace, session=f"rm-{uuid.uuid4().hex[:8]}")
    await backend.working_dir()
    assert exec_in(f"tau-{backend.session}", ["echo", "hi"]) == (0, b"hi\n")
    removed = remove(backend.session)
    assert removed.session == backend.session and removed.id == (backend.ref.id if backend.ref else "")
    assert docker_engine.find(removed.id) is None


def test_owner_labels_know_a_reused_pid_from_the_original(docker_engine: DockerEngine) -> None:
    from tau.environment.sandbox import LABEL_OWNER_START, owner_alive

    labels = owner_labels()
    assert owner_alive(labels) is True
    assert owner_alive({**labels, LABEL_OWNER_START: "1"}) is False  # same pid, other process
    assert owner_alive({LABEL_SESSION: "x"}) is None  # no owner label: unknown, never reaped


def test_build_skips_an_existing_tag_and_hashes_only_what_docker_sends(tmp_path: Path, sandbox_image: str) -> None:
    assert build_image() == sandbox_image  # the tag exists: returns at once
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\n")
    (context / ".dockerignore").write_text("executor.py\n")
    (context / "executor.py").write_text("one")
    before = image_tag(context)
    (context / "executor.py").write_text("two")
    assert image_tag(context) == before
    (context / "Containerfile").write_text("FROM scratch\n# changed\n")
    assert image_tag(context) != before
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0 if argv[:3] == ["docker", "image", "inspect"] else 1, b"", b"")

    assert build_image(context=context, run=fake_run) == image_tag(context)
    assert calls == [["docker", "image", "inspect", image_tag(context)]]
