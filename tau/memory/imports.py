"""`@path` import references in memory files, found the way Claude Code finds them.

An import is `@` at the start of a line or after whitespace, followed by a path (no whitespace): `@docs/style.md`,
`@~/notes/me.md`, `@/etc/team.md`. Text inside fenced code blocks (``` or ~~~) and inline code spans is ignored, so
`` `npm i @scope/pkg` `` is not an import. Trailing sentence punctuation (`.,;:!?)]`) is not part of the path.
Pure functions: finding and resolving references does no I/O.
"""

from __future__ import annotations

import posixpath
import re

__all__ = ["find_imports", "looks_like_path", "resolve_import"]

_IMPORT = re.compile(r"(?:^|(?<=\s))@([^\s`]+)")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_TRAILING = ".,;:!?)]}'\""


def _strip_code_spans(line: str) -> str:
    return _CODE_SPAN.sub(lambda match: " " * len(match.group(0)), line)


def _prose_lines(text: str) -> list[str]:
    """The lines of `text` outside fenced code blocks, with inline code spans blanked out."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            continue
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        lines.append(_strip_code_spans(line))
    return lines


def find_imports(text: str) -> list[str]:
    """The `@path` references in `text`, in order of appearance, each once, without the `@`."""
    found: list[str] = []
    for line in _prose_lines(text):
        for match in _IMPORT.finditer(line):
            reference = match.group(1).rstrip(_TRAILING)
            if reference and reference not in found:
                found.append(reference)
    return found


def looks_like_path(reference: str) -> bool:
    """Whether `reference` is meant as a file (has a slash, a dot or `~`), not an @mention such as `@alice`."""
    return "/" in reference or "." in reference or reference.startswith("~")


def resolve_import(reference: str, importer: str, home: str) -> str:
    """The absolute, normalized path `reference` names: `~/` is `home`, relative is relative to the importer's dir."""
    if reference == "~" or reference.startswith("~/"):
        path = posixpath.join(home, reference[2:])
    elif posixpath.isabs(reference):
        path = reference
    else:
        path = posixpath.join(posixpath.dirname(importer), reference)
    return posixpath.normpath(path)
