"""The `if` filter of a hook handler: a permission rule (`Tool` / `Tool(specifier)`) tested against one tool call.

Decision: tau.hooks does not import tau.permissions (domain siblings stay independent, DESIGN §2). This module is a
small, self-contained matcher for the rules hook configs use; the runtime may inject a richer one
(`RuleMatcher`, e.g. built on `tau.permissions.parse_rule`) into `HookRunner`.

Built-in semantics:
- the tool part is compared with Claude Code's name of the called tool (`Bash` matches a call of tau's `bash`);
  tau's lowercase names are accepted too;
- a bare `Tool` matches every call of that tool;
- `Bash(spec)`: the command is split on `;`, `&&`, `||`, `|` and newlines; the rule matches if any part matches.
  `prefix:*` is a prefix on a word boundary; otherwise `*` is a wildcard over any text (`Bash(rm *)`);
- file tools (Read, Write, Edit, Glob, Grep, ...): the specifier is a glob (`*`, `**`, `?`) over `file_path`,
  `path` or `pattern`, matched against the value as given and relative to the project directory;
- any other specifier (MCP tools, `WebFetch(domain:...)`) cannot be checked here, so the rule counts as matching:
  a filter tau does not understand never silently disables a guard hook.
`if` only applies to tool events; on other events a handler with `if` always runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tau.protocol.names import claude_name, tau_name

__all__ = ["RuleMatcher", "check_rule", "rule_applies"]

RuleMatcher = Callable[[str, str, Mapping[str, Any]], bool]
"""(rule text, tool name as the model called it, tool input) -> whether the handler runs."""

_RULE = re.compile(r"(?P<tool>[A-Za-z0-9_\-]+)(?:\((?P<spec>.+)\))?", re.DOTALL)
_SPLIT = re.compile(r"\|\||&&|[;|\n]")
_PATH_KEYS = ("file_path", "path", "notebook_path", "pattern")


def check_rule(text: str) -> None:
    """Raises ValueError unless `text` is `Tool` or `Tool(specifier)`."""
    if not _RULE.fullmatch(text.strip()):
        raise ValueError(f"invalid `if` rule {text!r}: expected Tool or Tool(specifier)")


def _wildcard(spec: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in spec.split("*")), re.DOTALL)


def _command_matches(spec: str, command: str) -> bool:
    parts = [" ".join(part.split()) for part in _SPLIT.split(command)]
    if spec.endswith(":*"):
        prefix = " ".join(spec[:-2].split())
        return any(part == prefix or part.startswith(prefix + " ") for part in parts)
    pattern = _wildcard(" ".join(spec.split()))
    return any(pattern.fullmatch(part) for part in parts if part)


def _glob(spec: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(spec):
        if spec.startswith("**", i):
            out.append(".*")
            i += 2
        elif spec[i] == "*":
            out.append("[^/]*")
            i += 1
        elif spec[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(spec[i]))
            i += 1
    return re.compile("".join(out))


def _path_matches(spec: str, value: str, project_dir: str) -> bool:
    pattern = _glob(spec.removeprefix("./"))
    candidates = {value, value.removeprefix("./")}
    root = project_dir.rstrip("/") + "/"
    if project_dir and value.startswith(root):
        candidates.add(value[len(root) :])
    return any(pattern.fullmatch(c) or pattern.fullmatch(c.rsplit("/", 1)[-1]) for c in candidates)


def rule_applies(rule: str, tool: str, tool_input: Mapping[str, Any], *, project_dir: str = "") -> bool:
    """Whether the `if` rule selects this call (see the module docstring). An unparsable rule selects nothing."""
    found = _RULE.fullmatch(rule.strip())
    if found is None:
        return False
    name = found["tool"]
    if name not in (claude_name(tool), tool, tau_name(tool)) and tau_name(name) != tau_name(tool):
        return False
    spec = found["spec"]
    if spec is None or spec.strip() in ("", "*"):
        return True
    if claude_name(tool) == "Bash":
        command = tool_input.get("command")
        return isinstance(command, str) and _command_matches(spec.strip(), command)
    for key in _PATH_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str):
            return _path_matches(spec.strip(), value, project_dir)
    return True
