"""Claude Code's SKILL.md extras: `argument-hint` (model listing and `tau skills ls`), `context: fork` + `agent`,
`allowed-tools` with rule specifiers, `${CLAUDE_SKILL_ROOT}` / `$ARGUMENTS` in the body, literal `\\n` in
descriptions; user libraries only under a real home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.skills_cmd import skills_group
from tau.skills import discover_skills, parse_skill_md, render_body

MakeSkill = Callable[..., Path]

# Shaped like the skills in public Claude Code skill bundles (a review skill that forks into a read-only agent).
PR_REVIEW = """\
---
name: pr-review
description: Review the current branch's diff.\\nUse when the user asks for a review: "review my changes".
argument-hint: "[base-branch] [focus]"
context: fork
agent: Explore
allowed-tools: Bash(git diff:*), Bash(git log:*) Read Grep
---
Review the diff against $ARGUMENTS.

Checklist: ${CLAUDE_SKILL_ROOT}/checklist.md (also ${CLAUDE_SKILL_DIR}/checklist.md).
"""


def test_claude_code_extras_parse() -> None:
    meta, _, warnings = parse_skill_md(PR_REVIEW, directory_name="pr-review")
    assert meta.description == (
        'Review the current branch\'s diff. Use when the user asks for a review: "review my changes".'
    )
    assert (meta.argument_hint, meta.fork, meta.agent) == ("[base-branch] [focus]", True, "Explore")
    assert meta.allowed_tools == ("Bash(git diff:*)", "Bash(git log:*)", "Read", "Grep")
    assert warnings == []


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("argument-hint: [message]", "[message]"),
        ("argument-hint: [pr-number] [priority] [assignee]", "[pr-number] [priority] [assignee]"),
        ("argument-hint: <file> [--fix]", "<file> [--fix]"),
        ("argument-hint: '[a] [b]'", "[a] [b]"),
    ],
)
def test_argument_hints_as_published_skills_write_them(line: str, hint: str) -> None:
    meta, _, warnings = parse_skill_md(f"---\nname: a\ndescription: Commit: with a message.\n{line}\n---\nbody")
    assert (meta.argument_hint, meta.description, warnings) == (hint, "Commit: with a message.", [])


@pytest.mark.parametrize(
    ("value", "fork", "warned"), [("fork", True, False), ("inline", False, False), ("x", False, True)]
)
def test_context_values(value: str, fork: bool, warned: bool) -> None:
    meta, _, warnings = parse_skill_md(f"---\nname: a\ndescription: d\ncontext: {value}\n---\n")
    assert meta.fork is fork
    assert bool(warnings) is warned


def test_the_listing_shows_the_argument_hint(repo: Path, home: Path, make_skill: MakeSkill) -> None:
    make_skill(repo / ".claude/skills", "pr-review", raw=PR_REVIEW)
    make_skill(repo / ".claude/skills", "changelog", "Write the changelog entry.")
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    listing, omitted = catalog.render_listing(8000)
    assert omitted == []
    assert listing.endswith(
        "- changelog: Write the changelog entry.\n"
        "- pr-review (arguments: [base-branch] [focus]): Review the current branch's diff. Use when the user asks "
        'for a review: "review my changes".\n</skills>'
    )


def test_the_body_gets_its_directory_and_arguments(repo: Path, home: Path, make_skill: MakeSkill) -> None:
    make_skill(repo / ".claude/skills", "pr-review", raw=PR_REVIEW)
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    skill = catalog.get("pr-review")
    assert skill is not None
    assert render_body(skill, "skills/pr-review", "main security") == (
        "Review the diff against main security.\n\n"
        "Checklist: skills/pr-review/checklist.md (also skills/pr-review/checklist.md)."
    )
    assert render_body(skill, "d").startswith("Review the diff against $ARGUMENTS.")


def test_arguments_are_appended_when_the_body_does_not_use_them(home: Path, make_skill: MakeSkill) -> None:
    make_skill(home / ".claude/skills", "release", "Cut a release.", "Bump the version and tag it.\n")
    catalog = discover_skills(cwd=str(home), home=str(home))
    skill = catalog.get("release")
    assert skill is not None
    assert render_body(skill, "/x", "  2.1.0 ") == "Bump the version and tag it.\n\nARGUMENTS: 2.1.0"


def test_no_home_means_no_user_libraries_not_libraries_under_the_cwd(
    tmp_path: Path, make_skill: MakeSkill, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_skill(tmp_path / "cwd/.claude/skills", "stray")  # what a relative "~/.claude/skills" would have found
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    catalog = discover_skills(cwd=str(project), home="")
    assert catalog.skills == []


def test_skills_ls_shows_arguments_fork_and_allowed_tools(
    repo: Path, home: Path, make_skill: MakeSkill, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))
    make_skill(repo / ".claude/skills", "pr-review", raw=PR_REVIEW)
    text = CliRunner().invoke(skills_group, ["ls", "--cwd", str(repo)])
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[:5] == [
        f"pr-review  (project)  {repo / '.claude/skills/pr-review/SKILL.md'}",
        '    Review the current branch\'s diff. Use when the user asks for a review: "review my changes".',
        "    arguments: [base-branch] [focus]",
        "    runs in a subagent: Explore (context: fork)",
        "    allowed-tools: Bash(git diff:*), Bash(git log:*), Read, Grep",
    ]
    [entry] = json.loads(CliRunner().invoke(skills_group, ["ls", "--cwd", str(repo), "--json"]).output)["skills"]
    assert (entry["argument_hint"], entry["context"], entry["agent"]) == ("[base-branch] [focus]", "fork", "Explore")


def test_an_untrusted_repository_cannot_link_skills_from_outside(
    repo: Path, home: Path, tmp_path: Path, make_skill: MakeSkill
) -> None:
    outside = tmp_path / "outside"
    make_skill(outside / "lib", "lib", "Library skill.")
    make_skill(outside, "linked-dir", "Linked directory.")
    make_skill(outside, "linked-file", "Linked file.")
    (repo / ".agents").mkdir()
    (repo / ".agents/skills").symlink_to(outside / "lib")
    (repo / ".claude/skills").mkdir(parents=True)
    (repo / ".claude/skills/linked-dir").symlink_to(outside / "linked-dir")
    make_skill(repo / ".tau/skills", "linked-file")
    (repo / ".tau/skills/linked-file/SKILL.md").unlink()
    (repo / ".tau/skills/linked-file/SKILL.md").symlink_to(outside / "linked-file/SKILL.md")
    make_skill(home / ".claude/skills", "mine", "The user's own.")
    (home / ".claude/skills/lib").symlink_to(outside / "lib/lib")  # the user's links are theirs to make

    def names(*, confined: bool) -> list[str]:
        catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), confined=confined)
        return sorted(skill.name for skill in catalog.skills)

    assert names(confined=False) == ["lib", "linked-dir", "linked-file", "mine"]
    assert names(confined=True) == ["lib", "mine"]  # "lib" only through the user's own link
    warnings = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), confined=True).warnings
    assert {w.split(" skipped: ")[0] for w in warnings} == {
        f"skill library {repo / '.agents/skills'}",
        f"skill {repo / '.claude/skills/linked-dir/SKILL.md'}",
        f"skill {repo / '.tau/skills/linked-file/SKILL.md'}",
    }
    assert all("skipped: it leads outside the project (" in w for w in warnings)
