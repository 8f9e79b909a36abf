"""The `memory` tool through a real pydantic-ai Agent with a scripted model over a HostBackend; the index loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.environment import HostBackend
from tau.memory import (
    BootstrapMemory,
    LoadedFile,
    load_memory_index,
    memory_instructions,
    memory_toolset,
    render_working_memory,
)
from tau.testing.scripted import calls, reply, scripted_model

pytestmark = pytest.mark.anyio


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("secret\n")
    return root


async def run_memory(ws: Path, *steps: list[dict[str, Any]]) -> list[list[ToolReturnPart]]:
    """Each step is one model turn of `memory` calls; returns, per turn, the tool results the model received."""
    model, script = scripted_model([calls(*(("memory", args) for args in step)) for step in steps] + [reply("done")])
    agent = Agent(model, toolsets=[memory_toolset()])
    result = await agent.run("go", workspace=HostBackend(ws))
    assert result.output == "done"
    received = []
    for request in script.requests[1:]:
        last = request[-1]
        assert isinstance(last, ModelRequest)
        received.append([part for part in last.parts if isinstance(part, ToolReturnPart)])
    return received


def contents(turns: list[list[ToolReturnPart]]) -> list[tuple[str, str]]:
    return [(part.outcome, str(part.content)) for turn in turns for part in turn]


async def test_create_view_edit_insert_rename_delete(ws: Path) -> None:
    turns = await run_memory(
        ws,
        [{"command": "create", "path": "notes.md", "file_text": "# Notes\n- step 1 done\n"}],
        [{"command": "str_replace", "path": "notes.md", "old_str": "step 1 done", "new_str": "step 1 DONE"}],
        [{"command": "insert", "path": "/memories/notes.md", "insert_line": 1, "insert_text": "- decided: sqlite"}],
        [{"command": "view", "path": ".tau/memory/notes.md"}],
        [{"command": "view", "path": "notes.md", "view_range": [2, -1]}],
        [{"command": "rename", "old_path": "notes.md", "new_path": "archive/notes.md"}],
        [{"command": "create", "path": "INDEX.md", "file_text": "- archive/notes.md: progress\n"}],
        [{"command": "view", "path": "/"}],
        [{"command": "delete", "path": "archive"}],
        [{"command": "view"}],
    )
    assert contents(turns) == [
        ("success", "File created: notes.md"),
        ("success", "The memory file notes.md has been edited."),
        ("success", "The text has been inserted after line 1 of notes.md."),
        (
            "success",
            "Here's the content of notes.md with line numbers:\n"
            "     1\t# Notes\n     2\t- decided: sqlite\n     3\t- step 1 DONE",
        ),
        (
            "success",
            "Here's the content of notes.md with line numbers:\n     2\t- decided: sqlite\n     3\t- step 1 DONE",
        ),
        ("success", "Renamed notes.md to archive/notes.md."),
        ("success", "File created: INDEX.md"),
        (
            "success",
            "Files and directories up to 2 levels deep in / (memory directory .tau/memory):\n"
            "29B\tINDEX.md\ndir\tarchive\n40B\tarchive/notes.md",
        ),
        ("success", "Deleted archive."),
        ("success", "Files and directories up to 2 levels deep in / (memory directory .tau/memory):\n29B\tINDEX.md"),
    ]
    assert sorted(p.name for p in (ws / ".tau/memory").iterdir()) == ["INDEX.md"]


async def test_view_of_an_empty_memory_is_not_an_error(ws: Path) -> None:
    assert contents(await run_memory(ws, [{"command": "view", "path": "/"}])) == [
        ("success", "The memory directory (.tau/memory) is empty.")
    ]


@pytest.mark.parametrize(
    "args",
    [
        {"command": "view", "path": "../../outside.txt"},
        {"command": "view", "path": "../src/main.py"},
        {"command": "create", "path": "/etc/passwd", "file_text": "x"},
        {"command": "create", "path": "/memories/../../x.md", "file_text": "x"},
        {"command": "rename", "old_path": "a.md", "new_path": "../../a.md"},
        {"command": "delete", "path": ".tau/memory/../../AGENTS.md"},
    ],
)
async def test_paths_outside_the_memory_dir_are_refused(ws: Path, args: dict[str, Any]) -> None:
    (ws / "AGENTS.md").write_text("keep\n")
    [(outcome, message)] = contents(await run_memory(ws, [args]))
    assert outcome == "failed"
    assert "is outside the memory directory (.tau/memory)" in message
    assert (ws / "AGENTS.md").read_text() == "keep\n"
    assert not (ws.parent / "x.md").exists()


async def test_symlink_out_of_the_memory_dir_is_refused(ws: Path) -> None:
    (ws / ".tau/memory").mkdir(parents=True)
    (ws / "src.py").write_text("code\n")
    (ws / ".tau/memory/link.md").symlink_to(ws / "src.py")
    (ws / ".tau/memory/out").symlink_to(ws.parent)
    turns = await run_memory(
        ws,
        [{"command": "create", "path": "link.md", "file_text": "overwritten"}],
        [{"command": "view", "path": "out/outside.txt"}],
    )
    assert contents(turns) == [
        ("failed", "Refused: link.md leads outside the memory directory (.tau/memory) via a symlink."),
        ("failed", "Refused: out/outside.txt leads outside the memory directory (.tau/memory) via a symlink."),
    ]
    assert (ws / "src.py").read_text() == "code\n"


async def test_errors_the_model_can_fix(ws: Path) -> None:
    (ws / ".tau/memory").mkdir(parents=True)
    (ws / ".tau/memory/a.md").write_text("x\nx\n")
    (ws / ".tau/memory/b.md").write_text("b\n")
    turns = await run_memory(
        ws,
        [{"command": "view", "path": "missing.md"}],
        [{"command": "str_replace", "path": "a.md", "old_str": "x", "new_str": "y"}],
        [{"command": "str_replace", "path": "a.md", "old_str": "zzz", "new_str": "y"}],
        [{"command": "insert", "path": "a.md", "insert_line": 9, "insert_text": "y"}],
        [{"command": "rename", "old_path": "a.md", "new_path": "b.md"}],
        [{"command": "delete", "path": "/"}],
        [{"command": "create", "path": "c.md"}],
    )
    assert contents(turns) == [
        ("failed", "The path missing.md does not exist in memory."),
        ("failed", "No replacement was performed: old_str appears 2 times in a.md (lines 1, 2)."),
        ("failed", "No replacement was performed: old_str did not appear verbatim in a.md."),
        ("failed", "Invalid insert_line 9: it must be between 0 and 2 for a.md."),
        ("failed", "Cannot rename to b.md: it already exists."),
        ("failed", "This operation needs a path inside the memory directory, not the directory itself."),
        ("retried", "memory command 'create' requires: file_text."),
    ]
    assert (ws / ".tau/memory/a.md").read_text() == "x\nx\n"


async def test_index_is_loaded_and_rendered(ws: Path) -> None:
    backend = HostBackend(ws)
    assert await load_memory_index(backend) is None
    (ws / ".tau/memory").mkdir(parents=True)
    (ws / ".tau/memory/INDEX.md").write_text("- progress.md: what is done\n")
    index = await load_memory_index(backend)
    assert index == "- progress.md: what is done"
    rendered = render_working_memory(index)
    assert rendered.endswith(
        '<working-memory index=".tau/memory/INDEX.md">\n- progress.md: what is done\n</working-memory>'
    )
    assert "the `memory` tool over .tau/memory/" in rendered
    (ws / ".tau/memory/INDEX.md").write_text("".join(f"line {i}\n" for i in range(300)))
    long_index = await load_memory_index(backend)
    assert long_index is not None
    assert long_index.splitlines()[-2:] == ["line 199", "[index truncated after 200 lines; view INDEX.md for the rest]"]


async def test_index_symlinked_out_of_memory_is_ignored(ws: Path) -> None:
    (ws / ".tau/memory").mkdir(parents=True)
    (ws / "README.md").write_text("not memory\n")
    (ws / ".tau/memory/INDEX.md").symlink_to(ws / "README.md")
    assert await load_memory_index(HostBackend(ws)) is None


async def test_compiled_memory_reaches_the_model(ws: Path) -> None:
    """Bootstrap sections and the working-memory index arrive in the instructions the model is sent."""
    (ws / ".tau/memory").mkdir(parents=True)
    (ws / ".tau/memory/INDEX.md").write_text("- todo.md: remaining work\n")
    bootstrap = BootstrapMemory(
        files=[LoadedFile(str(ws / "AGENTS.md"), "project", 12, 12, text="Use pytest.\n")],
        warnings=[],
        project_root=str(ws),
    )
    index = await load_memory_index(HostBackend(ws))
    instructions = memory_instructions(bootstrap, index)
    model, script = scripted_model([reply("ok")])
    agent = Agent(model, instructions=instructions, toolsets=[memory_toolset()])
    await agent.run("go", workspace=HostBackend(ws))
    [first] = script.requests[0]
    assert isinstance(first, ModelRequest)
    assert first.instructions == instructions
    assert f'<memory source="{ws / "AGENTS.md"}">\nUse pytest.\n</memory>' in instructions
    assert "- todo.md: remaining work\n</working-memory>" in instructions
    assert [tool.name for tool in script.infos[0].function_tools] == ["memory"]
