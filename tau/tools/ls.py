"""The `ls` tool (Claude Code's `LS`): the entries of one directory, through the workspace.

Arguments as Claude Code names them: `path` (default: the working directory) and `ignore`, glob patterns matched
against entry names (`*.pyc`, `node_modules`). One level, not recursive (glob and grep cover trees): directories
first, each marked `/`, then files with their size, each group sorted by name, at most `MAX_LS_ENTRIES`.

Invariants: only `ctx.workspace` calls, so the workspace's confinement applies (a path outside it is a failed
result, as for `read`); permissions treat `ls` as a read of `path` (`Read(...)` rules cover it).
"""

from __future__ import annotations

import fnmatch

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import FileEntry

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.glob import search_root
from tau.tools.limits import ToolLimits
from tau.tools.output import clip_head
from tau.tools.paths import checked_text

__all__ = ["MAX_LS_ENTRIES", "ls_tool"]

MAX_LS_ENTRIES = 1000


def _size(entry: FileEntry) -> str:
    if entry.size is None:
        return ""
    units = ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K"))
    for unit, suffix in units:
        if entry.size >= unit:
            return f"  ({entry.size / unit:.1f}{suffix})"
    return f"  ({entry.size} B)"


def _render(directory: str, entries: list[FileEntry], ignored: int) -> str:
    entries = sorted(entries, key=lambda e: (not e.is_dir, e.name))
    shown = entries[:MAX_LS_ENTRIES]
    lines = [f"- {entry.name}/" if entry.is_dir else f"- {entry.name}{_size(entry)}" for entry in shown]
    header = f"{directory}/ ({len(entries)} entries"
    header += f", {ignored} ignored)" if ignored else ")"
    if len(entries) > len(shown):
        lines.append(f"[{len(entries) - len(shown)} more entries not shown; use glob with a pattern]")
    return "\n".join([header, *lines]) if lines else f"{header}\n(empty)"


def ls_tool(limits: ToolLimits) -> Tool[None]:
    async def ls(ctx: RunContext[None], path: str | None = None, ignore: list[str] | None = None) -> str:
        """List the files and directories in a directory (one level; directories end with /).

        Use glob to find files by pattern across a tree, grep to search contents.

        Args:
            path: The directory to list, absolute or relative to the working directory. Defaults to the working
                directory.
            ignore: Glob patterns of entry names to leave out, e.g. ["*.pyc", "node_modules"].
        """
        patterns = [checked_text(pattern, "ignore") for pattern in ignore or []]
        directory, is_dir = await search_root(ctx.workspace, path)
        if not is_dir:
            raise ToolFailed(f"{directory} is a file, not a directory; use read to see it")
        with reported(directory):
            entries = list(await ctx.workspace.list_dir(directory))
        kept = [e for e in entries if not any(fnmatch.fnmatchcase(e.name, p) for p in patterns)]
        text = _render(directory.rstrip("/") or "", kept, len(entries) - len(kept))
        return clip_head(text, limits.max_output_chars, "list a subdirectory or use glob with a pattern")

    return cached_tool(ls, name="ls")
