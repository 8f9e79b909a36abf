"""The `skill` tool driven by a scripted model: level 2 (body + files), level 3 via tau's `read`, outside skills."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo

from tau.environment import HostBackend
from tau.skills import SkillCatalog, discover_skills, skills_toolset
from tau.testing.scripted import Turn, calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio

MakeSkill = Callable[..., Path]


def returns(messages: list[ModelMessage]) -> list[tuple[str, str, str]]:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [(p.tool_name, p.outcome, str(p.content)) for p in last.parts if isinstance(p, ToolReturnPart)]


async def run(ws: Path, catalog: SkillCatalog, steps: list[Any]) -> list[list[ModelMessage]]:
    listing, _ = catalog.render_listing(8000)
    model, script = scripted_model(steps)
    agent = Agent(
        model,
        instructions=listing or None,
        toolsets=[build_toolset(["read"], limits=ToolLimits()), skills_toolset(catalog)],
    )
    result = await agent.run("fill the form", workspace=HostBackend(ws))
    assert result.output == "done"
    return script.requests


async def test_model_loads_a_skill_then_reads_its_resource(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    directory = make_skill(
        repo / ".claude/skills",
        "pdf-forms",
        "Fill PDF forms. Use for any PDF form.",
        "# PDF forms\nRead ${CLAUDE_SKILL_DIR}/references/fields.md first.\n",
    )
    (directory / "references").mkdir()
    (directory / "references/fields.md").write_text("Field names are case-sensitive.\n")
    (directory / "scripts").mkdir()
    (directory / "scripts/fill.py").write_text("print('fill')\n")
    (directory / ".hidden").write_text("x")
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))

    def load_when_listed(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        first = messages[0]
        assert isinstance(first, ModelRequest) and first.instructions is not None
        assert "- pdf-forms: Fill PDF forms. Use for any PDF form.\n</skills>" in first.instructions
        assert sorted(tool.name for tool in info.function_tools) == ["read", "skill"]
        return calls(("skill", {"name": "pdf-forms"}))

    requests = await run(
        repo,
        catalog,
        [
            load_when_listed,
            calls(("read", {"file_path": ".claude/skills/pdf-forms/references/fields.md"})),
            reply("done"),
        ],
    )
    assert returns(requests[1]) == [
        (
            "skill",
            "success",
            '<skill name="pdf-forms" directory=".claude/skills/pdf-forms">\n'
            "# PDF forms\nRead .claude/skills/pdf-forms/references/fields.md first.\n</skill>\n\n"
            "The skill's directory is .claude/skills/pdf-forms (relative to the workspace).\n\n"
            "Its other files; read them with the read tool when the instructions call for them:\n"
            "- .claude/skills/pdf-forms/references/fields.md\n"
            "- .claude/skills/pdf-forms/scripts/fill.py",
        )
    ]
    assert returns(requests[2]) == [("read", "success", "     1\tField names are case-sensitive.")]


async def test_skill_outside_the_workspace_is_read_through_the_skill_tool(
    home: Path, repo: Path, make_skill: MakeSkill
) -> None:
    directory = make_skill(home / ".claude/skills", "standup", "Write a standup note.", "See references/format.md\n")
    (directory / "references").mkdir()
    (directory / "references/format.md").write_text("Yesterday / Today / Blockers\n")
    (home / "secret.txt").write_text("secret\n")
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    requests = await run(
        repo,
        catalog,
        [
            calls(("skill", {"name": "standup"})),
            calls(
                ("read", {"file_path": str(directory / "references/format.md")}),
                ("skill", {"name": "standup", "file": "references/format.md"}),
                ("skill", {"name": "standup", "file": "../../secret.txt"}),
                ("skill", {"name": "standup", "file": str(home / "secret.txt")}),
            ),
            reply("done"),
        ],
    )
    [(_, outcome, loaded)] = returns(requests[1])
    assert outcome == "success"
    assert loaded == (
        f'<skill name="standup" directory="{directory}">\nSee references/format.md\n</skill>\n\n'
        f"This skill is installed outside the workspace, at {directory}; the read tool cannot reach it. "
        'Read its files with skill(name="standup", file="<path relative to the skill directory>").\n\n'
        "Its other files:\n- references/format.md"
    )
    [read_result, via_skill, escape, absolute] = returns(requests[2])
    assert read_result[:2] == ("read", "failed")
    assert "escapes the workspace" in read_result[2]
    assert via_skill == ("skill", "success", "Yesterday / Today / Blockers\n")
    assert escape == (
        "skill",
        "failed",
        "file must be a path relative to the skill's directory, inside it (got '../../secret.txt').",
    )
    assert absolute[1] == "failed"


async def test_symlink_out_of_a_workspace_skill_is_refused(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    directory = make_skill(repo / ".claude/skills", "linky")
    (repo / "private.txt").write_text("private\n")
    (directory / "leak.txt").symlink_to(repo / "private.txt")
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    requests = await run(repo, catalog, [calls(("skill", {"name": "linky", "file": "leak.txt"})), reply("done")])
    assert returns(requests[1]) == [
        ("skill", "failed", "Refused: .claude/skills/linky/leak.txt leads outside the skill's directory.")
    ]


async def test_unknown_and_disabled_skills_fail_with_the_available_names(
    home: Path, repo: Path, make_skill: MakeSkill
) -> None:
    make_skill(repo / ".claude/skills", "alpha")
    make_skill(
        repo / ".claude/skills", "manual", raw="---\nname: manual\ndescription: m\ndisable-model-invocation: yes\n---\n"
    )
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    requests = await run(
        repo, catalog, [calls(("skill", {"name": "nope"}), ("skill", {"name": "manual"})), reply("done")]
    )
    assert returns(requests[1]) == [
        ("skill", "failed", "No skill named 'nope'. Available skills: alpha."),
        ("skill", "failed", "No skill named 'manual'. Available skills: alpha."),
    ]


async def test_no_skills_means_no_tool_and_no_listing(home: Path, repo: Path) -> None:
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    assert catalog.render_listing(8000) == ("", [])
    model, script = scripted_model([reply("done")])
    agent = Agent(model, toolsets=[skills_toolset(catalog)])
    await agent.run("go", workspace=HostBackend(repo))
    assert script.infos[0].function_tools == []
