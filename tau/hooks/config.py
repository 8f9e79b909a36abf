"""Hook configuration: Claude Code's three levels (event -> matcher groups -> handlers), read and merged.

Format (the `hooks` key of a settings file; a `hooks.json` may also hold the event map at top level)::

    {"hooks": {"PreToolUse": [{"matcher": "Bash|Edit",
                               "hooks": [{"type": "command", "command": "./guard.sh", "timeout": 30,
                                          "if": "Bash(rm *)"}]}]}}

Sources, in merge order (earlier first; hooks from every source are kept, none overrides another — as in Claude
Code, where hooks from all settings levels run):

1. user: `$XDG_CONFIG_HOME/tau/settings.json`, else `~/.config/tau/settings.json`;
2. compatibility (with `compat=True`, the default): `<project>/.claude/settings.json`,
   `<project>/.claude/settings.local.json`, `<project>/.codex/hooks.json`;
3. project: `<project>/.tau/settings.json`, `<project>/.tau/hooks.json`.

The project's files (2 and 3) are read only when the workspace is trusted (`trusted=True`); otherwise the ones
that configure hooks are reported in `HookConfig.skipped` and nothing of them runs.

Within an event, groups keep that order, then file order. A handler whose (event, matcher, command) repeats an
earlier one is dropped (Claude Code de-duplicates identical commands). `"disableAllHooks": true` in any source
disables every file hook.

Tolerated with a warning (so an existing `.claude/settings.json` keeps working): events tau does not emit
(TeammateIdle, TaskCompleted, ...) and handler types other than `command` (http, prompt, agent, mcp_tool).
A `ConfigError` naming the file for everything else: unreadable or invalid JSON, wrong shapes, a missing
`command`, a non-positive `timeout`, an invalid matcher regex or `if` rule.

Pure apart from reading the files named above: home, project directory and environment are injected.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tau.errors import ConfigError
from tau.hooks.rules import check_rule
from tau.protocol.names import claude_name, tau_name

__all__ = [
    "DEFAULT_TIMEOUT",
    "EVENTS",
    "TOOL_EVENTS",
    "CommandHandler",
    "HookConfig",
    "HookEvent",
    "MatcherGroup",
    "compile_matcher",
    "hook_sources",
    "load_hook_config",
    "parse_hooks",
]

HookEvent = Literal[
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "Notification",
    "PermissionRequest",
    "SubagentStart",
    "Setup",
]
EVENTS: tuple[HookEvent, ...] = typing.get_args(HookEvent)  # the one list of event names: the Literal above
TOOL_EVENTS: frozenset[str] = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"})
DEFAULT_TIMEOUT = 60.0
_SIMPLE_MATCHER = re.compile(r"[A-Za-z0-9_\-]+(\|[A-Za-z0-9_\-]+)*")


def compile_matcher(matcher: str | None) -> Callable[[str], bool]:
    """A predicate for a Claude Code matcher: absent/""/"*" = all; `A|B` = exact names; otherwise a regex.

    Names and regexes are case-sensitive and tested against the whole value (`re.fullmatch`). For tool events the
    runtime passes Claude Code's tool name (`Bash`); the predicate also accepts tau's own name (`bash`), so a matcher
    written either way works.

    Raises:
        ValueError: an invalid regex.
    """
    if matcher is None or matcher.strip() in ("", "*"):
        return lambda value: True
    text = matcher.strip()
    if _SIMPLE_MATCHER.fullmatch(text):
        names = frozenset(text.split("|"))
        return lambda value: value in names or claude_name(value) in names or tau_name(value) in names
    pattern = re.compile(text)
    return lambda value: any(pattern.fullmatch(v) for v in (value, claude_name(value), tau_name(value)))


@dataclass(frozen=True)
class CommandHandler:
    """One `{"type": "command"}` handler. `source` is the file it came from; `if_rule` a permission-rule filter."""

    command: str
    timeout: float = DEFAULT_TIMEOUT
    if_rule: str | None = None
    source: str = ""


@dataclass(frozen=True)
class MatcherGroup:
    """A matcher and its handlers, as configured under one event."""

    matcher: str | None
    handlers: tuple[CommandHandler, ...]
    source: str = ""

    def matches(self, value: str | None) -> bool:
        """Whether this group applies to `value` (tool name, source, trigger...); None (no value) matches all."""
        return value is None or compile_matcher(self.matcher)(value)


@dataclass(frozen=True)
class HookConfig:
    """Every configured hook, by event, in merge order; plus the files read and the warnings to show once."""

    events: Mapping[str, tuple[MatcherGroup, ...]] = field(default_factory=dict[str, tuple[MatcherGroup, ...]])
    sources: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # project files with hooks that were not read: the workspace is not trusted

    def groups(self, event: str) -> tuple[MatcherGroup, ...]:
        return self.events.get(event, ())

    def __bool__(self) -> bool:
        return any(self.events.values())


def _fail(source: str, where: str, problem: str) -> ConfigError:
    return ConfigError(problem, source=source, field=where)


def _timeout(raw: object, source: str, where: str) -> float:
    if raw is None:
        return DEFAULT_TIMEOUT
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise _fail(source, where, f"timeout must be a positive number of seconds, got {raw!r}")
    return float(raw)


def _handler(raw: object, source: str, where: str, warnings: list[str]) -> CommandHandler | None:
    if not isinstance(raw, dict):
        raise _fail(source, where, "a hook handler must be an object")
    kind = raw.get("type", "command")
    if kind != "command":
        warnings.append(f"{source}: {where}: handler type {kind!r} is not supported by tau; skipped")
        return None
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise _fail(source, where, "a command handler needs a non-empty `command` string")
    if_rule = raw.get("if")
    if if_rule is not None:
        if not isinstance(if_rule, str):
            raise _fail(source, where, "`if` must be a permission rule string such as 'Bash(rm *)'")
        try:
            check_rule(if_rule)
        except ValueError as error:
            raise _fail(source, where, str(error)) from None
    return CommandHandler(command, _timeout(raw.get("timeout"), source, where), if_rule, source)


def _group(raw: object, source: str, where: str, warnings: list[str]) -> MatcherGroup:
    if not isinstance(raw, dict):
        raise _fail(source, where, "a matcher group must be an object with `hooks`")
    matcher = raw.get("matcher")
    if matcher is not None and not isinstance(matcher, str):
        raise _fail(source, where, "`matcher` must be a string")
    try:
        compile_matcher(matcher)
    except re.error as error:
        raise _fail(source, where, f"invalid matcher regex {matcher!r}: {error}") from None
    handlers = raw.get("hooks", [])
    if not isinstance(handlers, list):
        raise _fail(source, where, "`hooks` must be a list of handlers")
    parsed = [_handler(h, source, f"{where}.hooks[{i}]", warnings) for i, h in enumerate(handlers)]
    return MatcherGroup(matcher, tuple(h for h in parsed if h is not None), source)


def parse_hooks(raw: object, source: str) -> tuple[dict[str, list[MatcherGroup]], list[str]]:
    """The event map of one source (the value of its `hooks` key) -> groups by event, and warnings.

    Raises:
        ConfigError: a malformed map, naming `source` and the position.
    """
    warnings: list[str] = []
    if not isinstance(raw, dict):
        raise _fail(source, "hooks", "must be an object mapping event names to matcher groups")
    events: dict[str, list[MatcherGroup]] = {}
    for event, groups in raw.items():
        if not isinstance(groups, list):
            raise _fail(source, f"hooks.{event}", "must be a list of matcher groups")
        if event not in EVENTS:
            warnings.append(f"{source}: hooks.{event}: tau does not emit this event; its hooks never run")
            continue
        events[event] = [_group(g, source, f"hooks.{event}[{i}]", warnings) for i, g in enumerate(groups)]
    return events, warnings


def hook_sources(project_dir: Path, *, home: Path | None, env: Mapping[str, str], compat: bool) -> list[Path]:
    """The files hooks are read from, in merge order (whether they exist or not)."""
    paths: list[Path] = []
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg:
        paths.append(Path(xdg) / "tau" / "settings.json")
    elif home is not None:
        paths.append(home / ".config" / "tau" / "settings.json")
    if compat:
        paths += [
            project_dir / ".claude" / "settings.json",
            project_dir / ".claude" / "settings.local.json",
            project_dir / ".codex" / "hooks.json",
        ]
    paths += [project_dir / ".tau" / "settings.json", project_dir / ".tau" / "hooks.json"]
    return paths


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", source=str(path)) from None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"invalid JSON: {error}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("must be a JSON object", source=str(path))
    return data


def _event_map(data: Mapping[str, Any], path: Path) -> object:
    if "hooks" in data:
        return data["hooks"]
    return dict(data) if path.name == "hooks.json" else {}  # hooks.json may hold a bare event map


def load_hook_config(
    project_dir: Path, *, home: Path | None, env: Mapping[str, str], compat: bool = True, trusted: bool = True
) -> HookConfig:
    """Read and merge the hook sources of `project_dir` (see the module docstring for order and rules).

    `trusted=False` (an untrusted workspace): the project's own files are not read for hooks; those that define
    hooks are listed in `skipped`, so the caller can say so once.

    Raises:
        ConfigError: a malformed source, naming the file.
    """
    documents: list[tuple[str, Mapping[str, Any]]] = []
    skipped: list[str] = []
    for path in hook_sources(project_dir, home=home, env=env, compat=compat):
        if not trusted and _in_project(path, project_dir):
            if _defines_hooks(path):
                skipped.append(str(path))
            continue
        if (data := _read(path)) is not None:
            documents.append((str(path), data))
    config = merge_sources(documents)
    return HookConfig(config.events, config.sources, config.warnings, tuple(skipped))


def _in_project(path: Path, project_dir: Path) -> bool:
    return path.is_relative_to(project_dir)


def _defines_hooks(path: Path) -> bool:
    """Whether an (unread, untrusted) file would configure hooks; a best-effort look that never raises."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return path.exists()
    return isinstance(data, dict) and bool(
        data.get("hooks") or data.get("disableAllHooks") or path.name == "hooks.json"
    )


def merge_sources(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> HookConfig:
    """Merge parsed settings documents (name, JSON object), earliest first."""
    merged: dict[str, list[MatcherGroup]] = {}
    warnings: list[str] = []
    seen: set[tuple[str, str | None, str]] = set()
    disabled = False
    for name, data in documents:
        path = Path(name)
        disabled = disabled or data.get("disableAllHooks") is True
        events, found = parse_hooks(_event_map(data, path), name)
        warnings += found
        for event, groups in events.items():
            for group in groups:
                fresh = tuple(h for h in group.handlers if (event, group.matcher, h.command) not in seen)
                seen.update((event, group.matcher, h.command) for h in fresh)
                if fresh:
                    merged.setdefault(event, []).append(MatcherGroup(group.matcher, fresh, group.source))
    sources = tuple(name for name, _ in documents)
    if disabled:
        return HookConfig({}, sources, (*warnings, "disableAllHooks is set: no file hooks run"))
    return HookConfig({event: tuple(groups) for event, groups in merged.items()}, sources, tuple(warnings))
