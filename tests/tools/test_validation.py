"""Malformed tool arguments from the model become validation retries; the run continues."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic_ai.messages import ToolReturnPart

RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]

pytestmark = pytest.mark.anyio


async def test_wrong_type_then_invalid_json_then_success(run_tools: RunTools, root: Path) -> None:
    (root / "a.txt").write_text("hello\n")
    parts = await run_tools(
        [("read", {"file_path": 3})],
        [("read", '{"file_path": "a.txt"')],  # truncated JSON
        [("read", {"file_path": "a.txt"})],
    )
    [[wrong_type], [bad_json], [ok]] = parts
    assert wrong_type.outcome == "retried"
    assert wrong_type.content == [
        {"type": "string_type", "loc": ["file_path"], "msg": "Input should be a valid string", "input": 3}
    ]
    assert bad_json.outcome == "retried"
    [error] = cast(list[dict[str, Any]], bad_json.content)
    assert (error["type"], error["msg"]) == (
        "json_invalid",
        "Invalid JSON: EOF while parsing an object at line 1 column 21",
    )
    assert (ok.outcome, ok.content) == ("success", "     1\thello")


async def test_unknown_argument_and_missing_required_are_retries(run_tools: RunTools) -> None:
    [parts] = await run_tools([("write", {"file_path": "x.txt"}), ("bash", {"command": "true", "cwd": "/"})])
    assert [part.outcome for part in parts] == ["retried", "retried"]
    assert "content" in str(parts[0].content)
    assert "cwd" in str(parts[1].content)
