"""The `glob` tool: files whose path matches a pattern, found by walking the tree through the workspace API.

Results are absolute paths sorted by path (component-wise), not by modification time as Claude Code does: the
workspace API exposes no mtime, and a stable order makes runs reproducible. At most `MAX_GLOB_RESULTS` are listed,
with a note when more matched. Symlinked directories are not descended; `.git` is skipped.
"""

from __future__ import annotations

import posixpath

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.globs import GlobMatcher, split_static_prefix
from tau.tools.limits import ToolLimits
from tau.tools.output import clip_head
from tau.tools.paths import checked
from tau.tools.walk import path_key, relative, walk_files

MAX_GLOB_RESULTS = 100


async def search_root(workspace: Workspace, path: str | None) -> tuple[str, bool]:
    """The absolute path to search (default: the working directory) and whether it is a directory.

    A missing path, one outside the workspace, or one no filesystem can take is a `ToolFailed` with a clear message.
    """
    if path == "":
        raise ToolFailed("path is empty; omit it to search the working directory")
    root = await workspace.resolve(checked(path, "path")) if path is not None else await workspace.working_dir()
    with reported(root):
        entry = await workspace.stat(root)
    return root, entry.is_dir


async def _is_dir(workspace: Workspace, path: str) -> bool:
    with reported(path):
        return await workspace.exists(path) and (await workspace.stat(path)).is_dir


async def find_files(workspace: Workspace, pattern: str, path: str | None, limits: ToolLimits) -> str:
    checked(pattern, "pattern")
    if posixpath.isabs(pattern):
        absolute_prefix, pattern = split_static_prefix(pattern)
        path = absolute_prefix or "/"
    base, is_dir = await search_root(workspace, path)
    if not is_dir:
        raise ToolFailed(f"{base} is a file, not a directory; give a directory as path")
    prefix, rest = split_static_prefix(pattern)
    start = posixpath.normpath(posixpath.join(base, prefix))
    if not await _is_dir(workspace, start):
        return "No files found"
    matcher = GlobMatcher.compile(rest)
    walk = await walk_files(workspace, start)
    found = sorted(
        (entry.path for entry in walk.files if matcher.matches(relative(entry.path, start))),
        key=path_key,
    )
    if not found:
        return "No files found"
    shown = found[:MAX_GLOB_RESULTS]
    more = f" (showing the first {len(shown)})" if len(found) > len(shown) else ""
    lines = [f"Found {len(found)} files{more}", *shown]
    if walk.truncated:
        lines.append("[the search stopped early in a very large tree; narrow path or pattern]")
    return clip_head("\n".join(lines), limits.max_output_chars, "narrow path or pattern")


def glob_tool(limits: ToolLimits) -> Tool[None]:
    async def glob(ctx: RunContext[None], pattern: str, path: str | None = None) -> str:
        """Find files by name pattern, e.g. "**/*.py" or "src/**/test_*.{py,pyi}".

        `*` and `?` match within one path segment, `**/` any number of directories, `{a,b}` alternatives. Returns
        absolute paths sorted by path (at most 100). Use grep to search file contents.

        Args:
            pattern: The glob pattern, matched against paths relative to path.
            path: Directory to search in, absolute or relative to the working directory. Defaults to the working
                directory.
        """
        return await find_files(ctx.workspace, pattern, path, limits)

    return cached_tool(glob, name="glob")
