"""Subagent definition files: parsing (fields, tool-name forms, models, modes), malformed files skipped with a
warning, discovery over `.tau/agents` and `.claude/agents` (project, nearest first) then user-level directories,
and `tau agents ls`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.agents_cmd import agents_group
from tau.runtime.features.agent_defs import (
    AgentDefinition,
    AgentDefinitionError,
    Shadowed,
    agent_dirs,
    discover_agents,
    parse_agent_md,
)

WriteAgent = Callable[..., Path]  # the `write_agent` fixture (conftest.py)

REVIEWER = """\
---
name: code-reviewer
description: Review diffs for bugs and security. Use proactively after code changes.
tools: Read, Grep, Glob, Bash
disallowedTools: Write, Edit, Bash(rm:*)
model: sonnet
permissionMode: plan
maxTurns: 20
skills: [security-checklist]
color: cyan
---
You are a careful reviewer.

Report findings by severity.
"""


def test_a_claude_code_definition_parses_into_tau_names() -> None:
    definition, warnings = parse_agent_md(
        REVIEWER, path="/p/code-reviewer.md", model_aliases={"sonnet": "anthropic:claude-sonnet-4-5"}
    )
    assert definition == AgentDefinition(
        name="code-reviewer",
        description="Review diffs for bugs and security. Use proactively after code changes.",
        prompt="You are a careful reviewer.\n\nReport findings by severity.",
        path="/p/code-reviewer.md",
        scope="project",
        tools=("read", "grep", "glob", "bash"),
        disallowed_tools=("write", "edit"),
        deny_rules=("Bash(rm:*)",),
        model="anthropic:claude-sonnet-4-5",
        max_turns=20,
        permission_mode="plan",
        skills=("security-checklist",),
    )
    assert warnings == []


def test_tools_as_a_list_in_tau_names_and_agent_types() -> None:
    text = (
        "---\nname: lead\ndescription: d\ntools:\n  - read\n  - Agent(code-reviewer, tester)\n  - Bash(git:*)\n"
        "  - mcp__github__search\n---\nbody"
    )
    definition, warnings = parse_agent_md(text)
    assert definition.tools == ("read", "task", "mcp__github__search")
    assert definition.spawnable == ("code-reviewer", "tester")
    assert warnings == ["tools: 'Bash(git:*)' cannot be enforced as an allowlist entry; not granted"]


def test_omitted_tools_inherit_and_an_empty_list_grants_none() -> None:
    inherit, _ = parse_agent_md("---\nname: a\ndescription: d\n---\n")
    none, _ = parse_agent_md("---\nname: a\ndescription: d\ntools: []\n---\n")
    assert (inherit.tools, inherit.spawnable) == (None, None)
    assert none.tools == ()


@pytest.mark.parametrize(
    ("model", "expected", "warned"),
    [
        ("inherit", None, False),
        ("openai:gpt-5", "openai:gpt-5", False),
        ("claude-sonnet-4-5", "anthropic:claude-sonnet-4-5", False),
        ("opus", None, True),
        ("gpt-5", None, True),
    ],
)
def test_model_forms(model: str, expected: str | None, warned: bool) -> None:
    definition, warnings = parse_agent_md(f"---\nname: a\ndescription: d\nmodel: {model}\n---\n")
    assert definition.model == expected
    assert bool(warnings) is warned


def test_bad_optional_fields_are_dropped_with_warnings() -> None:
    text = "---\nname: a\ndescription: d\nmaxTurns: -3\npermissionMode: yolo\nhooks: {}\n---\n"
    definition, warnings = parse_agent_md(text)
    assert (definition.max_turns, definition.permission_mode) == (None, None)
    assert warnings == [
        "hooks: not supported by tau; ignored",
        "maxTurns: -3 is not a positive integer; ignored",
        "permissionMode: 'yolo' is not one of default, acceptEdits, dontAsk, bypassPermissions, plan; ignored",
    ]


def test_unquoted_colons_in_a_description_still_parse() -> None:
    text = "---\nname: helper\ndescription: Use when: the user asks. Example: fix it\ntools: Read\n---\nbody"
    definition, _ = parse_agent_md(text)
    assert definition.description == "Use when: the user asks. Example: fix it"
    assert definition.tools == ("read",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter at all", "no frontmatter"),
        ("---\ndescription: d\n---\n", "frontmatter has no 'name'"),
        ("---\nname: Code_Reviewer\ndescription: d\n---\n", "must be lowercase"),
        ("---\nname: a\n---\n", "has no 'description'"),
        ("---\n- a\n- b\n---\n", "must be a YAML mapping"),
    ],
)
def test_malformed_definitions_raise(text: str, message: str) -> None:
    with pytest.raises(AgentDefinitionError, match=message):
        parse_agent_md(text)


def test_discovery_precedence_and_malformed_files_skipped(
    repo: Path, home: Path, write_agent: WriteAgent, tmp_path: Path
) -> None:
    sub = repo / "pkg"
    write_agent(sub / ".claude" / "agents", "reviewer", body="nearest claude")
    write_agent(repo / ".tau" / "agents", "reviewer", body="root tau")
    write_agent(repo / ".tau" / "agents", "tester", body="root tau tester")
    write_agent(repo / ".claude" / "agents", "tester", body="root claude tester")
    write_agent(repo / ".claude" / "agents", "broken", raw="---\nname: broken\n---\n")
    write_agent(home / ".claude" / "agents", "tester", body="user tester")
    write_agent(home / ".claude" / "agents", "planner", body="user planner")
    write_agent(tmp_path / "xdg" / "tau" / "agents", "planner", body="xdg planner")
    (repo / ".claude" / "agents" / "notes.txt").write_text("not an agent")

    catalog = discover_agents(str(sub), home=str(home), project_root=str(repo), config_home=str(tmp_path / "xdg"))

    assert [(d.name, d.prompt, d.scope) for d in catalog.definitions] == [
        ("reviewer", "nearest claude", "project"),
        ("tester", "root tau tester", "project"),
        ("planner", "xdg planner", "user"),
    ]
    assert catalog.shadowed == (
        Shadowed("reviewer", str(repo / ".tau/agents/reviewer.md"), str(sub / ".claude/agents/reviewer.md")),
        Shadowed("tester", str(repo / ".claude/agents/tester.md"), str(repo / ".tau/agents/tester.md")),
        Shadowed("planner", str(home / ".claude/agents/planner.md"), str(tmp_path / "xdg/tau/agents/planner.md")),
        Shadowed("tester", str(home / ".claude/agents/tester.md"), str(repo / ".tau/agents/tester.md")),
    )
    assert catalog.warnings == (
        f"{repo / '.claude/agents/broken.md'}: skipped: agent 'broken': frontmatter has no 'description'",
    )


def test_agent_dirs_stop_at_the_project_root(repo: Path, home: Path) -> None:
    dirs = agent_dirs(str(repo / "a"), home=str(home), project_root=str(repo))
    assert dirs == [
        (str(repo / "a/.tau/agents"), "project"),
        (str(repo / "a/.claude/agents"), "project"),
        (str(repo / ".tau/agents"), "project"),
        (str(repo / ".claude/agents"), "project"),
        (str(home / ".config/tau/agents"), "user"),
        (str(home / ".claude/agents"), "user"),
    ]


def test_agents_ls_json_and_text(
    repo: Path, home: Path, write_agent: WriteAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (repo / ".claude" / "agents").mkdir(parents=True)
    (repo / ".claude" / "agents" / "code-reviewer.md").write_text(REVIEWER)
    write_agent(home / ".claude" / "agents", "helper", "tools: Read\n", "help")
    write_agent(repo / ".tau" / "agents", "bad", raw="nothing")

    result = CliRunner().invoke(agents_group, ["ls", "--cwd", str(repo), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [(a["name"], a["scope"], a["tools"]) for a in payload["agents"]] == [
        ("code-reviewer", "project", ["read", "grep", "glob", "bash"]),
        ("helper", "user", ["read"]),
    ]
    assert payload["agents"][0]["deny_rules"] == ["Bash(rm:*)"]
    assert payload["shadowed"] == []
    assert len(payload["warnings"]) == 2  # the unmapped `sonnet` alias, the file without frontmatter
    assert any("bad.md: skipped: no frontmatter" in w for w in payload["warnings"])

    text = CliRunner().invoke(agents_group, ["ls", "--cwd", str(repo)])
    assert text.exit_code == 0
    assert "code-reviewer  (project)" in text.output
    assert "    tools: read, grep, glob, bash" in text.output
    assert "    disallowed: write, edit, Bash(rm:*)" in text.output
    assert "helper  (user)" in text.output
