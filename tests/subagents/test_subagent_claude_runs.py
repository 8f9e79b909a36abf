"""Claude Code agent files through the whole runtime (`prepare_run`, scripted model): a team agent in a subfolder
asking for LS, MultiEdit and tools tau lacks, with a preloaded skill — what its child gets, sees and does, and the
one notice the run starts with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec, TrustSpec
from tau.protocol import Event
from tau.runtime import prepare_run
from tau.testing import calls, reply, scripted_model
from tau.testing.scripted import Turn

pytestmark = pytest.mark.anyio

FIXER = """\
---
name: style-fixer
description: Use this agent to fix style issues in one file.\\n\\nExample: "fix the imports in app.py"
tools: Read, LS, MultiEdit, WebSearch, TodoWrite
skills: [house-style, no-such-skill]
---
You fix style issues exactly as the house style says.
"""

HOUSE_STYLE = """\
---
name: house-style
description: The team's Python style rules.
---
Imports are sorted; scripts live in ${CLAUDE_SKILL_ROOT}/scripts.
"""


def job(workspace: Path, home: Path, *, mode: str = "acceptEdits", trusted: bool = False) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="fix the style of app.py",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=PermissionsSpec(mode=mode),  # type: ignore[arg-type]
        home=str(home),
        trust=TrustSpec(root=str(workspace), trusted=trusted),
    )


async def run(spec: JobSpec, steps: list[Any]) -> tuple[list[Event], Any, Any]:
    model, script = scripted_model(steps)
    events: list[Event] = []
    driver = await prepare_run(spec, model=model, sinks=[events.append])
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return events, result, script


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / ".claude/agents/python").mkdir(parents=True)
    (repo / ".claude/agents/python/style-fixer.md").write_text(FIXER)
    (repo / ".claude/skills/house-style").mkdir(parents=True)
    (repo / ".claude/skills/house-style/SKILL.md").write_text(HOUSE_STYLE)
    (repo / "app.py").write_text("import sys\nimport os\n\nprint(os.sep, sys.argv)\n")
    return repo


async def test_a_team_agent_gets_ls_and_multi_edit_its_skill_and_the_run_says_what_it_lacks(
    project: Path, home: Path
) -> None:
    def child_first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert sorted(tool.name for tool in info.function_tools) == ["ls", "multi_edit", "read"]
        assert info.instructions is not None
        assert "You fix style issues exactly as the house style says." in info.instructions
        assert (
            '<skill name="house-style" directory=".claude/skills/house-style">\n'
            "Imports are sorted; scripts live in .claude/skills/house-style/scripts.\n</skill>"
        ) in info.instructions
        return calls(
            ("ls", {"path": "."}),
            (
                "multi_edit",
                {
                    "file_path": "app.py",
                    "edits": [
                        {"old_string": "import sys\nimport os\n", "new_string": "import os\nimport sys\n"},
                        {"old_string": "print(os.sep, sys.argv)", "new_string": "print(os.sep, sys.argv[1:])"},
                    ],
                },
            ),
        )

    def parent_sees_the_agent(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        [task] = [tool for tool in info.function_tools if tool.name == "task"]
        assert (
            '- style-fixer: Use this agent to fix style issues in one file.\n\n  Example: "fix the imports in app.py"'
        ) in (task.description or "")
        return calls(("task", {"description": "fix style", "prompt": "Fix app.py.", "subagent_type": "style-fixer"}))

    events, result, script = await run(
        job(project, project.parent / "home"),
        [parent_sees_the_agent, child_first, reply("Sorted the imports of app.py."), reply("Done.")],
    )

    assert (result.exit_code, result.result) == (0, "Done.")
    assert (project / "app.py").read_text() == "import os\nimport sys\n\nprint(os.sep, sys.argv[1:])\n"
    listed, edited = returns(script.requests[2])
    assert (listed.tool_name, listed.outcome) == ("ls", "success")
    assert "- app.py" in str(listed.content)
    assert (edited.tool_name, edited.outcome) == ("multi_edit", "success")
    notices = [e.message for e in events if e.type == "notice.emitted"]
    assert events[0].type == "session.started"
    assert (
        "subagent tools not available, not granted: style-fixer asks for WebSearch (no web tools in tau), TodoWrite "
        "(no such tool in tau); it runs with ls, multi_edit, read (an MCP server can provide web fetching or "
        "search: its tools are mcp__<server>__<tool>)"
    ) in notices
    assert "agent style-fixer: skill 'no-such-skill' is not preloaded: no such skill was found" in notices


async def test_multi_edit_in_a_child_asks_like_edit_and_is_denied_headless(project: Path, home: Path) -> None:
    edit = {"file_path": "app.py", "edits": [{"old_string": "import sys", "new_string": "import re"}]}
    _, result, script = await run(
        job(project, home, mode="default"),
        [
            calls(("task", {"description": "fix", "prompt": "Fix app.py.", "subagent_type": "style-fixer"})),
            calls(("multi_edit", edit)),
            reply("Could not edit."),
            reply("The fixer was not allowed to edit."),
        ],
    )
    assert result.exit_code == 0
    [denied] = returns(script.requests[2])
    assert denied.outcome == "denied"
    assert "multi_edit of" in str(denied.content) and "needs approval in default mode" in str(denied.content)
    assert (project / "app.py").read_text().startswith("import sys\n")


async def test_a_child_gets_no_tool_the_parent_lacks_even_under_another_name(project: Path, home: Path) -> None:
    spec = job(project, home).model_copy(update={"tools": ("glob", "grep")})

    def child(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert [tool.name for tool in info.function_tools] == []  # no read, so no ls; no edit, so no multi_edit
        return reply("I have no tools.")

    events, result, _ = await run(
        spec,
        [
            calls(("task", {"description": "fix", "prompt": "Fix app.py.", "subagent_type": "style-fixer"})),
            child,
            reply("ok"),
        ],
    )
    assert result.exit_code == 0
    notices = [e.message for e in events if e.type == "notice.emitted"]
    assert any(
        "style-fixer asks for WebSearch (no web tools in tau), TodoWrite (no such tool in tau), read (not in this "
        "run), ls (not in this run), multi_edit (not in this run); it runs with no tools at all" in notice
        for notice in notices
    )
