"""SKILL.md parsing: YAML frontmatter per the Agent Skills spec, Claude Code's extra keys tolerated.

Required: `name` (1-64 chars of `[a-z0-9-]`, no leading, trailing or double hyphen) and `description` (1-1024 chars;
a literal `\n` in it is a line break, shown as a space in the one-line listing).
Optional and kept: `license`, `compatibility` (<=500 chars), `metadata` (string map), `allowed-tools` (space-delimited
string or list; entries with parentheses, `Bash(git add:*)`, stay whole), and Claude Code's `disable-model-invocation`
/ `user-invocable` (booleans that also accept yes/no/on/off/1/0), `argument-hint` (shown in listings), `context`
(`fork`: the skill runs in a subagent) and `agent` (that subagent's type; default `general-purpose`). Every other key
is ignored.

Frontmatter YAML rejects only for plain text it cannot take — an unquoted `: ` in a value (`description: Use when:
...`) or text after a bracket (`argument-hint: [pr-number] [priority]`), both common in published skills and read by
Claude Code — is read line by line instead (`lenient_frontmatter`, shared with agent files). An `argument-hint`
that YAML reads as a list (`[message]`) is shown as written.
Hard errors (`SkillParseError`, the skill is skipped): no frontmatter, YAML that does not parse or is not a mapping,
missing or invalid `name`, missing or empty `description`. Soft problems (kept, with a warning): description or
compatibility over their limits, a `name` that differs from the directory, a malformed optional field (dropped).
Pure: text in, values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tau.config.documents import load_yaml
from tau.errors import ConfigError

__all__ = [
    "SkillMeta",
    "SkillParseError",
    "lenient_frontmatter",
    "parse_skill_md",
    "split_frontmatter",
    "unescape_description",
    "validate_name",
]

NAME_MAX = 64
DESCRIPTION_MAX = 1024
COMPATIBILITY_MAX = 500
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_PLAIN_TEXT_PROBLEMS = (
    "mapping values are not allowed here",  # description: Use when: the user asks
    "expected <block end>, but found",  # argument-hint: [pr-number] [priority]
)
_TOOL_ITEM = re.compile(r"[^,\s(]+(?:\([^)]*\))?")


class SkillParseError(ValueError):
    """A SKILL.md that cannot be used; the message says why (one line)."""


@dataclass(frozen=True)
class SkillMeta:
    """Level-1 metadata of a skill, plus the optional spec fields."""

    name: str
    description: str
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    model_invocable: bool = True
    user_invocable: bool = True
    argument_hint: str | None = None
    fork: bool = False  # `context: fork`
    agent: str | None = None  # the subagent type of a forked skill


def split_frontmatter(text: str) -> tuple[str, str] | None:
    """(frontmatter, body) when `text` starts with a `---` line and has a closing `---` (or `...`) line."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]).strip("\n")
    return None


def validate_name(name: str) -> str | None:
    """None when `name` is a valid skill name, else the reason."""
    if not 1 <= len(name) <= NAME_MAX:
        return f"name must be 1-{NAME_MAX} characters (got {len(name)})"
    if not _NAME.match(name):
        return "name must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen"
    return None


def unescape_description(text: str) -> str:
    """A description as Claude Code shows it: a literal `\\n` (common in generated agent files, whose YAML keeps
    it as two characters) is a line break; lines keep their words, runs of spaces and blank lines shrink to one."""
    lines = [" ".join(line.split()) for line in text.replace("\\n", "\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _scalar(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _boolean(value: object, key: str, default: bool, warnings: list[str]) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    warnings.append(f"{key}: {value!r} is not a boolean; using {str(default).lower()}")
    return default


def _allowed_tools(value: object, warnings: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # "Read Grep Bash(git add:*)" or "Read, Bash(npm run test:*)"
        return tuple(item.strip() for item in _TOOL_ITEM.findall(value) if item.strip())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    warnings.append("allowed-tools: expected a space-delimited string or a list of strings; ignored")
    return ()


def _metadata(value: object, warnings: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        warnings.append("metadata: expected a mapping; ignored")
        return {}
    return {str(key): str(item) for key, item in value.items()}


def _limited(value: object, key: str, limit: int, warnings: list[str]) -> str | None:
    text = _scalar(value)
    if value is not None and text is None:
        warnings.append(f"{key}: expected a string; ignored")
    if text is not None and len(text) > limit:
        warnings.append(f"{key} is {len(text)} characters, over the {limit}-character limit of the spec")
    return text or None


def lenient_frontmatter(frontmatter: str) -> dict[str, Any]:
    """`key: value` lines, for frontmatter YAML rejects (Claude Code descriptions often hold unquoted colons); a
    `[a, b]` value and a key followed by indented `- item` lines are lists."""
    data: dict[str, Any] = {}
    key = ""
    for line in frontmatter.splitlines():
        item = line.strip()
        if key and line.startswith((" ", "\t")) and item.startswith("- ") and isinstance(data.get(key), list):
            data[key].append(_unquoted(item[2:]))
            continue
        if not item or line.startswith((" ", "\t", "#")) or ":" not in line:
            continue
        key, _, raw = line.partition(":")
        key, value = key.strip(), raw.strip()
        if value.startswith("[") and value.endswith("]") and not any(c in value[1:-1] for c in "[]"):
            data[key] = [_unquoted(part) for part in value[1:-1].split(",") if part.strip()]
        else:
            data[key] = _unquoted(value) if value else []
    return {k: (v if v != [] else None) for k, v in data.items()}


def _unquoted(value: str) -> str:
    """`value` without one pair of surrounding quotes (a quote inside or at one end only stays)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _load_yaml(frontmatter: str) -> dict[str, Any]:
    try:  # tau.config's bounded reader: deep nesting, alias bombs, lone surrogates are parse errors too
        data = load_yaml(frontmatter, source="SKILL.md") if frontmatter.strip() else {}
    except ConfigError as error:
        if any(problem in error.problem for problem in _PLAIN_TEXT_PROBLEMS):  # what Claude Code reads as text
            return lenient_frontmatter(frontmatter)
        where = f"{error.field}: " if error.field else ""
        problem = re.sub(r"^invalid YAML( at line \d+, column \d+)?: ", "", error.problem)
        raise SkillParseError(f"frontmatter is not valid YAML ({where}{problem})") from error
    if not isinstance(data, dict):
        raise SkillParseError("frontmatter must be a YAML mapping")
    return {str(key): value for key, value in data.items()}


def parse_skill_md(text: str, *, directory_name: str | None = None) -> tuple[SkillMeta, str, list[str]]:
    """(metadata, body, warnings) of one SKILL.md, or `SkillParseError` when the skill cannot be used."""
    parts = split_frontmatter(text)
    if parts is None:
        raise SkillParseError("no YAML frontmatter (the file must start with a '---' line and close it with '---')")
    data = _load_yaml(parts[0])
    warnings: list[str] = []
    name = _scalar(data.get("name"))
    if not name:
        raise SkillParseError("frontmatter has no 'name'")
    problem = validate_name(name)
    if problem:
        raise SkillParseError(f"invalid name {name!r}: {problem}")
    description = _scalar(data.get("description"))
    if not description:
        raise SkillParseError("frontmatter has no 'description'")
    if len(description) > DESCRIPTION_MAX:
        warnings.append(f"description is {len(description)} characters, over the {DESCRIPTION_MAX}-character limit")
    if directory_name is not None and directory_name != name:
        warnings.append(f"name {name!r} differs from its directory {directory_name!r}")
    meta = SkillMeta(
        name=name,
        description=" ".join(unescape_description(description).split()),
        license=_limited(data.get("license"), "license", DESCRIPTION_MAX, warnings),
        compatibility=_limited(data.get("compatibility"), "compatibility", COMPATIBILITY_MAX, warnings),
        metadata=_metadata(data.get("metadata"), warnings),
        allowed_tools=_allowed_tools(data.get("allowed-tools"), warnings),
        model_invocable=not _boolean(data.get("disable-model-invocation"), "disable-model-invocation", False, warnings),
        user_invocable=_boolean(data.get("user-invocable"), "user-invocable", True, warnings),
        argument_hint=_limited(_hint(data.get("argument-hint")), "argument-hint", COMPATIBILITY_MAX, warnings),
        fork=_fork(data.get("context"), warnings),
        agent=_limited(data.get("agent"), "agent", NAME_MAX, warnings),
    )
    return meta, parts[1], warnings


def _hint(value: object) -> object:
    """`argument-hint: [message]` is a YAML list; Claude Code shows it as written."""
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return " ".join(f"[{item}]" for item in value)
    return value


def _fork(value: object, warnings: list[str]) -> bool:
    if value is None:
        return False
    text = _scalar(value)
    if text == "fork":
        return True
    if text not in ("", "inline", "main"):
        warnings.append(f"context: {value!r} is not 'fork'; the skill runs inline")
    return False
