"""grep's fallback engine: Python `re` over files read through the workspace filesystem API.

Mirrors the ripgrep engine's choices so the output is the same: hidden files are searched, `.git` is skipped,
files with a NUL byte in their first 8 KiB are treated as binary and skipped, lines are matched one at a time with
undecodable bytes replaced. Unlike ripgrep it does not read `.gitignore`. Files over `max_file_bytes` and
unreadable or refused files are skipped.
"""

from __future__ import annotations

import re

from pydantic_ai import ModelRetry
from pydantic_ai.workspaces import FileEntry, Workspace, WorkspaceError, WorkspaceUnavailableError

from tau.tools.globs import GlobMatcher
from tau.tools.grep_core import FileHits, GrepRequest, Line
from tau.tools.output import split_lines
from tau.tools.walk import relative, walk_files

_BINARY_SNIFF_BYTES = 8192


def compile_pattern(request: GrepRequest) -> re.Pattern[str]:
    try:
        return re.compile(request.pattern, re.IGNORECASE if request.ignore_case else 0)
    except re.error as error:
        raise ModelRetry(f"Invalid regular expression {request.pattern!r}: {error}") from error


async def _candidates(workspace: Workspace, request: GrepRequest, root_is_dir: bool) -> list[FileEntry]:
    if not root_is_dir:
        return [await workspace.stat(request.root)]
    files = (await walk_files(workspace, request.root)).files
    if request.glob is None:
        return files
    matcher = GlobMatcher.compile(request.glob, basename_if_no_slash=True)
    return [entry for entry in files if matcher.matches(relative(entry.path, request.root))]


async def _read_text(workspace: Workspace, entry: FileEntry, max_bytes: int) -> str | None:
    if entry.size is not None and entry.size > max_bytes:
        return None
    try:
        data = await workspace.read_bytes(entry.path)
    except WorkspaceUnavailableError:
        raise
    except (OSError, WorkspaceError):
        return None
    if len(data) > max_bytes or b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _hits(path: str, lines: list[str], regex: re.Pattern[str], request: GrepRequest) -> FileHits | None:
    matches = [index for index, line in enumerate(lines) if regex.search(line)]
    if not matches:
        return None
    hits = FileHits(path=path, count=len(matches))
    if request.mode == "content":
        shown: set[int] = set()
        for index in matches:
            shown.update(range(max(0, index - request.before), min(len(lines), index + request.after + 1)))
        matched = set(matches)
        hits.lines = [Line(index + 1, lines[index], index in matched) for index in sorted(shown)]
    return hits


async def search_python(
    workspace: Workspace, request: GrepRequest, *, root_is_dir: bool, max_file_bytes: int
) -> list[FileHits]:
    regex = compile_pattern(request)
    found: list[FileHits] = []
    for entry in await _candidates(workspace, request, root_is_dir):
        text = await _read_text(workspace, entry, max_file_bytes)
        if text is None:
            continue
        hits = _hits(entry.path, split_lines(text), regex, request)
        if hits is not None:
            found.append(hits)
    return found
