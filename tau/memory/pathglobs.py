"""The `paths:` globs of a `.claude/rules/*.md` file, matched the way a `.gitignore` matches, plus `{a,b}` braces.

Patterns are relative to the project root (`/src` and `./src` anchor there too). `*` and `?` stay inside one path
segment, `**` spans segments (`**/` zero or more directories), `[...]` is a character class, `{ts,tsx}` expands to
alternatives. A pattern without a slash matches a name at any depth (`*.md`, `Makefile`); a pattern with one is
anchored at the root. A pattern that matches a directory matches everything under it (`src/api` covers
`src/api/v1/x.ts`); a trailing `/` matches directories only. `!pattern` excludes what it matches. Unbalanced `[` or
`{` are literal. Pure: compiled once, matched against `/`-separated relative paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PathGlobs", "expand_braces", "split_top_level"]

_MAX_ALTERNATIVES = 64


def expand_braces(pattern: str) -> list[str]:
    """`a/{b,c}/*.{ts,tsx}` -> the patterns it stands for (nesting allowed; at most 64; unbalanced braces literal)."""
    start = pattern.find("{")
    while start >= 0:
        depth = 0
        for index in range(start, len(pattern)):
            depth += {"{": 1, "}": -1}.get(pattern[index], 0)
            if depth == 0:
                options = split_top_level(pattern[start + 1 : index])
                if len(options) < 2:
                    break
                head, tail = pattern[:start], pattern[index + 1 :]
                expanded = [p for option in options for p in expand_braces(head + option + tail)]
                return expanded[:_MAX_ALTERNATIVES]
        start = pattern.find("{", start + 1)
    return [pattern]


def split_top_level(body: str) -> list[str]:
    """`body` split at the commas outside braces (`a,{b,c},d` -> `a`, `{b,c}`, `d`)."""
    parts, depth, current = [], 0, ""
    for char in body:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


def _class(pattern: str, start: int) -> tuple[str, int] | None:
    end = pattern.find("]", start + 2)
    if end < 0:
        return None
    body = pattern[start + 1 : end]
    if body[:1] in ("!", "^"):
        body = "^" + body[1:]
    return "[" + body.replace("\\", "\\\\") + "]", end + 1


def _translate(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index) and (index == 0 or pattern[index - 1] == "/"):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        elif pattern[index] == "[" and (piece := _class(pattern, index)) is not None:
            out.append(piece[0])
            index = piece[1]
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


@dataclass(frozen=True)
class _Glob:
    regex: re.Pattern[str]
    directories_only: bool
    negated: bool

    @classmethod
    def compile(cls, pattern: str) -> list[_Glob]:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        directories_only = body.endswith("/")
        body = body.strip("/") if body.startswith("/") else body.removeprefix("./").rstrip("/")
        anchored = "/" in body or pattern.lstrip("!").startswith(("/", "./"))
        globs: list[_Glob] = []
        for option in expand_braces(body):
            if not option:
                continue
            source = option if anchored else f"**/{option}"
            globs.append(cls(re.compile(_translate(source), re.DOTALL), directories_only, negated))
        return globs

    def matches(self, path: str, is_dir: bool) -> bool:
        """`path` or one of its parent directories matches (a directory pattern covers its contents)."""
        parts = path.split("/")
        for end in range(len(parts), 0, -1):
            candidate_is_dir = is_dir or end < len(parts)
            if self.directories_only and not candidate_is_dir:
                continue
            if self.regex.fullmatch("/".join(parts[:end])):
                return True
        return False


@dataclass(frozen=True)
class PathGlobs:
    """Compiled `paths:` patterns; `matches(relative_path)` is True when a pattern includes it and none excludes it."""

    patterns: tuple[str, ...]
    globs: tuple[_Glob, ...]

    @classmethod
    def compile(cls, patterns: Iterable[str]) -> PathGlobs:
        cleaned = tuple(p.strip() for p in patterns if p.strip() and p.strip() != "!")
        return cls(cleaned, tuple(g for p in cleaned for g in _Glob.compile(p)))

    def matches(self, relative_path: str, *, is_dir: bool = False) -> bool:
        path = relative_path.strip("/")
        if not path or path == "." or path.startswith("../") or path == "..":
            return False
        included = any(not g.negated and g.matches(path, is_dir) for g in self.globs)
        return included and not any(g.negated and g.matches(path, is_dir) for g in self.globs)
