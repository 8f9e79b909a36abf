"""Checkpoints through the docker backend: the same capture and rewind, every file operation through the container's
workspace API (the run's root is `/workspace` inside; paths in checkpoints are relative, so the host rewinds too)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from cpsupport import files_of, run_script
from pydantic_ai.workspaces import Workspace

from tau.checkpoints.recorder import CheckpointRecorder, ScanCache, rewind, scan_tree
from tau.environment import HostBackend
from tau.environment.docker import DockerBackend, DockerEngine
from tau.environment.sandbox import SandboxSpec, build_image
from tau.sessions.checkpoints import MemoryObjects
from tau.testing.scripted import calls, reply

pytestmark = [pytest.mark.docker, pytest.mark.anyio]
UID = 1000


@pytest.fixture(scope="module")
def engine() -> DockerEngine:
    engine = DockerEngine()
    if not engine.ping():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Docker daemon answers")
        pytest.skip("no Docker daemon answers")
    return engine


@pytest.fixture
def docker_project(tmp_path: Path, engine: DockerEngine) -> Iterator[tuple[Path, DockerBackend]]:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")
    (root / "b.txt").write_text("beta\n")
    (root / ".gitignore").write_text("*.o\n")
    if os.geteuid() == 0:
        for path in (root, *root.iterdir()):
            os.chown(path, UID, UID)
    backend = DockerBackend(root, spec=SandboxSpec(image=build_image()), engine=engine)
    yield root, backend
    backend.close()
    if backend.ref is not None:
        engine.remove(backend.ref.id)


async def test_rewind_through_the_container(docker_project: tuple[Path, DockerBackend]) -> None:
    root, backend = docker_project
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects)
    turns = [
        calls(("edit", {"file_path": "a.txt", "old_string": "alpha", "new_string": "ALPHA"})),
        calls(("bash", {"command": "rm b.txt && echo c > c.txt && echo obj > x.o"})),
        reply("done"),
    ]
    log, _ = await run_script(backend, recorder, root, turns)
    assert files_of(root) == {".gitignore": b"*.o\n", "a.txt": b"ALPHA\n", "c.txt": b"c\n", "x.o": b"obj\n"}
    report = await rewind(objects, log.pins[1], Workspace(backend), latest=log.pins[-1])
    assert report.restored == ["b.txt"] and report.deleted == ["c.txt"] and not report.errors
    assert files_of(root) == {".gitignore": b"*.o\n", "a.txt": b"ALPHA\n", "b.txt": b"beta\n", "x.o": b"obj\n"}
    host = await rewind(objects, None, Workspace(HostBackend(root)), latest=log.pins[-1])  # same pins, host side
    assert host.restored == ["a.txt"]
    assert files_of(root)["a.txt"] == b"alpha\n"


async def test_the_listing_scan_runs_in_the_container(docker_project: tuple[Path, DockerBackend]) -> None:
    root, backend = docker_project
    workspace = Workspace(backend)
    (root / "x.o").write_text("obj\n")
    cache = ScanCache()
    objects = MemoryObjects()
    listed = await scan_tree(workspace, objects, cache=cache)
    walked = await scan_tree(workspace, MemoryObjects(), listing=False)
    assert (
        listed.method == "find"
        and listed.files == walked.files
        and set(listed.files) == {".gitignore", "a.txt", "b.txt"}
    )
    await anyio.sleep(2.1)  # past the racy window: the next scan's reads are trusted
    await scan_tree(workspace, objects, cache=cache)
    again = await scan_tree(workspace, objects, cache=cache)
    assert again.method == "find" and again.reused == 3 and again.bytes_read == 0
