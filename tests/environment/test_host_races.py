"""Symlink-swap races and hard links against the host backend's file operations: nothing outside is ever touched.

A racer thread flips a workspace symlink between an inside and an outside target (by atomic rename, so the link
always exists) while the backend writes and reads through it. Each call may succeed (it reached the inside target)
or be refused (it saw the outside one); no call may create, change or return anything outside. Both the openat2
fast path and the component walk (`kernel=False`) are exercised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import anyio.to_thread
import pytest
from pydantic_ai.workspaces import Workspace

from tau.environment import HostBackend
from tau.environment.beneath import kernel_resolve_available
from tau.environment.confined import ConfinedFiles
from tau.environment.policy import SandboxConfig

pytestmark = pytest.mark.anyio

ROUNDS = 1000


@contextmanager
def flipping(link: Path, targets: tuple[str, str]) -> Iterator[list[int]]:
    """Flip `link` between `targets` until the block ends; yields a one-item list counting the flips."""
    stop = threading.Event()
    flips = [0]
    spare = link.with_name(link.name + ".next")

    def race() -> None:
        while not stop.is_set():
            spare.unlink(missing_ok=True)
            spare.symlink_to(targets[flips[0] % 2])
            os.replace(spare, link)
            flips[0] += 1

    link.symlink_to(targets[0])
    racer = threading.Thread(target=race, daemon=True)
    racer.start()
    try:
        yield flips
    finally:
        stop.set()
        racer.join()


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "in").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("OUTSIDE")
    (root / "in" / "secret").write_text("inside")
    return root, outside


def _outside_state(outside: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in outside.iterdir()}


@pytest.mark.parametrize("target", ["absolute", "relative"])
async def test_writes_through_a_flipping_directory_link_never_land_outside(
    layout: tuple[Path, Path], target: str
) -> None:
    root, outside = layout
    out = str(outside) if target == "absolute" else "../outside"
    backend = HostBackend(root)
    written = refused = 0
    with flipping(root / "flip", ("in", out)) as flips:
        for index in range(ROUNDS):
            try:
                await backend.write_bytes(f"{root}/flip/f{index}", b"pwned")
                written += 1
            except PermissionError as error:
                assert str(error).startswith("path escapes the workspace: ")
                refused += 1
    assert _outside_state(outside) == {"secret": "OUTSIDE"}
    assert written + refused == ROUNDS and flips[0] > 0
    landed = set(os.listdir(root / "in")) - {"secret"}
    assert len(landed) == written and landed <= {f"f{i}" for i in range(ROUNDS)}


async def test_reads_through_a_flipping_directory_link_never_return_outside_content(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    backend = HostBackend(root)
    seen: set[bytes] = set()
    with flipping(root / "flip", ("in", str(outside))) as flips:
        for _ in range(ROUNDS):
            try:
                seen.add(await backend.read_bytes(f"{root}/flip/secret"))
            except PermissionError:
                seen.add(b"<refused>")
    assert b"OUTSIDE" not in seen and seen <= {b"inside", b"<refused>"}
    assert flips[0] > 0


@pytest.mark.parametrize("kernel", [True, False], ids=["openat2", "walk"])
async def test_a_final_component_flipping_to_an_outside_file_is_never_written_or_read(
    layout: tuple[Path, Path], kernel: bool
) -> None:
    """The last component itself flips between a file inside and a symlink to the outside secret."""
    root, outside = layout
    files = ConfinedFiles(str(root), kernel=kernel)
    target = f"{root}/in/target"
    contents: set[bytes] = set()

    def hammer() -> None:
        for index in range(ROUNDS):
            with suppress(PermissionError):
                files.write_bytes(target, b"w%d" % index)
            with suppress(PermissionError):
                contents.add(files.read_bytes(target)[:1])

    (root / "in" / "plain").write_text("inside")
    with flipping(root / "in" / "target", ("plain", str(outside / "secret"))) as flips:
        await anyio.to_thread.run_sync(hammer)
    assert _outside_state(outside) == {"secret": "OUTSIDE"}
    assert contents <= {b"i", b"w"} and flips[0] > 0


@pytest.mark.parametrize("kernel", [True, False], ids=["openat2", "walk"])
async def test_make_dir_and_remove_through_a_flipping_link_stay_inside(layout: tuple[Path, Path], kernel: bool) -> None:
    root, outside = layout
    files = ConfinedFiles(str(root), kernel=kernel)
    (outside / "victim").mkdir()

    def hammer() -> None:
        for index in range(ROUNDS // 2):
            with suppress(PermissionError):
                files.make_dir(f"{root}/flip/d{index}")
            for name in ("victim", "secret"):
                with suppress(PermissionError, FileNotFoundError):
                    files.remove(f"{root}/flip/{name}")

    with flipping(root / "flip", ("in", str(outside))) as flips:
        await anyio.to_thread.run_sync(hammer)
    assert sorted(path.name for path in outside.iterdir()) == ["secret", "victim"]
    assert (outside / "secret").read_text() == "OUTSIDE" and flips[0] > 0


async def test_a_hard_link_to_an_outside_file_is_replaced_not_written_through(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("original")
    (outside / "victim").chmod(0o640)
    os.link(outside / "victim", root / "hardlink")
    await Workspace(HostBackend(root)).write_text("hardlink", "replaced")
    assert (outside / "victim").read_text() == "original"
    assert (outside / "victim").stat().st_nlink == 1
    assert (root / "hardlink").read_text() == "replaced"
    assert (root / "hardlink").stat().st_mode & 0o7777 == 0o640  # the target's permission bits are kept


async def test_writes_keep_mode_and_owner_drop_setuid_and_leave_no_temp_files(tmp_path: Path) -> None:
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o4755)
    if os.geteuid() == 0:
        os.chown(tmp_path / "tool", 1234, 5678)
    await HostBackend(tmp_path).write_bytes(f"{tmp_path}/tool", b"#!/bin/sh\necho changed\n")
    info = (tmp_path / "tool").stat()
    assert info.st_mode & 0o7777 == 0o755
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 5678)
    assert sorted(os.listdir(tmp_path)) == ["tool"]


def _is_magic_refusal(error: PermissionError) -> bool:
    return str(error).startswith("path escapes the workspace: ")


MAGIC = ["/proc/self/root/etc/hostname", "/proc/self/cwd", "/proc/self/root", "../../../../../../proc/self/cwd"]


@pytest.mark.parametrize("link_target", MAGIC)
@pytest.mark.parametrize("operation", ["read", "write", "stat", "list", "exists"])
async def test_links_to_proc_magic_links_are_refused(tmp_path: Path, link_target: str, operation: str) -> None:
    (tmp_path / "magic").symlink_to(link_target)
    backend = HostBackend(tmp_path)
    calls: dict[str, Callable[[str], Awaitable[object]]] = {
        "read": backend.read_bytes,
        "write": lambda path: backend.write_bytes(path, b"x"),
        "stat": backend.stat,
        "list": backend.list_dir,
        "exists": backend.exists,
    }
    with pytest.raises(PermissionError) as caught:
        await calls[operation](f"{tmp_path}/magic")
    assert _is_magic_refusal(caught.value)
    assert [entry.is_dir for entry in await backend.list_dir(str(tmp_path))] == [False]  # not followed when listing


async def test_magic_links_are_refused_even_when_proc_is_inside_the_root() -> None:
    """With the whole filesystem as the workspace, /proc is inside; its magic links still are not followed."""
    backend = HostBackend("/", sandbox=SandboxConfig())
    with pytest.raises(PermissionError, match=r"goes through the /proc magic link /proc/self"):
        await backend.read_bytes("/proc/self/root/etc/hostname")
    with pytest.raises(PermissionError, match=r"magic link"):
        await backend.stat("/proc/self/cwd")
    assert await backend.stat("/proc/version")  # plain procfs files are fine


@pytest.mark.skipif(
    tuple(int(part) for part in os.uname().release.split(".")[:2]) < (5, 6), reason="openat2 needs Linux 5.6"
)
def test_the_kernel_fast_path_is_in_use_here() -> None:
    """Where the kernel has openat2, the backend uses it (else the race tests above ran on the walk only)."""
    files = ConfinedFiles("/")
    files.exists("/etc/hostname")
    assert kernel_resolve_available()
