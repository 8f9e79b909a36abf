"""`tau skills ls`: discovered skills with scope and flags, shadowed ones and warnings, as text and as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.skills_cmd import skills_group

MakeSkill = Callable[..., Path]


@pytest.fixture
def setup(home: Path, repo: Path, make_skill: MakeSkill, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(home))
    make_skill(repo / ".claude/skills", "review", "Review a diff.")
    make_skill(home / ".claude/skills", "review", "Personal review.")
    make_skill(home / ".agents/skills", "notes", "Take notes.")
    make_skill(repo / ".agents/skills", "broken", raw="---\nname: broken\n---\n")
    return repo


def test_ls_text(setup: Path, home: Path) -> None:
    result = CliRunner().invoke(skills_group, ["ls", "--cwd", str(setup)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"review  (project)  {setup / '.claude/skills/review/SKILL.md'}",
        "    Review a diff.",
        f"notes  (user, outside workspace)  {home / '.agents/skills/notes/SKILL.md'}",
        "    Take notes.",
        f"shadowed: review at {home / '.claude/skills/review/SKILL.md'} "
        f"(by {setup / '.claude/skills/review/SKILL.md'})",
        f"warning: skill {setup / '.agents/skills/broken/SKILL.md'} skipped: frontmatter has no 'description'",
    ]


def test_ls_json_reports_budget_omissions(setup: Path) -> None:
    result = CliRunner().invoke(skills_group, ["ls", "--cwd", str(setup), "--json", "--context-window", "2000"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(s["name"], s["scope"], s["in_listing"]) for s in data["skills"]] == [
        ("review", "project", False),
        ("notes", "user", False),
    ]
    assert data["listing_budget_chars"] == 160
    assert data["omitted"] == ["review", "notes"]
    assert data["warnings"][-1].startswith("2 skill(s) left out of the instructions (skill listing budget 160 chars)")
