"""Deny masks: what deny rules cover is unreadable (or read-only) to every command, through symlinks too, and stays
so as the tree changes between commands. The rules are stand-in predicates (the permission layer supplies real ones)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, bash

from tau.confine import inside
from tau.environment.masks import DenyWalk, LinkScan, TooManyPaths, collapse

pytestmark = pytest.mark.anyio
POLICIES = ["read-only", "workspace-write", "full"]


def rules(ws: Path, outside: Path) -> dict[str, object]:
    """deny Read(**/.env), Read(./secrets/**), Read(<outside>/**); deny Edit(./locked/**)."""
    real_ws, real_out = os.path.realpath(ws), os.path.realpath(outside)

    def denies_read(path: str) -> bool:
        return path.endswith("/.env") or inside(path, f"{real_ws}/secrets/") or inside(path, f"{real_out}/")

    def denies_write(path: str) -> bool:
        return inside(path, f"{real_ws}/locked/")

    return {"deny_read": denies_read, "deny_write": denies_write, "mask_roots": (real_ws, real_out)}


@pytest.fixture
def tree(ws: Path) -> Path:
    (ws / ".env").write_text("TOKEN=ws\n")
    (ws / "sub").mkdir()
    (ws / "sub" / ".env").write_text("TOKEN=sub\n")
    (ws / "secrets").mkdir()
    (ws / "secrets" / "key").write_text("KEY\n")
    (ws / "locked").mkdir()
    (ws / "locked" / "file").write_text("locked\n")
    (ws / "to_env").symlink_to(".env")
    (ws / "to_secrets").symlink_to("secrets")
    (ws / "to_outside").symlink_to(ws.parent / "outside" / "secret")
    return ws


READS = ["cat .env", "cat sub/.env", "cat secrets/key", "cat to_env", "cat to_secrets/key", "cat to_outside"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("command", READS)
async def test_masked_paths_read_nothing(tree: Path, make_backend: Factory, policy: str, command: str) -> None:
    backend = make_backend(tree, policy, **rules(tree, tree.parent / "outside"))
    result = await backend.run(bash(command), shell=True, timeout=30)
    assert "TOKEN" not in result.stdout and "KEY" not in result.stdout and "secret" not in result.stdout, result
    if policy != "full":  # under full, root keeps CAP_DAC_OVERRIDE: the mask reads as empty instead of refusing
        assert result.exit_code != 0 and "Permission denied" in result.stderr, result


@pytest.mark.parametrize("policy", POLICIES)
async def test_unmasked_paths_read_normally(tree: Path, make_backend: Factory, policy: str) -> None:
    backend = make_backend(tree, policy, **rules(tree, tree.parent / "outside"))
    result = await backend.run(bash("cat data.txt locked/file && ls secrets | wc -l"), shell=True, timeout=30)
    assert result.stdout == "data\nlocked\n0\n", result


async def test_masks_follow_the_tree_between_commands(tree: Path, make_backend: Factory) -> None:
    backend = make_backend(tree, "workspace-write", **rules(tree, tree.parent / "outside"))
    assert (await backend.run(bash("cat sub/.env"), shell=True, timeout=30)).exit_code != 0
    (tree / "new").mkdir()
    (tree / "new" / ".env").write_text("TOKEN=new\n")  # appears after the first walk
    moved = await backend.run(bash("mv sub renamed"), shell=True, timeout=30)  # the masked file's parent moves
    assert moved.exit_code == 0, moved
    for path in ("new/.env", "renamed/.env", "secrets/key"):
        result = await backend.run(bash(f"cat {path}"), shell=True, timeout=30)
        assert result.exit_code != 0 and "TOKEN" not in result.stdout, (path, result)


async def test_a_command_cannot_add_files_to_a_masked_directory(tree: Path, make_backend: Factory) -> None:
    backend = make_backend(tree, "workspace-write", **rules(tree, tree.parent / "outside"))
    result = await backend.run(bash("echo x > secrets/new"), shell=True, timeout=30)
    assert result.exit_code != 0
    assert sorted(os.listdir(tree / "secrets")) == ["key"]


async def test_deny_write_paths_are_read_only(tree: Path, make_backend: Factory) -> None:
    backend = make_backend(tree, "workspace-write", **rules(tree, tree.parent / "outside"))
    for command in ("echo x > locked/file", "touch locked/new", "rm locked/file"):
        result = await backend.run(bash(command), shell=True, timeout=30)
        assert result.exit_code != 0 and "Read-only file system" in result.stderr, (command, result)
    assert sorted(os.listdir(tree / "locked")) == ["file"]
    assert (await backend.run(bash("echo y > data.txt"), shell=True, timeout=30)).exit_code == 0


async def test_too_many_masked_paths_refuse_the_command(ws: Path, make_backend: Factory) -> None:
    for index in range(300):
        (ws / f"{index}.env").write_text("x")
    backend = make_backend(ws, "workspace-write", deny_read=lambda path: path.endswith(".env"), mask_roots=(str(ws),))
    result = await backend.run(bash("echo ran > ran"), shell=True, timeout=30)
    assert result.exit_code == 126
    assert result.stderr.startswith("tau sandbox: deny rules cover more than 256 existing paths"), result
    assert not (ws / "ran").exists()


def test_the_walk_is_bounded_and_inactive_without_rules(ws: Path) -> None:
    for index in range(30):
        (ws / f"f{index}").write_text("x")
    assert not DenyWalk((str(ws),), None, None).active
    with pytest.raises(TooManyPaths, match="more than 10 entries"):
        DenyWalk((str(ws),), lambda path: False, None, max_entries=10).find()


def test_the_walk_reuses_unchanged_directories(ws: Path) -> None:
    (ws / "a").mkdir()
    (ws / "a" / ".env").write_text("x")
    seen: list[str] = []

    def predicate(path: str) -> bool:
        seen.append(path)
        return path.endswith(".env")

    walk = DenyWalk((str(ws),), predicate, None)
    first = walk.find()
    assert first.read_files == (os.path.realpath(ws / "a" / ".env"),)
    seen.clear()
    assert walk.find() == first
    assert seen == [os.path.realpath(ws)]  # only the root itself is asked again; no directory was listed
    (ws / "a" / "b.env").write_text("y")
    assert set(walk.find().read_files) == {os.path.realpath(ws / "a" / ".env"), os.path.realpath(ws / "a" / "b.env")}


def test_link_scan(ws: Path) -> None:
    outside = ws.parent / "outside" / "secret"
    os.link(outside, ws / "out")
    (ws / "in1").write_text("x")
    os.link(ws / "in1", ws / "in2")
    scan = LinkScan(str(ws))
    assert scan.find() == (os.path.realpath(ws / "out"),)
    os.rename(ws / "out", ws / "moved")
    assert scan.find() == (os.path.realpath(ws / "moved"),)


def test_many_hard_links_collapse_to_their_directories() -> None:
    root = "/w"
    venv = [f"/w/.venv/lib/site-packages/pkg{index // 10}/mod{index}.py" for index in range(300)]
    assert collapse(tuple(venv), root, 64) == tuple(
        sorted(f"/w/.venv/lib/site-packages/pkg{index}" for index in range(30))
    )
    assert collapse(tuple(venv), root, 5) == ("/w/.venv/lib/site-packages",)
    assert collapse(("/w/a/x", "/w/a/y/z"), root, 1) == ("/w/a",)  # the deeper one is covered by its ancestor
    with pytest.raises(TooManyPaths, match="spread too widely"):
        collapse(tuple(f"/w/f{index}" for index in range(10)), root, 5)  # never the workspace root itself


async def test_a_virtualenv_of_hard_links_stays_read_only(ws: Path, make_backend: Factory) -> None:
    cache = ws.parent / "outside" / "cache"
    cache.mkdir()
    site = ws / ".venv" / "lib" / "site-packages"
    for package in range(20):
        (site / f"pkg{package}").mkdir(parents=True)
        for module in range(10):
            source = cache / f"{package}-{module}.py"
            source.write_text("cached\n")
            os.link(source, site / f"pkg{package}" / f"mod{module}.py")
    backend = make_backend(ws, "workspace-write")
    result = await backend.run(bash("echo pwned > .venv/lib/site-packages/pkg3/mod4.py"), shell=True, timeout=30)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr, result
    assert (cache / "3-4.py").read_text() == "cached\n"
    assert (await backend.run(bash("echo ok > data.txt"), shell=True, timeout=30)).exit_code == 0
