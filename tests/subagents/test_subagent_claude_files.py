"""Agent files as Claude Code users have them: folders of agents, names from file stems, generated descriptions with a
literal `\\n`, `tools:` naming tools tau lacks (kept out, reported), and what `tau agents ls` says about them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.agents_cmd import agents_group
from tau.runtime.features.agent_defs import MAX_AGENT_DEPTH, Shadowed, discover_agents, parse_agent_md

WriteAgent = Callable[..., Path]

# The shape Claude Code's `/agents` command writes: one long plain-scalar description with literal \n escapes.
GENERATED = (
    "---\n"
    "name: test-runner\n"
    r"description: Use this agent when tests need running after a change.\n\n<example>\nContext: the user changed a "
    r'parser.\nuser: "I updated parse.py"\nassistant: "I' + "'" + r'll use the test-runner agent to run the suite."'
    r"\n</example>"
    "\n"
    "tools: Bash, Read, Grep, Glob, LS, MultiEdit, WebSearch, WebFetch, TodoWrite, NotebookEdit\n"
    "model: inherit\n"
    "color: green\n"
    "---\n"
    "You run the project's tests and report failures with file and line.\n"
)


def test_a_generated_description_has_its_line_breaks() -> None:
    definition, warnings = parse_agent_md(GENERATED, path="/r/.claude/agents/test-runner.md")
    assert definition.description == (
        "Use this agent when tests need running after a change.\n\n<example>\nContext: the user changed a parser.\n"
        'user: "I updated parse.py"\nassistant: "I\'ll use the test-runner agent to run the suite."\n</example>'
    )
    assert "\\n" not in definition.description
    assert warnings == []


def test_tools_tau_lacks_are_kept_out_and_recorded() -> None:
    definition, _ = parse_agent_md(GENERATED)
    assert definition.tools == ("bash", "read", "grep", "glob", "ls", "multi_edit")
    assert definition.missing_tools == ("WebSearch", "WebFetch", "TodoWrite", "NotebookEdit")


def test_frontmatter_yaml_rejects_still_gives_lists() -> None:
    text = (
        "---\nname: a\ndescription: Use when: tests fail. Example: ok\ntools: [Read, LS]\nskills:\n  - one\n"
        "  - 'two'\nmodel:\n---\nbody"
    )
    definition, _ = parse_agent_md(text)
    assert (definition.tools, definition.skills, definition.model) == (("read", "ls"), ("one", "two"), None)


def test_star_tools_inherit_everything() -> None:
    definition, _ = parse_agent_md('---\nname: all\ndescription: d\ntools: "*"\n---\n')
    assert (definition.tools, definition.missing_tools) == (None, ())


def test_the_file_stem_names_an_agent_without_a_name() -> None:
    definition, _ = parse_agent_md("---\ndescription: Reviews.\n---\nReview.", path="/r/agents/code-reviewer.md")
    assert definition.name == "code-reviewer"
    explicit, _ = parse_agent_md("---\nname: reviewer\ndescription: d\n---\n", path="/r/agents/other.md")
    assert explicit.name == "reviewer"


def test_a_bad_stem_without_a_name_is_skipped_with_the_reason(repo: Path, home: Path) -> None:
    agents = repo / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "Code Reviewer.md").write_text("---\ndescription: d\n---\n")
    catalog = discover_agents(str(repo), home=str(home), project_root=str(repo))
    assert catalog.definitions == ()
    assert catalog.warnings == (
        f"{agents / 'Code Reviewer.md'}: skipped: frontmatter has no 'name' and the file name 'Code Reviewer' is not "
        "a valid name",
    )


def test_agents_in_subfolders_are_found_and_the_shallowest_duplicate_wins(
    repo: Path, home: Path, write_agent: WriteAgent
) -> None:
    agents = repo / ".claude" / "agents"
    write_agent(agents / "backend", "api-designer", body="backend")
    write_agent(agents / "backend" / "db", "migrator", body="deep")
    write_agent(agents / "frontend", "reviewer", body="frontend reviewer")
    write_agent(agents, "reviewer", body="top-level reviewer")
    write_agent(agents / "a-team", "tester", body="a-team tester")
    write_agent(agents / "z-team", "tester", body="z-team tester")
    write_agent(agents / ".archive", "old", body="hidden folder")
    write_agent(agents / "node" / ".cache", "cached", body="hidden below")

    catalog = discover_agents(str(repo), home=str(home), project_root=str(repo))

    assert [(d.name, d.prompt) for d in catalog.definitions] == [
        ("reviewer", "top-level reviewer"),
        ("tester", "a-team tester"),
        ("api-designer", "backend"),
        ("migrator", "deep"),
    ]
    assert catalog.shadowed == (
        Shadowed("reviewer", str(agents / "frontend/reviewer.md"), str(agents / "reviewer.md")),
        Shadowed("tester", str(agents / "z-team/tester.md"), str(agents / "a-team/tester.md")),
    )


def test_subfolder_depth_is_bounded_and_folder_links_are_not_followed(
    repo: Path, home: Path, tmp_path: Path, write_agent: WriteAgent
) -> None:
    agents = repo / ".claude" / "agents"
    deep = agents.joinpath(*[f"d{i}" for i in range(MAX_AGENT_DEPTH + 1)])
    write_agent(deep, "too-deep")
    write_agent(agents.joinpath(*[f"d{i}" for i in range(MAX_AGENT_DEPTH)]), "deep-enough")
    (agents / "loop").symlink_to(agents)  # a folder link: never followed (no loop, no second copy)
    write_agent(tmp_path / "elsewhere", "linked")
    (agents / "shared").symlink_to(tmp_path / "elsewhere")
    names = [d.name for d in discover_agents(str(repo), home=str(home), project_root=str(repo)).definitions]
    assert names == ["deep-enough"]


def test_an_untrusted_repository_cannot_link_an_agent_file_from_outside(
    repo: Path, home: Path, tmp_path: Path, write_agent: WriteAgent
) -> None:
    outside = write_agent(tmp_path / "private", "notes", body="private notes")
    agents = repo / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "notes.md").symlink_to(outside)
    confined = discover_agents(str(repo), home=str(home), project_root=str(repo), confined=True)
    assert confined.definitions == ()
    assert confined.warnings == (
        f"{agents / 'notes.md'}: skipped: it leads outside the project (to {os.path.realpath(outside)})",
    )
    trusted = discover_agents(str(repo), home=str(home), project_root=str(repo))
    assert [d.prompt for d in trusted.definitions] == ["private notes"]


@pytest.fixture
def listed(repo: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    team = repo / ".claude" / "agents" / "qa"
    team.mkdir(parents=True)
    (team / "test-runner.md").write_text(GENERATED.replace("color: green\n", "skills: [pytest-conventions]\n"))
    return repo


def test_agents_ls_reports_missing_tools_and_multi_line_descriptions(listed: Path) -> None:
    text = CliRunner().invoke(agents_group, ["ls", "--cwd", str(listed)])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == f"test-runner  (project)  {listed / '.claude/agents/qa/test-runner.md'}"
    assert lines[1:4] == ["    Use this agent when tests need running after a change.", "", "    <example>"]
    assert "    tools: bash, read, grep, glob, ls, multi_edit" in lines
    assert "    missing tool: WebSearch (no web tools in tau); not granted" in lines
    assert "    missing tool: NotebookEdit (no such tool in tau); not granted" in lines
    assert "    skills (preloaded): pytest-conventions" in lines

    payload = json.loads(CliRunner().invoke(agents_group, ["ls", "--cwd", str(listed), "--json"]).output)
    [agent] = payload["agents"]
    assert agent["missing_tools"] == ["WebSearch", "WebFetch", "TodoWrite", "NotebookEdit"]
    assert agent["description"].startswith("Use this agent when tests need running after a change.\n\n<example>")
