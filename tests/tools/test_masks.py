"""Deny masks seen through the tools: read, glob and grep (Python engine) never show names or content under a path a
Read rule covers, and a path refused in the middle of a walk is skipped, never failing the whole search.

ripgrep runs as a command; the command sandbox masks those paths at the kernel level (tests of `run`), not here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

from tau.confine import inside
from tau.environment import HostBackend
from tau.environment.policy import SandboxConfig
from tau.tools import ToolLimits
from tau.tools.glob import glob_tool
from tau.tools.grep import grep_tool
from tau.tools.read import read_tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def tree(root: Path) -> Path:
    for name in ("secrets/key.txt", "secrets/deep/token.txt", "src/app.txt", "src/nested/more.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"needle in {name}\n")
    (root / "alias.txt").symlink_to("secrets/key.txt")
    return root


async def _call(backend: HostBackend, *calls: tuple[str, dict[str, Any]]) -> list[tuple[str, str]]:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1:
            return ModelResponse(parts=[TextPart("done")])
        parts = [ToolCallPart(name, args, tool_call_id=f"c{i}") for i, (name, args) in enumerate(calls)]
        return ModelResponse(parts=parts)

    limits = ToolLimits()
    tools = [read_tool(limits), glob_tool(limits), grep_tool(limits, engine="python")]
    result = await Agent(FunctionModel(model), toolsets=[FunctionToolset[None](tools)]).run("go", workspace=backend)
    assert result.output == "done"
    request = result.all_messages()[2]
    assert isinstance(request, ModelRequest)
    return [(part.outcome, str(part.content)) for part in request.parts if isinstance(part, ToolReturnPart)]


def _masked(root: Path, deny: Callable[[str], bool] | None = None) -> HostBackend:
    secrets = str(root / "secrets")
    return HostBackend(root, sandbox=SandboxConfig(deny_read=deny or (lambda path: inside(path, secrets))))


async def test_read_glob_and_grep_never_show_covered_names_or_content(tree: Path) -> None:
    results = await _call(
        _masked(tree),
        ("glob", {"pattern": "**/*.txt"}),
        ("grep", {"pattern": "needle", "output_mode": "content"}),
        ("read", {"file_path": "secrets/key.txt"}),
        ("read", {"file_path": "alias.txt"}),
        ("glob", {"pattern": "*", "path": "secrets"}),
        ("grep", {"pattern": "needle", "path": "secrets"}),
    )
    r = tree
    assert results == [
        ("success", f"Found 2 files\n{r}/src/app.txt\n{r}/src/nested/more.txt"),
        (
            "success",
            f"{r}/src/app.txt:1:needle in src/app.txt\n{r}/src/nested/more.txt:1:needle in src/nested/more.txt",
        ),
        ("failed", f"{r}/secrets/key.txt is denied by a Read rule"),
        ("failed", f"{r}/alias.txt (resolves to {r}/secrets/key.txt) is denied by a Read rule"),
        ("failed", f"{r}/secrets is denied by a Read rule"),
        ("failed", f"{r}/secrets is denied by a Read rule"),
    ]


async def test_without_masks_the_same_calls_see_everything(tree: Path) -> None:
    [(outcome, content)] = await _call(HostBackend(tree), ("glob", {"pattern": "**/*.txt"}))
    assert (outcome, content.splitlines()[0]) == ("success", "Found 5 files")


async def test_a_path_refused_in_the_middle_of_a_walk_is_skipped(tree: Path) -> None:
    """A Read rule that starts covering `src/nested` and `src/app.txt` once the walk has listed their parent (as
    if they were moved under a covered path meanwhile): the walk and the reads skip them, the search completes."""
    seen: Counter[str] = Counter()
    late = (str(tree / "src" / "nested"), str(tree / "src" / "app.txt"))

    def deny(path: str) -> bool:
        seen[path] += 1
        return inside(path, str(tree / "secrets")) or (path in late and seen[path] > 1)

    results = await _call(
        _masked(tree, deny),
        ("grep", {"pattern": "needle"}),
    )
    assert results == [("success", "No matches found")]
    assert seen[late[0]] >= 2 and seen[late[1]] >= 2
