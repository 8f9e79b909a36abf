"""SKILL.md frontmatter: the Agent Skills fields, Claude Code's extras tolerated, hard errors vs warnings."""

from __future__ import annotations

import pytest

from tau.skills import SkillMeta, SkillParseError, parse_skill_md


def test_full_frontmatter_and_claude_code_extras() -> None:
    text = (
        "---\n"
        "name: pdf-tools\n"
        "description: >\n  Fill and merge PDF forms.\n  Use when the user mentions PDFs.\n"
        "license: Apache-2.0\n"
        "compatibility: needs python3 and qpdf\n"
        "metadata:\n  author: acme\n  version: 2\n"
        "allowed-tools: Bash(python:*) Read\n"
        "user-invocable: no\n"
        "model: sonnet\ncontext: fork\nhooks: {PreToolUse: []}\nargument-hint: '[file]'\n"
        "---\n\n# PDF tools\n\nRun scripts/fill.py.\n"
    )
    meta, body, warnings = parse_skill_md(text, directory_name="pdf-tools")
    assert meta == SkillMeta(
        name="pdf-tools",
        description="Fill and merge PDF forms. Use when the user mentions PDFs.",
        license="Apache-2.0",
        compatibility="needs python3 and qpdf",
        metadata={"author": "acme", "version": "2"},
        allowed_tools=("Bash(python:*)", "Read"),
        model_invocable=True,
        user_invocable=False,
        argument_hint="[file]",
        fork=True,
    )
    assert body == "# PDF tools\n\nRun scripts/fill.py."
    assert warnings == []


@pytest.mark.parametrize(
    ("value", "invocable"), [("true", False), ("yes", False), ("'on'", False), ("'0'", True), ("false", True)]
)
def test_disable_model_invocation_accepts_yes_no_forms(value: str, invocable: bool) -> None:
    text = f"---\nname: a\ndescription: d\ndisable-model-invocation: {value}\n---\n"
    assert parse_skill_md(text)[0].model_invocable is invocable


def test_allowed_tools_as_a_list() -> None:
    meta, _, _ = parse_skill_md("---\nname: a\ndescription: d\nallowed-tools: [Read, Grep]\n---\nbody")
    assert meta.allowed_tools == ("Read", "Grep")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("# no frontmatter\n", "no YAML frontmatter"),
        ("---\nname: a\ndescription: d\n", "no YAML frontmatter"),
        ("---\nname: [unclosed\ndescription: d\n---\n", "frontmatter is not valid YAML"),
        ("---\n- a list\n---\n", "frontmatter must be a YAML mapping"),
        ("---\ndescription: d\n---\n", "frontmatter has no 'name'"),
        ("---\nname: a\n---\n", "frontmatter has no 'description'"),
        ("---\nname: a\ndescription: '  '\n---\n", "frontmatter has no 'description'"),
        ("---\nname: Bad\ndescription: d\n---\n", "invalid name 'Bad'"),
        ("---\nname: -a\ndescription: d\n---\n", "invalid name '-a'"),
        ("---\nname: a-\ndescription: d\n---\n", "invalid name 'a-'"),
        ("---\nname: a--b\ndescription: d\n---\n", "invalid name 'a--b'"),
        ("---\nname: a_b\ndescription: d\n---\n", "invalid name 'a_b'"),
        (f"---\nname: {'a' * 65}\ndescription: d\n---\n", "name must be 1-64 characters (got 65)"),
    ],
)
def test_malformed_skill_md_is_an_error(text: str, error: str) -> None:
    with pytest.raises(SkillParseError, match=error.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse_skill_md(text)


def test_soft_problems_are_warnings() -> None:
    text = f"---\nname: a1\ndescription: {'d' * 1030}\nmetadata: nope\ncompatibility: {'c' * 501}\n---\n"
    meta, _, warnings = parse_skill_md(text, directory_name="other")
    assert meta.name == "a1"
    assert meta.metadata == {}
    assert warnings == [
        "description is 1030 characters, over the 1024-character limit",
        "name 'a1' differs from its directory 'other'",
        "compatibility is 501 characters, over the 500-character limit of the spec",
        "metadata: expected a mapping; ignored",
    ]


def test_numeric_name_is_read_as_text() -> None:
    assert parse_skill_md("---\nname: 123\ndescription: d\n---\n")[0].name == "123"
