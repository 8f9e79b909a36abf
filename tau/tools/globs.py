"""Glob patterns as the glob and grep tools read them: `**`, `*`, `?`, `[...]`, `{a,b}` over `/`-separated paths.

Pure: patterns compile to regular expressions matched against paths relative to the search root. `*` and `?` never
cross `/`; `**/` matches zero or more directories. A pattern without `/` given as grep's file filter matches the
base name at any depth, as ripgrep's `--glob` does. Unbalanced `[` or `{` are taken literally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAGIC = frozenset("*?[{")


def has_magic(part: str) -> bool:
    return any(char in _MAGIC for char in part)


def _class(pattern: str, start: int) -> tuple[str, int] | None:
    """Translate `[...]` starting at `start`; None if it is not closed."""
    index = start + 1
    if index < len(pattern) and pattern[index] in "!^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    end = pattern.find("]", index)
    if end < 0:
        return None
    body = pattern[start + 1 : end]
    if body[:1] in ("!", "^"):
        body = "^" + body[1:]
    return "[" + body.replace("\\", "\\\\") + "]", end + 1


def _alternatives(pattern: str, start: int) -> tuple[str, int] | None:
    """Translate `{a,b}` starting at `start` (no nesting); None if it is not closed."""
    end = pattern.find("}", start)
    if end < 0:
        return None
    options = pattern[start + 1 : end].split(",")
    return "(?:" + "|".join(translate(option) for option in options) + ")", end + 1


def _star(pattern: str, index: int) -> tuple[str, int]:
    if pattern.startswith("**", index):
        at_segment_start = index == 0 or pattern[index - 1] == "/"
        if at_segment_start and pattern.startswith("**/", index):
            return "(?:.*/)?", index + 3
        if at_segment_start and index + 2 == len(pattern):
            return ".*", index + 2
    return "[^/]*", index + 1


def translate(pattern: str) -> str:
    """The regular expression (without anchors) for a glob pattern."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        piece: tuple[str, int] | None
        if char == "*":
            piece = _star(pattern, index)
        elif char == "?":
            piece = ("[^/]", index + 1)
        elif char == "[":
            piece = _class(pattern, index)
        elif char == "{":
            piece = _alternatives(pattern, index)
        else:
            piece = None
        if piece is None:
            piece = (re.escape(char), index + 1)
        out.append(piece[0])
        index = piece[1]
    return "".join(out)


@dataclass(frozen=True)
class GlobMatcher:
    """A compiled glob; `matches(relative_path)` tests a `/`-separated path relative to the search root."""

    pattern: str
    basename_only: bool
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str, *, basename_if_no_slash: bool = False) -> GlobMatcher:
        cleaned = pattern.removeprefix("./")
        basename_only = basename_if_no_slash and "/" not in cleaned
        return cls(pattern, basename_only, re.compile(translate(cleaned), re.DOTALL))

    def matches(self, relative_path: str) -> bool:
        subject = relative_path.rsplit("/", 1)[-1] if self.basename_only else relative_path
        return self.regex.fullmatch(subject) is not None


def split_static_prefix(pattern: str) -> tuple[str, str]:
    """Split `src/pkg/**/*.py` into (`src/pkg`, `**/*.py`): the leading directories without wildcards, and the rest."""
    parts = pattern.split("/")
    static: list[str] = []
    while len(parts) > 1 and not has_magic(parts[0]):
        static.append(parts.pop(0))
    return "/".join(static), "/".join(parts)
