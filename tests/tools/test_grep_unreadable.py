"""grep with ripgrep over files it cannot read: they are skipped, never failing the whole search.

ripgrep runs as an unprivileged user (as commands do in the sandbox; as root nothing is unreadable), through a
`rg` on the workspace's PATH that re-executes the real ripgrep with `runuser -u nobody`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

from tau.environment import HostBackend
from tau.tools import ToolLimits
from tau.tools.grep import grep_tool

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        os.geteuid() != 0 or not (shutil.which("rg") and shutil.which("runuser")),
        reason="needs root (to run rg as nobody), ripgrep and runuser",
    ),
]


@pytest.fixture
def world() -> Iterator[tuple[Path, Path]]:
    """(workspace, bin dir with the `rg` wrapper), in a directory `nobody` can traverse."""
    top = Path(tempfile.mkdtemp(prefix="tau-rg-"))
    top.chmod(0o755)
    ws, bin_dir = top / "ws", top / "bin"
    (ws / "locked").mkdir(parents=True)
    bin_dir.mkdir()
    (ws / "open.txt").write_text("needle\n")
    (ws / "closed.txt").write_text("needle\n")
    (ws / "locked" / "inner.txt").write_text("needle\n")
    (ws / "closed.txt").chmod(0o000)
    (ws / "locked").chmod(0o000)
    wrapper = bin_dir / "rg"
    wrapper.write_text(f'#!/bin/sh\nexec runuser -u nobody -- {shutil.which("rg")} "$@"\n')
    wrapper.chmod(0o755)
    yield ws, bin_dir
    (ws / "locked").chmod(0o755)
    shutil.rmtree(top)


async def _grep(ws: Path, bin_dir: Path, **args: object) -> tuple[str, str]:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1:
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("grep", dict(args), tool_call_id="g")])

    backend = HostBackend(ws, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    toolset = FunctionToolset[None]([grep_tool(ToolLimits(), engine="rg")])
    result = await Agent(FunctionModel(model), toolsets=[toolset]).run("go", workspace=backend)
    request = result.all_messages()[2]
    assert isinstance(request, ModelRequest)
    [part] = [part for part in request.parts if isinstance(part, ToolReturnPart)]
    return part.outcome, str(part.content)


async def test_unreadable_files_beside_matches_are_skipped(world: tuple[Path, Path]) -> None:
    ws, bin_dir = world
    assert await _grep(ws, bin_dir, pattern="needle") == ("success", f"Found 1 files\n{ws}/open.txt")


async def test_only_unreadable_candidates_is_no_match_not_a_failure(world: tuple[Path, Path]) -> None:
    ws, bin_dir = world
    assert await _grep(ws, bin_dir, pattern="needle", path="locked") == ("success", "No matches found")
    assert await _grep(ws, bin_dir, pattern="needle", glob="closed*") == ("success", "No matches found")


async def test_a_usage_error_still_fails(world: tuple[Path, Path]) -> None:
    ws, bin_dir = world
    outcome, content = await _grep(ws, bin_dir, pattern="needle", glob="{")
    assert outcome == "failed" and content.startswith("grep failed (rg exit code 2): ")
