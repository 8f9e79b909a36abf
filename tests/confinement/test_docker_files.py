"""The docker backend's host-side file operations: race-free, atomic, with the container's symlink meaning.

The workspace is bind-mounted at /workspace; the file operations run on the host directory behind it. An absolute
symlink target is a *container* path: `/workspace/x` leads inside, a host path or `/etc/...` leads outside and is
refused. Files the backend (root) creates are given to the container user (uid 1000).
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path

import anyio.from_thread
import anyio.to_thread
import pytest

from tau.environment.docker import DockerBackend

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

ROUNDS = 1000


async def test_a_hard_link_to_an_outside_file_is_replaced(
    docker_backend: DockerBackend, docker_workspace: Path, tmp_path: Path
) -> None:
    (tmp_path / "victim").write_text("original")
    (tmp_path / "victim").chmod(0o666)  # the container user could write it: the write itself must not go through
    os.link(tmp_path / "victim", docker_workspace / "hardlink")
    await docker_backend.write_bytes("/workspace/hardlink", b"replaced")
    assert (tmp_path / "victim").read_text() == "original"
    assert (docker_workspace / "hardlink").read_text() == "replaced"


async def test_links_have_the_containers_meaning(docker_backend: DockerBackend, docker_workspace: Path) -> None:
    backend = docker_backend
    (docker_workspace / "target").write_text("old")
    if os.geteuid() == 0:
        os.chown(docker_workspace / "target", 1000, 1000)
    (docker_workspace / "inside").symlink_to("/workspace/target")
    (docker_workspace / "hostpath").symlink_to(docker_workspace / "target")  # a host path: not one in the container
    (docker_workspace / "etc").symlink_to("/etc/passwd")
    await backend.write_bytes("/workspace/inside", b"new")
    assert (docker_workspace / "target").read_text() == "new"
    for link in ("hostpath", "etc"):
        with pytest.raises(PermissionError, match=r"^path escapes the workspace: /workspace/"):
            await backend.read_bytes(f"/workspace/{link}")


async def test_created_files_and_parents_belong_to_the_container_user(
    docker_backend: DockerBackend, docker_workspace: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root creates files for another user")
    await docker_backend.write_bytes("/workspace/a/b/file", b"x")
    await docker_backend.make_dir("/workspace/c/d")
    for relative in ("a", "a/b", "a/b/file", "c", "c/d"):
        info = (docker_workspace / relative).stat()
        assert (info.st_uid, info.st_gid) == (1000, 1000), relative
    result = await docker_backend.run(["sh", "-c", "echo more >> /workspace/a/b/file"])
    assert result.exit_code == 0


async def test_writes_through_a_flipping_link_never_land_outside(
    docker_backend: DockerBackend, docker_workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (docker_workspace / "in").mkdir()
    await docker_backend.working_dir()
    stop, flips = threading.Event(), [0]
    link, spare = docker_workspace / "flip", docker_workspace / "flip.next"
    link.symlink_to("/workspace/in")

    def race() -> None:
        while not stop.is_set():
            spare.unlink(missing_ok=True)
            spare.symlink_to(["/workspace/in", str(outside), "../" * 8 + str(outside)][flips[0] % 3])
            os.replace(spare, link)
            flips[0] += 1

    def hammer() -> None:
        for index in range(ROUNDS):
            with suppress(PermissionError):
                anyio.from_thread.run(docker_backend.write_bytes, f"/workspace/flip/f{index}", b"x")

    racer = threading.Thread(target=race, daemon=True)
    racer.start()
    try:
        await anyio.to_thread.run_sync(hammer)
    finally:
        stop.set()
        racer.join()
    assert list(outside.iterdir()) == [] and flips[0] > 0
