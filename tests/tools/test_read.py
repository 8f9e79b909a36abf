"""read: cat -n numbering, paging, caps, and refusals, seen through a real Agent run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ToolReturnPart
from pydantic_ai.workspaces import WorkspaceUnavailableError

from tau.tools import ToolLimits

RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]
RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio


async def test_numbers_lines_like_cat_n(run_one: RunOne, root: Path) -> None:
    (root / "a.txt").write_text("alpha\nbeta\n")
    part = await run_one("read", {"file_path": "a.txt"})
    assert part.outcome == "success"
    assert part.content == "     1\talpha\n     2\tbeta"


async def test_offset_and_limit_page_through_lines(run_one: RunOne, root: Path) -> None:
    (root / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    part = await run_one("read", {"file_path": str(root / "n.txt"), "offset": 4, "limit": 2})
    assert part.content == (
        "     4\tline 4\n     5\tline 5\n[showing lines 4-5 of 10; call read with offset=6 to continue]"
    )


async def test_default_limit_is_2000_lines(run_one: RunOne, root: Path) -> None:
    (root / "big.txt").write_text("x\n" * 2500)
    part = await run_one("read", {"file_path": "big.txt"}, limits=ToolLimits(max_output_chars=100_000))
    lines = str(part.content).split("\n")
    assert lines[-2] == "  2000\tx"
    assert lines[-1] == "[showing lines 1-2000 of 2500; call read with offset=2001 to continue]"


async def test_long_lines_are_truncated(run_one: RunOne, root: Path) -> None:
    (root / "wide.txt").write_text("y" * 2500 + "\n")
    part = await run_one("read", {"file_path": "wide.txt"})
    assert part.content == "     1\t" + "y" * 2000 + "... [line truncated, 500 more characters]"


async def test_output_cap_cuts_at_a_line_and_says_how_to_continue(run_one: RunOne, root: Path) -> None:
    (root / "many.txt").write_text("".join(f"{i:04d}\n" for i in range(1, 501)))
    part = await run_one("read", {"file_path": "many.txt"}, limits=ToolLimits(max_output_chars=1000))
    content = str(part.content)
    assert len(content) < 1200
    assert content.startswith("     1\t0001\n")
    assert content.endswith("; call read with a larger offset to continue]")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("bin.dat", b"\x00\x01\x02abc", "bin.dat is a binary file (6 bytes); its contents are not shown"),
        ("latin.txt", "café".encode("latin-1"), "latin.txt is a binary file (4 bytes); its contents are not shown"),
    ],
)
async def test_binary_files_are_refused(run_one: RunOne, root: Path, name: str, data: bytes, expected: str) -> None:
    (root / name).write_bytes(data)
    part = await run_one("read", {"file_path": name})
    assert part.outcome == "failed"
    assert part.content == f"{root}/{expected}"


async def test_files_over_the_size_cap_are_refused(run_one: RunOne, root: Path) -> None:
    (root / "huge.txt").write_text("z" * 2000)
    part = await run_one("read", {"file_path": "huge.txt"}, limits=ToolLimits(max_file_bytes=1000))
    assert part.outcome == "failed"
    assert part.content == (
        f"{root}/huge.txt is 2000 bytes, over the 1000-byte read limit; "
        "inspect parts of it through bash (head, tail, sed -n, grep)"
    )


async def test_directory_missing_empty_and_past_the_end(run_tools: RunTools, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "empty.txt").write_text("")
    (root / "two.txt").write_text("1\n2\n")
    parts = await run_tools(
        [
            ("read", {"file_path": "sub"}),
            ("read", {"file_path": "missing.txt"}),
            ("read", {"file_path": "empty.txt"}),
            ("read", {"file_path": "two.txt", "offset": 5}),
        ]
    )
    assert [(part.outcome, part.content) for part in parts[0]] == [
        ("failed", f"{root}/sub is a directory, not a file (use glob, or `ls` through bash, to list it)"),
        ("failed", f"File does not exist: {root}/missing.txt"),
        ("success", f"(file {root}/empty.txt is empty)"),
        ("failed", f"{root}/two.txt has 2 lines; offset 5 is past the end"),
    ]


async def test_offset_zero_is_a_validation_retry(run_one: RunOne, root: Path) -> None:
    (root / "a.txt").write_text("a\n")
    part = await run_one("read", {"file_path": "a.txt", "offset": 0})
    assert part.outcome == "retried"
    assert "greater than or equal to 1" in str(part.content)


async def test_a_dead_workspace_ends_the_run(run_tools: RunTools, root: Path) -> None:
    root.rmdir()
    with pytest.raises(WorkspaceUnavailableError):
        await run_tools([("read", {"file_path": "a.txt"})])
