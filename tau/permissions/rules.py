"""Permission rules in Claude Code's syntax: `Tool` or `Tool(specifier)`.

Owns parsing (`parse_rule`, `parse_rules`) and matching of one rule against one tool call. Pure: paths are resolved
lexically (`posixpath.normpath`), never against the filesystem; the environment enforces realpath confinement.

Tool names: Claude Code's (`Bash`, `Read`, `Write`, `Edit`, `Glob`, `Grep`, `LS`, `TodoWrite`) or tau's (`bash`,
`read`, ...), normalised with `tau.protocol.names.tau_name`. `mcp__server__tool` names one MCP tool; `mcp__server`
and `mcp__server__*` name every tool of a server. Other names (`WebFetch`, `Task`, ...) are accepted and match a tool
of exactly that name.

Which calls a rule covers:

- `Edit(...)` covers `edit`, `multi_edit` and `write`; `Write(...)` covers `write`; `Read(...)` covers `read`, `glob`,
  `grep`, `ls` (their `file_path` / `path` argument); `Glob`, `Grep`, `LS`, `MultiEdit` cover only themselves.
- Bash specifiers: `npm test:*` is a prefix on a word boundary (`npm test`, `npm test --watch`, not `npm tests`);
  one with `*` is a glob over the whole command, `*` matching anything including spaces, and a trailing ` *` also
  matches the bare command (`git diff *` matches `git diff`); anything else must equal the command, compared word
  by word after shell unquoting. A bash rule matches one simple command (see `shell.py`), never a compound line.
- File specifiers are gitignore-style globs: `**` spans directories, `*` and `?` stay inside one path segment, a
  pattern without an inner `/` (`*.env`, `node_modules`) matches at any depth, and a pattern matching a directory
  matches everything under it; `dir/**` matches `dir` itself too. `~/x` is under `home`; `//x` is the absolute
  `/x`; `/x` matches both the absolute path `/x` and `<workspace>/x` (Claude Code reads it as project-relative);
  any other pattern (`./x`, `x/**`) is relative to the workspace root and never matches outside it.
- A specifier on a tool that has none tau understands (MCP tools, `WebFetch(domain:...)`) is kept as *opaque*:
  `matches(..., opaque=...)` says whether it counts. The policy passes True for deny/ask lists and False for allow,
  so an uninterpretable rule can only ever make a decision stricter.

Malformed rules (empty, unbalanced parentheses, empty specifier, bad tool name, `:*` not at the end, a file pattern
that is empty) raise `tau.errors.ConfigError` naming the rule.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tau.confine import inside
from tau.errors import ConfigError
from tau.protocol.names import tau_name

__all__ = ["BashPattern", "PathPattern", "Rule", "parse_rule", "parse_rules", "tools_covered"]

_RULE = re.compile(r"\s*([^\s()]+)\s*(?:\((.*)\))?\s*", re.DOTALL)
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_MCP_SERVER = re.compile(r"mcp__([A-Za-z0-9_.\-]+?)(?:__\*)?")

PATH_TOOLS: frozenset[str] = frozenset({"read", "write", "edit", "multi_edit", "glob", "grep", "ls"})
_COVERS: dict[str, frozenset[str]] = {
    "edit": frozenset({"edit", "multi_edit", "write"}),
    "read": frozenset({"read", "glob", "grep", "ls"}),
}

SpecifierKind = Literal["none", "bash", "path", "opaque"]


def tools_covered(rule_tool: str) -> frozenset[str]:
    """The tau tool names a rule written for `rule_tool` (already normalised) applies to."""
    return _COVERS.get(rule_tool, frozenset({rule_tool}))


def _words(text: str) -> str:
    try:
        return " ".join(shlex.split(text))
    except ValueError:
        return " ".join(text.split())


@dataclass(frozen=True)
class BashPattern:
    """A Bash specifier compiled to a full-match regex over a simple command's words joined by single spaces."""

    source: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, spec: str, rule: str) -> BashPattern:
        if spec.endswith(":*"):
            prefix = _words(spec[:-2])
            if not prefix or ":*" in prefix:
                raise ConfigError(f"invalid permission rule {rule!r}: ':*' needs a command prefix before it")
            return cls(spec, re.compile(re.escape(prefix) + r"(?: .*)?", re.DOTALL))
        if ":*" in spec:
            raise ConfigError(f"invalid permission rule {rule!r}: ':*' is only allowed at the end")
        words = _words(spec)
        if "*" not in words:
            return cls(spec, re.compile(re.escape(words)))
        optional_tail = words.endswith(" *")
        body = words[:-2] if optional_tail else words
        regex = ".*".join(re.escape(piece) for piece in body.split("*"))
        if optional_tail:
            regex += r"(?: .*)?"
        return cls(spec, re.compile(regex, re.DOTALL))

    def matches(self, command_text: str) -> bool:
        return self.regex.fullmatch(command_text) is not None


def _glob_regex(pattern: str) -> str:
    """Translate a gitignore-style glob (no leading anchor) to a regex fragment over `/`-separated paths."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append(r"(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(r".*")
            i += 2
        elif c == "*":
            out.append(r"[^/]*")
            i += 1
        elif c == "?":
            out.append(r"[^/]")
            i += 1
        elif c == "[" and (close := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class PathPattern:
    """A file specifier resolved against the workspace and home: absolute anchors and/or one relative pattern."""

    source: str
    absolute: re.Pattern[str] | None  # matched against normalised absolute paths
    relative: re.Pattern[str] | None  # matched against paths relative to `base`
    base: str
    root: str | None = None  # the longest glob-free directory of an absolute anchor (None: workspace only)

    @classmethod
    def parse(cls, spec: str, rule: str, *, workspace: str, home: str) -> PathPattern:
        pattern = spec.strip()
        if not pattern:
            raise ConfigError(f"invalid permission rule {rule!r}: empty path pattern")
        workspace = posixpath.normpath(workspace)
        if pattern.startswith("//"):
            path = posixpath.normpath(pattern[1:])
            return cls(spec, _anchored(path), None, workspace, _glob_free_root(path))
        if pattern == "~" or pattern.startswith("~/"):
            path = posixpath.normpath(home + pattern[1:])
            return cls(spec, _anchored(path), None, workspace, _glob_free_root(path))
        if pattern.startswith("/"):
            rel = pattern.lstrip("/")
            path = posixpath.normpath(pattern)
            return cls(spec, _anchored(path), _relative(rel, anchored=True), workspace, _glob_free_root(path))
        anchored = pattern.startswith("./") or "/" in pattern.rstrip("/")
        rel = pattern[2:] if pattern.startswith("./") else pattern
        return cls(spec, None, _relative(rel, anchored=anchored), workspace)

    def matches(self, path: str) -> bool:
        """`path` is absolute and normalised. True if it or one of its ancestors matches (gitignore semantics)."""
        for candidate in _self_and_ancestors(path):
            if self.absolute is not None and self.absolute.fullmatch(candidate):
                return True
            if self._relative_match(candidate):
                return True
        return False

    def _relative_match(self, path: str) -> bool:
        if self.relative is None or not inside(path, self.base):
            return False
        return self.relative.fullmatch(posixpath.relpath(path, self.base)) is not None


def _glob_free_root(path: str) -> str:
    """The longest directory prefix of `path` without glob characters (a literal path: its parent)."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if any(c in part for c in "*?["):
            return "/".join(parts[:i]) or "/"
    return posixpath.dirname(path.rstrip("/")) or "/"


def _anchored(path: str) -> re.Pattern[str]:
    return re.compile(_tree_regex(path.rstrip("/") or "/"), re.DOTALL)


def _tree_regex(pattern: str) -> str:
    """`dir/**` matches `dir` itself too (a grep or ls of the directory reads what is under it)."""
    if pattern.endswith("/**") and len(pattern) > 3:
        return _glob_regex(pattern[:-3]) + r"(?:/.*)?"
    return _glob_regex(pattern)


def _relative(pattern: str, *, anchored: bool) -> re.Pattern[str] | None:
    pattern = pattern.rstrip("/")
    if pattern in ("", "."):
        return re.compile(r".*", re.DOTALL)  # the workspace root itself: everything below it
    regex = _tree_regex(posixpath.normpath(pattern))
    return re.compile(regex if anchored else r"(?:.*/)?" + regex, re.DOTALL)


def _self_and_ancestors(path: str) -> list[str]:
    out = [path]
    while (parent := posixpath.dirname(path)) != path:
        out.append(parent)
        path = parent
    return out


@dataclass(frozen=True)
class Rule:
    """One parsed rule. `tool` is the normalised tool name (or `mcp__server__` for a whole server)."""

    text: str
    tool: str
    kind: SpecifierKind = "none"
    bash: BashPattern | None = None
    path: PathPattern | None = None

    def covers(self, tool: str) -> bool:
        """Whether this rule is about calls of `tool` (a tau or MCP tool name), ignoring the specifier."""
        if self.tool.endswith("__") and self.tool.startswith("mcp__"):
            return tool.startswith(self.tool)
        return tau_name(tool) in tools_covered(self.tool)

    def matches_command(self, command_text: str) -> bool:
        """For a `Bash` rule (caller checked `covers('bash')`): does it match this simple command?"""
        return self.kind == "none" or (self.bash is not None and self.bash.matches(command_text))

    def matches_path(self, path: str) -> bool:
        """For a file rule (caller checked `covers`): does it match this absolute, normalised path?"""
        return self.kind == "none" or (self.path is not None and self.path.matches(path))

    def matches_call(self, *, opaque: bool) -> bool:
        """For a tool without an understood specifier: a bare rule matches; an opaque one counts as `opaque`."""
        return self.kind == "none" or (self.kind == "opaque" and opaque)


def parse_rule(text: str, *, workspace: str, home: str) -> Rule:
    """Parse one rule; relative file patterns resolve against `workspace`, `~` against `home`."""
    match = _RULE.fullmatch(text)
    if match is None or not text.strip():
        raise ConfigError(f"invalid permission rule {text!r}: expected Tool or Tool(specifier)")
    raw_tool, spec = match.group(1), match.group(2)
    tool = _normalise_tool(raw_tool, text)
    if spec is None:
        return Rule(text, tool)
    if not spec.strip():
        raise ConfigError(f"invalid permission rule {text!r}: empty specifier (write {raw_tool} alone for all calls)")
    if tool == "bash":
        return Rule(text, tool, "bash", bash=BashPattern.parse(spec.strip(), text))
    if tool in PATH_TOOLS:
        return Rule(text, tool, "path", path=PathPattern.parse(spec, text, workspace=workspace, home=home))
    return Rule(text, tool, "opaque")


def _normalise_tool(raw: str, rule: str) -> str:
    server = _MCP_SERVER.fullmatch(raw)
    if server is not None and "__" not in server.group(1):
        return f"mcp__{server.group(1)}__"
    if not _TOOL_NAME.fullmatch(raw):
        raise ConfigError(f"invalid permission rule {rule!r}: bad tool name {raw!r}")
    return tau_name(raw)


def parse_rules(texts: Iterable[str], *, workspace: str, home: str) -> tuple[Rule, ...]:
    return tuple(parse_rule(text, workspace=workspace, home=home) for text in texts)
