"""write and edit: files on disk and the messages the model reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ToolReturnPart

RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]
RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio


async def test_write_creates_parents_then_overwrites(run_tools: RunTools, root: Path) -> None:
    parts = await run_tools(
        [("write", {"file_path": "deep/er/f.txt", "content": "one\ntwo\n"})],
        [("write", {"file_path": str(root / "deep/er/f.txt"), "content": "three"})],
    )
    assert [(part.outcome, part.content) for [part] in parts] == [
        ("success", f"Wrote {root}/deep/er/f.txt (2 lines, 8 bytes)"),
        ("success", f"Wrote {root}/deep/er/f.txt (1 lines, 5 bytes)"),
    ]
    assert (root / "deep/er/f.txt").read_text() == "three"


async def test_write_onto_a_directory_fails(run_one: RunOne, root: Path) -> None:
    (root / "d").mkdir()
    part = await run_one("write", {"file_path": "d", "content": "x"})
    assert (part.outcome, part.content) == (
        "failed",
        f"{root}/d is a directory, not a file (use glob, or `ls` through bash, to list it)",
    )


async def test_edit_replaces_a_unique_match_and_shows_the_region(run_one: RunOne, root: Path) -> None:
    (root / "m.py").write_text("a = 1\nb = 2\nc = 3\n")
    part = await run_one("edit", {"file_path": "m.py", "old_string": "b = 2", "new_string": "b = 20\nbb = 21"})
    assert part.outcome == "success"
    assert part.content == (
        f"Edited {root}/m.py: replaced 1 occurrence.\n     1\ta = 1\n     2\tb = 20\n     3\tbb = 21\n     4\tc = 3"
    )
    assert (root / "m.py").read_text() == "a = 1\nb = 20\nbb = 21\nc = 3\n"


async def test_edit_errors_name_the_file_and_the_fix(run_tools: RunTools, root: Path) -> None:
    (root / "m.py").write_text("x = 1\nx = 1\n")
    [parts] = await run_tools(
        [
            ("edit", {"file_path": "m.py", "old_string": "y = 1", "new_string": "y = 2"}),
            ("edit", {"file_path": "m.py", "old_string": "x = 1", "new_string": "x = 2"}),
            ("edit", {"file_path": "nope.py", "old_string": "a", "new_string": "b"}),
        ]
    )
    assert [(part.outcome, part.content) for part in parts] == [
        (
            "failed",
            f"old_string was not found in {root}/m.py. It must match the file exactly, including whitespace and "
            "indentation; read the file and copy the text",
        ),
        (
            "failed",
            f"old_string occurs 2 times in {root}/m.py; include more surrounding context to make it unique, "
            "or set replace_all to true to replace every occurrence",
        ),
        ("failed", f"File does not exist: {root}/nope.py"),
    ]
    assert (root / "m.py").read_text() == "x = 1\nx = 1\n"


async def test_edit_replace_all(run_one: RunOne, root: Path) -> None:
    (root / "m.py").write_text("x = 1\nx = 1\n")
    part = await run_one(
        "edit", {"file_path": "m.py", "old_string": "x = 1", "new_string": "x = 2", "replace_all": True}
    )
    assert str(part.content).startswith(f"Edited {root}/m.py: replaced 2 occurrences.\n")
    assert (root / "m.py").read_text() == "x = 2\nx = 2\n"


async def test_edit_identical_strings_is_a_retry(run_one: RunOne, root: Path) -> None:
    (root / "m.py").write_text("x\n")
    part = await run_one("edit", {"file_path": "m.py", "old_string": "x", "new_string": "x"})
    assert part.outcome == "retried"
    assert "old_string and new_string are identical; there is nothing to change" in str(part.content)


async def test_edit_with_empty_old_string_creates_a_file_only_when_absent(run_tools: RunTools, root: Path) -> None:
    (root / "has.txt").write_text("content")
    [parts] = await run_tools(
        [
            ("edit", {"file_path": "new/n.txt", "old_string": "", "new_string": "hello\n"}),
            ("edit", {"file_path": "has.txt", "old_string": "", "new_string": "other"}),
        ]
    )
    assert [(part.outcome, part.content) for part in parts] == [
        ("success", f"Created {root}/new/n.txt (1 lines)"),
        (
            "failed",
            f"old_string is empty but {root}/has.txt already has content; give the exact text to replace, "
            "or use write to replace the whole file",
        ),
    ]
    assert (root / "new/n.txt").read_text() == "hello\n"
    assert (root / "has.txt").read_text() == "content"
