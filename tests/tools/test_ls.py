"""ls (Claude Code's LS): one directory level through the workspace, confined like read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ToolReturnPart

from tau.config.spec import PermissionsSpec
from tau.permissions import PermissionPolicy

RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio


async def test_lists_directories_first_then_files_with_sizes(run_one: RunOne, root: Path) -> None:
    (root / "src").mkdir()
    (root / "src/app.py").write_text("x" * 2048)
    (root / "README.md").write_text("hello\n")
    (root / "build").mkdir()
    (root / "cache.pyc").write_bytes(b"\0")
    part = await run_one("ls", {"ignore": ["*.pyc"]}, names=["ls"])
    assert (part.outcome, part.content) == (
        "success",
        f"{root}/ (3 entries, 1 ignored)\n- build/\n- src/\n- README.md  (6 B)",
    )
    nested = await run_one("ls", {"path": "src"}, names=["ls"])
    assert nested.content == f"{root}/src/ (1 entries)\n- app.py  (2.0K)"


async def test_outside_the_workspace_and_files_fail(run_one: RunOne, root: Path) -> None:
    (root.parent / "outside" / "secret.txt").write_text("s\n")
    (root / "f.txt").write_text("f\n")
    outside = await run_one("ls", {"path": str(root.parent / "outside")}, names=["ls"])
    a_file = await run_one("ls", {"path": "f.txt"}, names=["ls"])
    assert outside.outcome == "failed" and "secret.txt" not in str(outside.content)
    assert a_file.outcome == "failed"
    assert a_file.content == f"{root}/f.txt is a file, not a directory; use read to see it"


async def test_an_empty_directory_says_so(run_one: RunOne, root: Path) -> None:
    (root / "empty").mkdir()
    part = await run_one("ls", {"path": "empty"}, names=["ls"])
    assert part.content == f"{root}/empty/ (0 entries)\n(empty)"


def test_permissions_judge_it_as_a_read(tmp_path: Path) -> None:
    workspace = str(tmp_path / "ws")
    spec = PermissionsSpec(deny=["Read(./private/**)"])
    policy = PermissionPolicy.from_spec(spec, workspace=workspace, home=str(tmp_path / "home"))
    assert policy.evaluate("ls", {"path": "src"}).kind == "allow"
    assert policy.evaluate("ls", {"path": "private"}).kind == "deny"
    assert policy.evaluate("ls", {"path": "/etc"}).kind == "ask"
