"""Subagent definitions: `.tau/agents/**/*.md` and `.claude/agents/**/*.md` files (COMPAT.md C4) parsed and discovered.

A definition is markdown with YAML frontmatter; the body is the subagent's system prompt. Frontmatter keys read:
`name` (lowercase-hyphen; omitted: the file's stem), `description` (required; a literal `\n` in it is a line
break, as Claude Code shows it), `tools` (allowlist: comma string or list; omitted or `*` = inherit the parent's
tools), `disallowedTools`, `model` (`inherit` default, `provider:name`, a Claude alias via the configured alias map,
`claude-*` ids as Anthropic models), `maxTurns`, `permissionMode`, `skills` (preloaded by the runtime: the named
skills' bodies join the subagent's instructions).
Tool names may be Claude Code's (`Read`, `Bash`, `LS`, `MultiEdit`, ...) or tau's (`read`, `bash`); both become
tau's names. `Agent`/`Task` name the `task` tool; `Agent(a, b)` also limits which subagent types the child may spawn.
A `tools` entry naming a tool tau does not have (`WebSearch`, `WebFetch`, `NotebookEdit`, `TodoWrite`, ...) is kept
out of the allowlist and recorded in `missing_tools` with a warning: `tau agents ls` and the run's start notice say
so (a child left with no tools is never silent).

Invariants: a definition never widens what a run may do. A `tools` entry with a specifier (`Bash(git:*)`) cannot be
enforced as an allowlist, so it is dropped with a warning (not granted); a `disallowedTools` entry with a specifier
becomes a permission deny rule for the child. Files that cannot be used are skipped with a warning, never fatal.

Discovery order (first definition of a name wins, later ones are recorded as shadowed): for each directory from the
working directory up to the project root (nearest first) its `.tau/agents` then `.claude/agents`; then the user's
`~/.config/tau/agents` then `~/.claude/agents`. Each directory is read with its subfolders, as Claude Code does
(hidden entries skipped, symbolic links to folders not followed, at most `MAX_AGENT_DEPTH` levels and
`MAX_AGENT_FILES` files); within one directory a file nearer the top wins over one deeper down, then path order
(`a.md` before `team/a.md` before `z/a.md`). A README, CHANGELOG, LICENSE or CONTRIBUTING file that is not a
definition is skipped without a warning (agent collections carry them). In an untrusted repository (`confined`), a
project file whose real path leads outside the project is skipped. Parsing is pure; `discover_agents` reads host
files only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tau.config.documents import load_yaml
from tau.confine import inside
from tau.errors import ConfigError
from tau.protocol.names import tau_name
from tau.skills.parse import lenient_frontmatter, split_frontmatter, unescape_description
from tau.tools import TOOL_FACTORIES

__all__ = [
    "CLAUDE_MODEL_ALIASES",
    "MAX_AGENT_DEPTH",
    "MAX_AGENT_FILES",
    "PERMISSION_MODES",
    "TASK_TOOL",
    "TAU_AGENT_TOOLS",
    "AgentCatalog",
    "AgentDefinition",
    "AgentDefinitionError",
    "Scope",
    "Shadowed",
    "agent_dirs",
    "builtin_agents",
    "discover_agents",
    "missing_reason",
    "parse_agent_md",
]

TASK_TOOL = "task"
Scope = Literal["project", "user", "builtin"]
ClaudePermissionMode = Literal["default", "acceptEdits", "dontAsk", "bypassPermissions", "plan"]
PERMISSION_MODES: tuple[ClaudePermissionMode, ...] = ("default", "acceptEdits", "dontAsk", "bypassPermissions", "plan")
CLAUDE_MODEL_ALIASES: frozenset[str] = frozenset({"haiku", "sonnet", "opus", "opusplan", "default"})
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SPECIFIER = re.compile(r"^([A-Za-z0-9_.-]+)\((.*)\)$", re.DOTALL)
_IGNORED_KEYS = ("mcpServers", "hooks", "isolation", "background", "memory", "initialPrompt", "effort")
_TASK_NAMES = frozenset({"Agent", "Task", TASK_TOOL})
MAX_AGENT_DEPTH = 6
_DOCUMENTS = frozenset({"README", "CHANGELOG", "LICENSE", "CONTRIBUTING"})  # a folder's notes, not agents: no warning
MAX_AGENT_FILES = 500
TAU_AGENT_TOOLS: frozenset[str] = frozenset(TOOL_FACTORIES) | {"skill", "memory", TASK_TOOL}
"""Every tool name a subagent definition can be granted (MCP tools, `mcp__server__tool`, come on top per run)."""
_WHY_MISSING: dict[str, str] = {
    "WebFetch": "no web tools in tau",
    "WebSearch": "no web tools in tau",
    "ask_user": "subagents cannot ask the user",
    "submit_plan": "subagents do not submit plans",
}


_GENERAL_PURPOSE_PROMPT = (
    "You are a general-purpose subagent. Carry out the task in the prompt completely with your tools, then answer "
    "with a concise report of what you found or did."
)
_EXPLORE_PROMPT = (
    "You are a read-only exploration subagent. Search and read the workspace to carry out the task in the prompt; "
    "do not create, modify or delete anything. Answer with a concise report of what you found, naming files."
)


def builtin_agents() -> dict[str, AgentDefinition]:
    """Claude Code's built-in subagent types, for skills with `context: fork` whose `agent:` names one that no
    definition file provides: `general-purpose` (every tool of the parent), `Explore` and `Plan` (read-only tools in
    plan mode)."""
    read_only = ("read", "glob", "grep", "ls", "bash", "skill")
    return {
        "general-purpose": AgentDefinition(
            "general-purpose", "General-purpose subagent.", _GENERAL_PURPOSE_PROMPT, scope="builtin"
        ),
        "Explore": AgentDefinition(
            "Explore",
            "Read-only exploration.",
            _EXPLORE_PROMPT,
            scope="builtin",
            tools=read_only,
            permission_mode="plan",
        ),
        "Plan": AgentDefinition(
            "Plan",
            "Read-only research for planning.",
            _EXPLORE_PROMPT,
            scope="builtin",
            tools=read_only,
            permission_mode="plan",
        ),
    }


class AgentDefinitionError(ValueError):
    """A definition file that cannot be used; the message says why (one line)."""


@dataclass(frozen=True)
class AgentDefinition:
    """One subagent type. `tools` None inherits every tool of the parent; `spawnable` None allows every type."""

    name: str
    description: str
    prompt: str
    path: str = ""
    scope: Scope = "project"
    tools: tuple[str, ...] | None = None
    disallowed_tools: tuple[str, ...] = ()
    deny_rules: tuple[str, ...] = ()
    model: str | None = None
    max_turns: int | None = None
    permission_mode: ClaudePermissionMode | None = None
    skills: tuple[str, ...] = ()
    spawnable: tuple[str, ...] | None = None
    missing_tools: tuple[str, ...] = ()  # `tools` entries (as written) naming tools tau does not have
    preloaded: tuple[str, ...] = field(default=(), repr=False)  # rendered bodies of `skills`, set by the runtime

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "path": self.path,
            "scope": self.scope,
            "tools": None if self.tools is None else list(self.tools),
            "disallowed_tools": list(self.disallowed_tools),
            "deny_rules": list(self.deny_rules),
            "model": self.model,
            "max_turns": self.max_turns,
            "permission_mode": self.permission_mode,
            "skills": list(self.skills),
            "spawnable": None if self.spawnable is None else list(self.spawnable),
            "missing_tools": list(self.missing_tools),
            "preloaded_skills": len(self.preloaded),
        }


@dataclass(frozen=True)
class Shadowed:
    name: str
    path: str
    shadowed_by: str


@dataclass(frozen=True)
class AgentCatalog:
    """The definitions a run offers, in precedence order, and what discovery skipped or shadowed."""

    definitions: tuple[AgentDefinition, ...] = ()
    warnings: tuple[str, ...] = ()
    shadowed: tuple[Shadowed, ...] = ()

    def get(self, name: str) -> AgentDefinition | None:
        return next((d for d in self.definitions if d.name == name), None)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.definitions]


# -- parsing ---------------------------------------------------------------------------------------------------


def _load_frontmatter(frontmatter: str) -> dict[str, Any]:
    try:  # tau.config's bounded reader: deep nesting, alias bombs, lone surrogates fall back like bad YAML
        data = load_yaml(frontmatter, source="agent definition") if frontmatter.strip() else {}
    except ConfigError:
        data = lenient_frontmatter(frontmatter)
    if not isinstance(data, dict):
        raise AgentDefinitionError("frontmatter must be a YAML mapping")
    return {str(key): value for key, value in data.items()}


def _string_list(value: object, key: str, warnings: list[str]) -> list[str] | None:
    """A comma/space string or a list of strings; `Agent(a, b)` stays one item."""
    if value is None:
        return None
    if isinstance(value, str):
        items = re.findall(r"[^,\s(]+(?:\([^)]*\))?", value)
        return [item.strip() for item in items if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    warnings.append(f"{key}: expected a comma-separated string or a list of strings; ignored")
    return None


def missing_reason(tool: str) -> str:
    """Why a subagent cannot have `tool` (a name as written in a definition), in a few words."""
    return _WHY_MISSING.get(tool, _WHY_MISSING.get(tau_name(tool), "no such tool in tau"))


@dataclass
class _Tools:
    names: list[str] = field(default_factory=list)
    spawnable: list[str] | None = None
    deny_rules: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _allowlist(items: list[str], warnings: list[str]) -> _Tools:
    tools = _Tools()
    for item in items:
        match = _SPECIFIER.match(item)
        base = match.group(1) if match else item
        if base in _TASK_NAMES:
            tools.names.append(TASK_TOOL)
            if match:
                types = [t.strip() for t in match.group(2).split(",") if t.strip()]
                tools.spawnable = [*(tools.spawnable or []), *types]
        elif match:
            warnings.append(f"tools: {item!r} cannot be enforced as an allowlist entry; not granted")
        elif tau_name(item) in TAU_AGENT_TOOLS or item.startswith("mcp__"):
            tools.names.append(tau_name(item))
        else:
            tools.missing.append(item)
    return tools


def _denylist(items: list[str]) -> _Tools:
    tools = _Tools()
    for item in items:
        match = _SPECIFIER.match(item)
        if match and match.group(1) not in _TASK_NAMES:
            tools.deny_rules.append(item)  # a permission deny rule for the child: exact, and never wider
        else:
            tools.names.append(TASK_TOOL if (match.group(1) if match else item) in _TASK_NAMES else tau_name(item))
    return tools


def _model(value: object, aliases: Mapping[str, str], warnings: list[str]) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or text == "inherit":
        return None
    if text in aliases:
        return aliases[text]
    if ":" in text:
        return text
    if text.startswith("claude-"):
        return f"anthropic:{text}"
    what = "a Claude model alias" if text in CLAUDE_MODEL_ALIASES else "a model without a provider"
    warnings.append(f"model: {text!r} is {what} with no configured mapping (subagents.models); inheriting")
    return None


def _max_turns(value: object, warnings: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    warnings.append(f"maxTurns: {value!r} is not a positive integer; ignored")
    return None


def _permission_mode(value: object, warnings: list[str]) -> ClaudePermissionMode | None:
    if value is None:
        return None
    for mode in PERMISSION_MODES:
        if str(value).strip() == mode:
            return mode
    warnings.append(f"permissionMode: {value!r} is not one of {', '.join(PERMISSION_MODES)}; ignored")
    return None


def _required(data: Mapping[str, Any], stem: str | None) -> tuple[str, str]:
    name = data.get("name")
    if name is None and stem:
        if not _NAME.match(stem):
            raise AgentDefinitionError(f"frontmatter has no 'name' and the file name {stem!r} is not a valid name")
        name = stem
    if not isinstance(name, str) or not name.strip():
        raise AgentDefinitionError("frontmatter has no 'name'")
    name = name.strip()
    if not _NAME.match(name):
        raise AgentDefinitionError(f"name {name!r} must be lowercase letters, digits and single hyphens")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise AgentDefinitionError(f"agent {name!r}: frontmatter has no 'description'")
    return name, unescape_description(description)


def parse_agent_md(
    text: str, *, path: str = "", scope: Scope = "project", model_aliases: Mapping[str, str] | None = None
) -> tuple[AgentDefinition, list[str]]:
    """(definition, warnings) of one agent file, or `AgentDefinitionError` when it cannot be used."""
    parts = split_frontmatter(text)
    if parts is None:
        raise AgentDefinitionError("no frontmatter (the file must start with a '---' line and close it with '---')")
    data = _load_frontmatter(parts[0])
    name, description = _required(data, Path(path).stem if path else None)
    warnings: list[str] = []
    allowed_items = _string_list(data.get("tools"), "tools", warnings)
    if allowed_items == ["*"]:
        allowed_items = None  # `tools: "*"`: every tool, as when omitted
    allowed = None if allowed_items is None else _allowlist(allowed_items, warnings)
    denied = _denylist(_string_list(data.get("disallowedTools"), "disallowedTools", warnings) or [])
    skills = _string_list(data.get("skills"), "skills", warnings) or []
    warnings.extend(f"{key}: not supported by tau; ignored" for key in _IGNORED_KEYS if key in data)
    definition = AgentDefinition(
        name=name,
        description=description,
        prompt=parts[1].strip(),
        path=path,
        scope=scope,
        tools=None if allowed is None else tuple(dict.fromkeys(allowed.names)),
        disallowed_tools=tuple(dict.fromkeys(denied.names)),
        deny_rules=tuple(denied.deny_rules),
        model=_model(data.get("model"), model_aliases or {}, warnings),
        max_turns=_max_turns(data.get("maxTurns"), warnings),
        permission_mode=_permission_mode(data.get("permissionMode"), warnings),
        skills=tuple(skills),
        spawnable=None if allowed is None or allowed.spawnable is None else tuple(allowed.spawnable),
        missing_tools=() if allowed is None else tuple(dict.fromkeys(allowed.missing)),
    )
    return definition, warnings


# -- discovery -------------------------------------------------------------------------------------------------


def _dirs_up(cwd: str, root: str) -> list[str]:
    """cwd, its parent, ... up to `root` (nearest first); only cwd when cwd is not below root."""
    here, root = os.path.normpath(cwd), os.path.normpath(root)
    if not inside(here, root):
        return [here]
    found = [here]
    while here != root:
        here = os.path.dirname(here)
        found.append(here)
    return found


def agent_dirs(
    cwd: str, *, home: str | None, project_root: str | None = None, config_home: str | None = None
) -> list[tuple[str, Scope]]:
    """The definition directories a run started in `cwd` reads, highest precedence first."""
    dirs: list[tuple[str, Scope]] = []
    for directory in _dirs_up(cwd, project_root or cwd):
        dirs += [(os.path.join(directory, ".tau", "agents"), "project")]
        dirs += [(os.path.join(directory, ".claude", "agents"), "project")]
    if home:
        dirs.append((os.path.join(config_home or os.path.join(home, ".config"), "tau", "agents"), "user"))
        dirs.append((os.path.join(home, ".claude", "agents"), "user"))
    seen: set[str] = set()
    unique: list[tuple[str, Scope]] = []
    for directory, scope in dirs:
        key = os.path.realpath(directory)
        if key not in seen:
            seen.add(key)
            unique.append((directory, scope))
    return unique


def _files(directory: str) -> list[Path]:
    """The `.md` files under `directory`, shallowest first, then in path order (see the module docstring)."""
    found: list[tuple[int, str]] = []
    if not os.path.isdir(directory):
        return []
    for current, subdirs, names in os.walk(directory, onerror=None, followlinks=False):
        depth = 0 if current == directory else os.path.relpath(current, directory).count(os.sep) + 1
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")) if depth < MAX_AGENT_DEPTH else []
        for name in names:
            path = os.path.join(current, name)
            if name.endswith(".md") and not name.startswith(".") and os.path.isfile(path):
                found.append((depth, path))
        if len(found) >= MAX_AGENT_FILES:
            break
    return [Path(path) for _, path in sorted(found)[:MAX_AGENT_FILES]]


def _outside(path: Path, bound: str | None) -> str | None:
    """The real path of a project file that leads outside the project (a symbolic link out of it), else None."""
    if bound is None:
        return None
    real = os.path.realpath(path)
    return None if inside(real, bound) else real


def discover_agents(
    cwd: str,
    *,
    home: str | None,
    project_root: str | None = None,
    config_home: str | None = None,
    model_aliases: Mapping[str, str] | None = None,
    extra: Sequence[AgentDefinition] = (),
    confined: bool = False,
) -> AgentCatalog:
    """Every usable definition visible from `cwd`; `extra` (e.g. from config) comes first and wins. `confined` (an
    untrusted repository): a project file whose real path leads outside the project is skipped."""
    definitions: dict[str, AgentDefinition] = {d.name: d for d in extra}
    warnings: list[str] = []
    shadowed: list[Shadowed] = []
    bound = os.path.realpath(project_root or cwd) if confined else None
    for directory, scope in agent_dirs(cwd, home=home, project_root=project_root, config_home=config_home):
        for path in _files(directory):
            if scope == "project" and (real := _outside(path, bound)) is not None:
                warnings.append(f"{path}: skipped: it leads outside the project (to {real})")
                continue
            try:
                text = path.read_text("utf-8")
                definition, notes = parse_agent_md(text, path=str(path), scope=scope, model_aliases=model_aliases)
            except (OSError, UnicodeDecodeError, AgentDefinitionError) as error:
                if not (path.stem.upper() in _DOCUMENTS and isinstance(error, AgentDefinitionError)):
                    warnings.append(f"{path}: skipped: {error}")
                continue
            warnings.extend(f"{path}: {note}" for note in notes)
            winner = definitions.get(definition.name)
            if winner is not None:
                shadowed.append(Shadowed(definition.name, str(path), winner.path or "configuration"))
                continue
            definitions[definition.name] = definition
    return AgentCatalog(tuple(definitions.values()), tuple(warnings), tuple(shadowed))
