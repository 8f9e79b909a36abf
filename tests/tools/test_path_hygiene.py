"""Paths no filesystem can take, sent by the model to every built-in tool: one clear failed result, never a crash.

A NUL byte (a ValueError deep in `os`), a lone surrogate (JSON allows them; UTF-8 does not), a path over PATH_MAX,
a name over NAME_MAX, an empty path. Each call must come back as a failed tool result naming the argument, and the
run must go on (`run_tools` asserts the scripted model got to say "done").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ToolReturnPart

RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]

pytestmark = pytest.mark.anyio

BAD_PATHS = {
    "nul": ("a\x00b.txt", "contains a NUL byte"),
    "surrogate": ("bad\ud800.txt", "is not valid UTF-8 text"),
    "escaped-byte": ("bad\udcff.txt", "is not valid UTF-8 text"),
    "long-name": ("n" * 256, "has a name of 256 bytes, over the 255-byte limit"),
    "long-path": ("d/" * 2100 + "f", "is 4201 bytes long, over the 4095-byte limit"),
}


def _calls(argument: str, value: str) -> list[tuple[str, dict[str, Any]]]:
    if argument == "file_path":
        return [
            ("read", {"file_path": value}),
            ("write", {"file_path": value, "content": "x"}),
            ("edit", {"file_path": value, "old_string": "", "new_string": "x"}),
        ]
    if argument == "pattern":
        return [("glob", {"pattern": value})]
    return [("glob", {"pattern": "*", "path": value}), ("grep", {"pattern": "x", "path": value})]


@pytest.mark.parametrize("case", list(BAD_PATHS))
@pytest.mark.parametrize("argument", ["file_path", "pattern", "path"])
async def test_bad_paths_are_failed_tool_results(run_tools: RunTools, root: Path, case: str, argument: str) -> None:
    value, problem = BAD_PATHS[case]
    [parts] = await run_tools(_calls(argument, value))
    assert parts and all(part.outcome == "failed" for part in parts)
    for part in parts:
        assert str(part.content).startswith(f"{argument} {problem}")
        assert "\n" not in str(part.content) and len(str(part.content)) < 300
    assert sorted(path.name for path in root.iterdir()) == []


@pytest.mark.parametrize("argument", ["file_path", "path"])
async def test_an_empty_path_is_a_failed_tool_result(run_tools: RunTools, argument: str) -> None:
    [parts] = await run_tools(_calls(argument, ""))
    expected = "file_path is empty; give a path" if argument == "file_path" else "path is empty; omit it to search"
    assert [part.outcome for part in parts] == ["failed"] * len(parts)
    assert all(str(part.content).startswith(expected) for part in parts)


async def test_other_text_arguments_that_reach_the_workspace(run_tools: RunTools, root: Path) -> None:
    [parts] = await run_tools(
        [
            ("bash", {"command": "echo a\x00b"}),
            ("grep", {"pattern": "a\x00b"}),
            ("grep", {"pattern": "a", "glob": "*\ud800"}),
            ("write", {"file_path": "ok.txt", "content": "lone \udc80 surrogate"}),
            ("edit", {"file_path": "ok.txt", "old_string": "", "new_string": "\ud800"}),
        ]
    )
    assert [(part.outcome, str(part.content).split(" (")[0]) for part in parts] == [
        ("failed", "command contains a NUL byte"),
        ("failed", "pattern contains a NUL byte"),
        ("failed", "glob is not valid UTF-8 text"),
        ("failed", "content is not valid UTF-8 text"),
        ("failed", "new_string is not valid UTF-8 text"),
    ]
    assert list(root.iterdir()) == []


async def test_a_good_call_after_bad_ones_still_works(run_tools: RunTools, root: Path) -> None:
    steps = await run_tools([("read", {"file_path": "a\x00"})], [("write", {"file_path": "ok.txt", "content": "fine"})])
    assert [[part.outcome for part in step] for step in steps] == [["failed"], ["success"]]
    assert (root / "ok.txt").read_text() == "fine"
