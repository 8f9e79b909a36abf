"""grep: both engines (ripgrep via run, pure Python) give the same answers in the same format."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.workspaces import WorkspaceBackend

from tau.tools import ToolLimits
from tau.tools.grep import Engine, grep_tool

pytestmark = pytest.mark.anyio

needs_rg = pytest.mark.skipif(shutil.which("rg") is None, reason="ripgrep is not installed")
ENGINES = [pytest.param("rg", marks=needs_rg), "python"]


async def grep(backend: WorkspaceBackend, engine: Engine, *calls: dict[str, Any]) -> list[ToolReturnPart]:
    """Call grep once per args dict, in one model step, on the given engine."""

    def model(messages: list[Any], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1:
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("grep", args, tool_call_id=f"g{i}") for i, args in enumerate(calls)])

    toolset = FunctionToolset[None]([grep_tool(ToolLimits(), engine=engine)], max_retries=3)
    result = await Agent(FunctionModel(model), toolsets=[toolset]).run("go", workspace=backend)
    request = result.all_messages()[2]
    assert isinstance(request, ModelRequest)
    return [part for part in request.parts if isinstance(part, ToolReturnPart)]


@pytest.fixture
def tree(root: Path) -> Path:
    files = {
        "a.py": "import os\ndef alpha():\n    return 1\n\n\ndef beta():\n    return 2\n",
        "notes.md": "TODO: Alpha release\nnothing here\n",
        "src/b.py": "x = 'alpha'\ny = 'ALPHA'\n",
        ".hidden/c.txt": "alpha hidden\n",
        ".git/HEAD": "alpha in git\n",
        "bin.dat": "alpha\x00binary",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


CASES: list[tuple[dict[str, Any], str]] = [
    ({"pattern": "alpha"}, "Found 3 files\n{r}/.hidden/c.txt\n{r}/a.py\n{r}/src/b.py"),
    ({"pattern": "alpha", "-i": True}, "Found 4 files\n{r}/.hidden/c.txt\n{r}/a.py\n{r}/notes.md\n{r}/src/b.py"),
    ({"pattern": "alpha", "glob": "*.py"}, "Found 2 files\n{r}/a.py\n{r}/src/b.py"),
    ({"pattern": "alpha", "path": "src"}, "Found 1 files\n{r}/src/b.py"),
    ({"pattern": "alpha", "path": "a.py"}, "Found 1 files\n{r}/a.py"),
    (
        {"pattern": "alpha", "output_mode": "count", "-i": True},
        "Found 5 matching lines in 4 files\n{r}/.hidden/c.txt:1\n{r}/a.py:1\n{r}/notes.md:1\n{r}/src/b.py:2",
    ),
    (
        {"pattern": "^def ", "output_mode": "content", "path": "a.py"},
        "{r}/a.py:2:def alpha():\n{r}/a.py:6:def beta():",
    ),
    (
        {"pattern": "^def ", "output_mode": "content", "-A": 1, "glob": "*.py"},
        "{r}/a.py:2:def alpha():\n{r}/a.py-3-    return 1\n--\n{r}/a.py:6:def beta():\n{r}/a.py-7-    return 2",
    ),
    (
        {"pattern": "return", "output_mode": "content", "-C": 1, "-n": False, "glob": "*.py"},
        "{r}/a.py-def alpha():\n{r}/a.py:    return 1\n{r}/a.py-\n--\n{r}/a.py-def beta():\n{r}/a.py:    return 2",
    ),
    (
        {"pattern": "alpha", "output_mode": "content", "-i": True, "-B": 1, "path": "src"},
        "{r}/src/b.py:1:x = 'alpha'\n{r}/src/b.py:2:y = 'ALPHA'",
    ),
    (
        {"pattern": "alpha", "-i": True, "head_limit": 2},
        "Found 4 files\n{r}/.hidden/c.txt\n{r}/a.py\n[showing the first 2 of 4 entries]",
    ),
    ({"pattern": "zebra"}, "No matches found"),
]


@pytest.mark.parametrize("engine", ENGINES)
async def test_both_engines_give_the_same_output(backend: WorkspaceBackend, tree: Path, engine: Engine) -> None:
    parts = await grep(backend, engine, *(args for args, _ in CASES))
    assert [(part.outcome, part.content) for part in parts] == [
        ("success", expected.format(r=tree)) for _, expected in CASES
    ]


@pytest.mark.parametrize("engine", ENGINES)
async def test_bad_regex_is_a_retry(backend: WorkspaceBackend, tree: Path, engine: Engine) -> None:
    [part] = await grep(backend, engine, {"pattern": "(unclosed"})
    assert part.outcome == "retried"
    assert "Invalid regular expression '(unclosed'" in str(part.content)


@pytest.mark.parametrize("engine", ENGINES)
async def test_path_outside_the_workspace_is_refused(
    backend: WorkspaceBackend, tree: Path, tmp_path: Path, engine: Engine
) -> None:
    (tmp_path / "outside" / "s.txt").write_text("alpha")
    [part] = await grep(backend, engine, {"pattern": "alpha", "path": "../outside"})
    assert (part.outcome, part.content) == (
        "failed",
        f"path escapes the workspace: {tmp_path}/outside is outside {tree}",
    )


async def test_auto_engine_probes_once_per_workspace(backend: WorkspaceBackend, tree: Path) -> None:
    calls: list[object] = []
    original = backend.run  # type: ignore[attr-defined]

    async def counting_run(command: Any, **kwargs: Any) -> Any:
        calls.append(command)
        return await original(command, **kwargs)

    backend.run = counting_run  # type: ignore[attr-defined]
    parts = await grep(backend, "auto", {"pattern": "alpha"}, {"pattern": "beta"})
    assert [part.outcome for part in parts] == ["success", "success"]
    probes = [command for command in calls if isinstance(command, str) and command.startswith("command -v rg")]
    assert len(probes) == 1
    uses_rg = any(isinstance(command, list) and command[0] == "rg" for command in calls)
    assert uses_rg is (shutil.which("rg") is not None)
