"""HostBackend confinement, directly: every file operation refuses paths that leave the root (openat2 and walk)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.workspaces import Workspace, WorkspaceRef, WorkspaceUnavailableError

from tau.environment import HostBackend
from tau.environment.confined import ConfinedFiles

pytestmark = pytest.mark.anyio


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "inner").mkdir()
    (root / "inner" / "file").write_text("inner")
    (root / "to_secret").symlink_to(outside / "secret")
    (root / "to_outside").symlink_to(outside)
    (root / "to_inner").symlink_to("inner")
    return root, outside


def _operations(backend: HostBackend) -> dict[str, Callable[[str], Awaitable[Any]]]:
    return {
        "read_bytes": backend.read_bytes,
        "write_bytes": lambda path: backend.write_bytes(path, b"pwned"),
        "stat": backend.stat,
        "list_dir": backend.list_dir,
        "make_dir": backend.make_dir,
        "exists": backend.exists,
        "remove": backend.remove,
    }


@pytest.mark.parametrize(
    "relative", ["../outside/secret", "../outside", "to_secret", "to_outside/secret", "inner/../../outside/new"]
)
@pytest.mark.parametrize("operation", ["read_bytes", "write_bytes", "stat", "list_dir", "make_dir", "exists", "remove"])
@pytest.mark.parametrize("kernel", [True, False], ids=["openat2", "walk"])
async def test_escapes_are_refused(layout: tuple[Path, Path], relative: str, operation: str, kernel: bool) -> None:
    root, outside = layout
    backend = HostBackend(root)
    backend._confined = ConfinedFiles(str(root), kernel=kernel)
    if operation == "remove" and relative in ("to_secret", "to_outside"):
        pytest.skip("removing a link itself is inside the workspace; covered below")
    with pytest.raises(PermissionError, match=r"^path escapes the workspace: "):
        await _operations(backend)[operation](f"{root}/{relative}")
    assert (outside / "secret").read_text() == "secret"
    assert sorted(path.name for path in outside.iterdir()) == ["secret"]


async def test_absolute_outside_is_refused(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    with pytest.raises(PermissionError, match=f"^path escapes the workspace: /etc/passwd is outside {root}$"):
        await HostBackend(root).read_bytes("/etc/passwd")


async def test_message_shows_where_a_symlink_leads(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    with pytest.raises(PermissionError) as caught:
        await HostBackend(root).read_bytes(f"{root}/to_secret")
    assert str(caught.value) == (
        f"path escapes the workspace: {root}/to_secret (resolves to {outside}/secret) is outside {root}"
    )


async def test_removing_a_link_to_outside_removes_only_the_link(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    backend = HostBackend(root)
    await backend.remove(f"{root}/to_outside")
    await backend.remove(f"{root}/to_secret")
    assert not (root / "to_outside").is_symlink() and not (root / "to_secret").is_symlink()
    assert (outside / "secret").read_text() == "secret"


async def test_inside_paths_and_inside_symlinks_work(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    workspace = Workspace(HostBackend(root))
    assert await workspace.read_text("to_inner/file") == "inner"
    await workspace.write_text("inner/../new/f", "x")
    assert (root / "new" / "f").read_text() == "x"
    assert [entry.name for entry in await workspace.list_dir(".")] == [
        "inner",
        "new",
        "to_inner",
        "to_outside",
        "to_secret",
    ]


async def test_relative_paths_are_rejected_at_the_backend(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    with pytest.raises(ValueError, match="path must be absolute"):
        await HostBackend(root).read_bytes("inner/file")


async def test_commands_start_in_the_root_with_extra_env(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    backend = HostBackend(root, env={"TAU_TEST": "configured"})
    result = await backend.run('pwd; printf "%s %s" "$TAU_TEST" "$PER_CALL"', shell=True, env={"PER_CALL": "call"})
    assert (result.exit_code, result.stdout) == (0, f"{root}\nconfigured call")


async def test_ref_and_no_io_at_construction(tmp_path: Path) -> None:
    backend = HostBackend(tmp_path / "not-yet")  # no I/O: a missing root is fine until first use
    assert backend.ref == WorkspaceRef(provider="local", id=str(tmp_path / "not-yet"))
    with pytest.raises(WorkspaceUnavailableError):
        await backend.working_dir()
    (tmp_path / "not-yet").mkdir()
    assert await backend.working_dir() == str(tmp_path / "not-yet")


async def test_realpath_answers_for_any_path(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    assert await HostBackend(root).realpath(f"{root}/to_secret") == f"{outside}/secret"
