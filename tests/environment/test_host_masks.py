"""Deny masks in the host backend: a Read rule hides paths from every file operation, an Edit rule keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.confine import inside
from tau.environment import HostBackend
from tau.environment.policy import SandboxConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "secrets" / "deep").mkdir(parents=True)
    (ws / "secrets" / "key").write_text("KEY")
    (ws / "secrets" / "deep" / "more").write_text("MORE")
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_text("print('hi')\n")
    (ws / "alias").symlink_to("secrets/key")
    (ws / "door").symlink_to("secrets")
    return ws


def _masked(root: Path) -> HostBackend:
    secrets = str(root / "secrets")
    config = SandboxConfig(deny_read=lambda path: inside(path, secrets), deny_write=lambda path: inside(path, secrets))
    return HostBackend(root, sandbox=config)


@pytest.mark.parametrize(
    "relative",
    ["secrets/key", "secrets/deep/more", "secrets", "alias", "door/key", "door", "secrets/missing", "door/gone"],
)
@pytest.mark.parametrize("operation", ["read_bytes", "stat", "list_dir", "exists"])
async def test_reading_a_covered_path_is_refused(root: Path, relative: str, operation: str) -> None:
    backend = _masked(root)
    with pytest.raises(PermissionError, match=r"is denied by a Read rule$") as caught:
        await getattr(backend, operation)(f"{root}/{relative}")
    assert caught.value.errno is None  # a complete message, passed to the model as it is


async def test_the_message_says_where_a_symlink_leads(root: Path) -> None:
    with pytest.raises(PermissionError) as caught:
        await _masked(root).read_bytes(f"{root}/alias")
    assert str(caught.value) == f"{root}/alias (resolves to {root}/secrets/key) is denied by a Read rule"


async def test_listing_leaves_covered_entries_out(root: Path) -> None:
    backend = _masked(root)
    assert [entry.name for entry in await backend.list_dir(str(root))] == ["src"]
    assert [entry.name for entry in await HostBackend(root).list_dir(str(root))] == ["alias", "door", "secrets", "src"]


async def test_uncovered_paths_work_as_before(root: Path) -> None:
    backend = _masked(root)
    assert await backend.read_bytes(f"{root}/src/app.py") == b"print('hi')\n"
    await backend.write_bytes(f"{root}/src/new.py", b"x")
    assert (await backend.stat(f"{root}/src/new.py")).size == 1


@pytest.mark.parametrize("relative", ["secrets/key", "secrets/new", "door/key", "alias", "secrets/sub/file"])
async def test_writing_a_covered_path_is_refused(root: Path, relative: str) -> None:
    with pytest.raises(PermissionError, match=r"is denied by an Edit rule$"):
        await _masked(root).write_bytes(f"{root}/{relative}", b"pwned")
    assert (root / "secrets" / "key").read_text() == "KEY"
    assert sorted(path.name for path in (root / "secrets").iterdir()) == ["deep", "key"]


async def test_make_dir_and_remove_of_covered_paths_are_refused(root: Path) -> None:
    backend = _masked(root)
    for call in (
        backend.make_dir(f"{root}/secrets/sub"),
        backend.make_dir(f"{root}/door/sub"),
        backend.remove(f"{root}/secrets/key"),
        backend.remove(f"{root}/secrets"),
    ):
        with pytest.raises(PermissionError, match=r"is denied by an Edit rule$"):
            await call
    assert sorted(path.name for path in (root / "secrets").iterdir()) == ["deep", "key"]


async def test_removing_a_tree_that_holds_a_covered_path_removes_nothing(tmp_path: Path) -> None:
    (tmp_path / "tree" / "keep").mkdir(parents=True)
    (tmp_path / "tree" / "a").write_text("a")
    (tmp_path / "tree" / "keep" / "b").write_text("b")
    kept = str(tmp_path / "tree" / "keep" / "b")
    backend = HostBackend(tmp_path, sandbox=SandboxConfig(deny_write=lambda path: path == kept))
    with pytest.raises(PermissionError) as caught:
        await backend.remove(f"{tmp_path}/tree")
    assert str(caught.value) == f"{tmp_path}/tree holds {kept}, which is denied by an Edit rule"
    assert (tmp_path / "tree" / "a").exists() and (tmp_path / "tree" / "keep" / "b").exists()
    await backend.remove(f"{tmp_path}/tree/a")  # an uncovered file in the same tree goes
    assert not (tmp_path / "tree" / "a").exists()


async def test_removing_a_symlink_to_a_covered_path_removes_the_link(root: Path) -> None:
    """The link is the entry removed (its own path is not covered); what it points to stays."""
    await _masked(root).remove(f"{root}/alias")
    assert not (root / "alias").is_symlink() and (root / "secrets" / "key").read_text() == "KEY"
