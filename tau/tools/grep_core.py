"""What grep's two engines share: the request, the hits they return, and the one output format the model sees.

Both engines (ripgrep through `run`, pure Python over the filesystem API) produce `FileHits`; `format_hits` renders
them, so the engine never shows in the output. Format, as `rg --no-heading`: `path:N:text` for a matching line,
`path-N-text` for a context line (`path:text` / `path-text` without line numbers), `--` between non-adjacent groups
when context is requested. Files are ordered by path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tau.tools.output import clip_head, clip_line
from tau.tools.walk import path_key

OutputMode = Literal["files_with_matches", "content", "count"]


@dataclass(frozen=True, kw_only=True)
class GrepRequest:
    pattern: str
    root: str
    """Absolute file or directory to search."""
    glob: str | None = None
    ignore_case: bool = False
    before: int = 0
    after: int = 0
    mode: OutputMode = "files_with_matches"


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    is_match: bool


@dataclass
class FileHits:
    """One file with matches: how many lines matched, and (content mode) the lines to show."""

    path: str
    count: int
    lines: list[Line] = field(default_factory=list[Line])


def _content(hits: list[FileHits], *, numbers: bool, separators: bool) -> list[str]:
    out: list[str] = []
    for file in hits:
        previous: int | None = None
        for line in file.lines:
            if separators and out and (previous is None or line.number != previous + 1):
                out.append("--")
            mark = ":" if line.is_match else "-"
            number = f"{line.number}{mark}" if numbers else ""
            out.append(f"{file.path}{mark}{number}{clip_line(line.text)}")
            previous = line.number
    return out


def format_hits(
    hits: list[FileHits], request: GrepRequest, *, numbers: bool, head_limit: int | None, max_chars: int
) -> str:
    found = sorted((file for file in hits if file.count > 0), key=lambda file: path_key(file.path))
    if not found:
        return "No matches found"
    header: list[str] = []
    if request.mode == "files_with_matches":
        header = [f"Found {len(found)} files"]
        entries = [file.path for file in found]
    elif request.mode == "count":
        total = sum(file.count for file in found)
        header = [f"Found {total} matching lines in {len(found)} files"]
        entries = [f"{file.path}:{file.count}" for file in found]
    else:
        entries = _content(found, numbers=numbers, separators=request.before > 0 or request.after > 0)
    if head_limit is not None and len(entries) > head_limit:
        entries = [*entries[:head_limit], f"[showing the first {head_limit} of {len(entries)} entries]"]
    return clip_head("\n".join(header + entries), max_chars, "narrow the pattern, path or glob, or set head_limit")
