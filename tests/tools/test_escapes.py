"""Sandbox escapes through the file tools: refused as tool results, host files untouched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ToolReturnPart

RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]

pytestmark = pytest.mark.anyio


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.write_text("do not touch\n")
    return path


def _calls(target: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("read", {"file_path": target}),
        ("write", {"file_path": target, "content": "pwned"}),
        ("edit", {"file_path": target, "old_string": "do not touch", "new_string": "pwned"}),
    ]


async def test_dotdot_is_refused(run_tools: RunTools, root: Path, secret: Path) -> None:
    [parts] = await run_tools(_calls("../outside/secret.txt"))
    message = f"path escapes the workspace: {secret} is outside {root}"
    assert [(part.outcome, part.content) for part in parts] == [("failed", message)] * 3
    assert secret.read_text() == "do not touch\n"


async def test_dotdot_to_a_new_file_is_refused(run_tools: RunTools, root: Path, tmp_path: Path) -> None:
    [[part]] = await run_tools([("write", {"file_path": "../outside/new.txt", "content": "x"})])
    assert (part.outcome, part.content) == (
        "failed",
        f"path escapes the workspace: {tmp_path}/outside/new.txt is outside {root}",
    )
    assert not (tmp_path / "outside" / "new.txt").exists()


async def test_absolute_path_outside_is_refused(run_tools: RunTools, root: Path) -> None:
    before = Path("/etc/passwd").read_bytes()
    [parts] = await run_tools(_calls("/etc/passwd"))
    message = f"path escapes the workspace: /etc/passwd is outside {root}"
    assert [(part.outcome, part.content) for part in parts] == [("failed", message)] * 3
    assert Path("/etc/passwd").read_bytes() == before


@pytest.mark.parametrize("target", ["/etc/passwd", "SECRET"])
async def test_symlink_inside_pointing_outside_is_refused(
    run_tools: RunTools, root: Path, secret: Path, target: str
) -> None:
    real_target = Path("/etc/passwd") if target == "/etc/passwd" else secret
    before = real_target.read_bytes()
    (root / "link").symlink_to(real_target)
    [parts] = await run_tools(_calls("link"))
    message = f"path escapes the workspace: {root}/link (resolves to {real_target}) is outside {root}"
    assert [(part.outcome, part.content) for part in parts] == [("failed", message)] * 3
    assert real_target.read_bytes() == before


async def test_symlinked_directory_pointing_outside_is_refused(run_tools: RunTools, root: Path, secret: Path) -> None:
    (root / "door").symlink_to(secret.parent)
    [parts] = await run_tools([*_calls("door/secret.txt"), ("write", {"file_path": "door/new.txt", "content": "x"})])
    assert all(part.outcome == "failed" for part in parts)
    assert all("path escapes the workspace" in str(part.content) for part in parts)
    assert secret.read_text() == "do not touch\n"
    assert not (secret.parent / "new.txt").exists()


async def test_symlinks_within_the_workspace_work(run_tools: RunTools, root: Path) -> None:
    (root / "real.txt").write_text("inside\n")
    (root / "alias.txt").symlink_to("real.txt")
    [parts] = await run_tools(
        [
            ("read", {"file_path": "alias.txt"}),
            ("edit", {"file_path": "alias.txt", "old_string": "inside", "new_string": "changed"}),
        ]
    )
    assert [part.outcome for part in parts] == ["success", "success"]
    assert (root / "real.txt").read_text() == "changed\n"


async def test_glob_and_grep_paths_outside_are_refused(run_tools: RunTools, root: Path, tmp_path: Path) -> None:
    [parts] = await run_tools(
        [
            ("glob", {"pattern": "../outside/*"}),
            ("glob", {"pattern": "*", "path": "/etc"}),
            ("grep", {"pattern": "root", "path": "/etc/passwd"}),
        ]
    )
    assert [(part.outcome, part.content) for part in parts] == [
        ("failed", f"path escapes the workspace: {tmp_path}/outside is outside {root}"),
        ("failed", f"path escapes the workspace: /etc is outside {root}"),
        ("failed", f"path escapes the workspace: /etc/passwd is outside {root}"),
    ]
