"""Working memory: the `memory` tool over a directory of notes in the workspace, and its index loaded at start.

The tool mirrors Anthropic's memory tool: one tool, a `command` (view, create, str_replace, insert, delete, rename)
and its arguments (`path`, `file_text`, `old_str`, `new_str`, `insert_line`, `insert_text`, `old_path`, `new_path`,
`view_range`). Long jobs keep progress notes, decisions and feature lists there across sessions.

Invariants:
- Every file operation goes through `ctx.workspace` (no os/pathlib I/O), so it works on the host and in the sandbox.
- Paths are relative to the memory directory (default `.tau/memory`, relative to the workspace's working directory).
  Also accepted: the same path prefixed with the memory directory (`.tau/memory/notes.md`), Anthropic's
  `/memories/notes.md`, and an absolute path inside the memory directory. Anything that leaves the directory, as
  text (`..`, absolute elsewhere) or through a symlink (checked with `workspace.realpath`), is refused.
  So is a path no filesystem can take (`tau.confine.path_problem`) and text that is not UTF-8.
- The memory directory itself cannot be deleted or renamed; rename never overwrites.
- Errors the model can act on are `ToolFailed` results; missing arguments are `ModelRetry`; a dead workspace
  (`WorkspaceUnavailableError`) propagates and ends the run.

The index file is `INDEX.md` in the memory directory (chosen over README.md, which reads as project documentation
and may already exist for humans); `load_memory_index` reads it at session start and `render_working_memory` turns it
into an instructions section.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ModelRetry, ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.workspaces import Workspace, WorkspaceBackend, WorkspaceError, WorkspaceUnavailableError

from tau.confine import inside, path_problem
from tau.tool_schemas import cached_tool

__all__ = [
    "DEFAULT_MEMORY_DIR",
    "INDEX_FILE",
    "MemoryCommand",
    "load_memory_index",
    "memory_toolset",
    "render_working_memory",
]

DEFAULT_MEMORY_DIR = ".tau/memory"
INDEX_FILE = "INDEX.md"
INDEX_MAX_LINES = 200
INDEX_MAX_BYTES = 16 * 1024
MAX_OUTPUT_CHARS = 30_000
ANTHROPIC_ROOT = "/memories"

MemoryCommand = Literal["view", "create", "str_replace", "insert", "delete", "rename"]


@contextmanager
def _reported(shown: str) -> Iterator[None]:
    try:
        yield
    except WorkspaceUnavailableError:
        raise
    except FileNotFoundError as error:
        raise ToolFailed(f"The path {shown} does not exist in memory.") from error
    except IsADirectoryError as error:
        raise ToolFailed(f"{shown} is a directory, not a file.") from error
    except (OSError, WorkspaceError) as error:
        detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise ToolFailed(f"Cannot access {shown} in memory: {detail}") from error


def _text(value: str | None, argument: str) -> str | None:
    """`value` unchanged, or `ToolFailed` when it cannot be written as UTF-8 (lone surrogates, which JSON allows)."""
    try:
        (value or "").encode("utf-8")
    except UnicodeEncodeError:
        raise ToolFailed(f"Refused: {argument} is not valid UTF-8 text.") from None
    return value


class _MemoryDir:
    """Path mapping and confinement for one run's memory directory."""

    def __init__(self, workspace: Workspace, memory_dir: str) -> None:
        self.ws = workspace
        self.memory_dir = posixpath.normpath(memory_dir)

    async def root(self) -> str:
        return await self.ws.resolve(self.memory_dir)

    def shown(self, path: str, root: str) -> str:
        """How a path is shown to the model: relative to the memory directory ("/" for the directory itself)."""
        return "/" if path == root else posixpath.relpath(path, root)

    async def resolve(self, raw: str, argument: str = "path") -> str:
        """The absolute path `raw` names, or `ToolFailed` when it leaves the memory directory or is no path at all."""
        problem = path_problem(raw)
        if problem is not None:
            raise ToolFailed(f"Refused: {argument} {problem}.")
        root = await self.root()
        text = raw.strip()
        if text in ("", "/", ".", ANTHROPIC_ROOT, self.memory_dir):
            return root
        if text.startswith(ANTHROPIC_ROOT + "/"):
            candidate = posixpath.join(root, text[len(ANTHROPIC_ROOT) + 1 :])
        elif posixpath.isabs(text):
            candidate = text
        elif text.startswith(self.memory_dir + "/"):
            candidate = await self.ws.resolve(text)
        else:
            candidate = posixpath.join(root, text)
        path = posixpath.normpath(candidate)
        if not inside(path, root):
            raise ToolFailed(f"Refused: {raw} is outside the memory directory ({self.memory_dir}).")
        if not inside(await self.ws.realpath(path), await self.ws.realpath(root)):
            raise ToolFailed(f"Refused: {raw} leads outside the memory directory ({self.memory_dir}) via a symlink.")
        return path

    async def exists(self, path: str, shown: str) -> bool:
        with _reported(shown):
            return await self.ws.exists(path)

    async def read_text(self, path: str, shown: str) -> str:
        with _reported(shown):
            data = await self.ws.read_bytes(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ToolFailed(f"{shown} is not a UTF-8 text file.") from error


def _numbered(text: str, view_range: list[int] | None, shown: str) -> str:
    lines = text.splitlines()
    start, end = 1, len(lines)
    if view_range is not None:
        if len(view_range) != 2:
            raise ModelRetry("view_range must be two integers: [start_line, end_line] (end_line -1 = to the end).")
        start, end = view_range[0], (len(lines) if view_range[1] == -1 else view_range[1])
        if start < 1 or end < start or start > max(len(lines), 1):
            raise ToolFailed(f"Invalid view_range {view_range}: {shown} has {len(lines)} lines.")
    body = "\n".join(f"{number:6d}\t{line}" for number, line in enumerate(lines[start - 1 : end], start=start))
    if len(body) > MAX_OUTPUT_CHARS:
        body = body[:MAX_OUTPUT_CHARS] + "\n[output truncated; use view_range to see the rest]"
    return f"Here's the content of {shown} with line numbers:\n{body}" if lines else f"{shown} is empty."


class _Commands:
    """One method per command; each returns the text the model reads."""

    def __init__(self, memory: _MemoryDir) -> None:
        self.mem = memory

    async def view(self, path: str, view_range: list[int] | None) -> str:
        resolved = await self.mem.resolve(path)
        root = await self.mem.root()
        shown = self.mem.shown(resolved, root)
        if resolved == root and not await self.mem.exists(root, shown):
            return f"The memory directory ({self.mem.memory_dir}) is empty."
        with _reported(shown):
            entry = await self.mem.ws.stat(resolved)
        if not entry.is_dir:
            return _numbered(await self.mem.read_text(resolved, shown), view_range, shown)
        lines = [f"{size}\t{self.mem.shown(item, root)}" for item, size in await self._listing(resolved, 2)]
        header = f"Files and directories up to 2 levels deep in {shown} (memory directory {self.mem.memory_dir}):"
        return "\n".join([header, *lines]) if lines else f"{shown} is empty."

    async def _listing(self, directory: str, depth: int) -> list[tuple[str, str]]:
        with _reported(directory):
            entries = sorted(await self.mem.ws.list_dir(directory), key=lambda entry: entry.name)
        listing: list[tuple[str, str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            listing.append((entry.path, "dir" if entry.is_dir else _size(entry.size)))
            if entry.is_dir and depth > 1:
                listing.extend(await self._listing(entry.path, depth - 1))
        return listing

    async def create(self, path: str, file_text: str) -> str:
        resolved = await self._file_path(path)
        shown = self.mem.shown(resolved, await self.mem.root())
        existed = await self.mem.exists(resolved, shown)
        with _reported(shown):
            await self.mem.ws.write_text(resolved, file_text)
        return f"File {'overwritten' if existed else 'created'}: {shown}"

    async def str_replace(self, path: str, old_str: str, new_str: str) -> str:
        resolved = await self._file_path(path)
        shown = self.mem.shown(resolved, await self.mem.root())
        text = await self.mem.read_text(resolved, shown)
        count = text.count(old_str)
        if count == 0:
            raise ToolFailed(f"No replacement was performed: old_str did not appear verbatim in {shown}.")
        if count > 1:
            lines = [str(n) for n, line in enumerate(text.splitlines(), start=1) if old_str in line]
            where = f" (lines {', '.join(lines)})" if lines else ""
            raise ToolFailed(f"No replacement was performed: old_str appears {count} times in {shown}{where}.")
        with _reported(shown):
            await self.mem.ws.write_text(resolved, text.replace(old_str, new_str, 1))
        return f"The memory file {shown} has been edited."

    async def insert(self, path: str, insert_line: int, insert_text: str) -> str:
        resolved = await self._file_path(path)
        shown = self.mem.shown(resolved, await self.mem.root())
        text = await self.mem.read_text(resolved, shown)
        lines = text.splitlines()
        if insert_line < 0 or insert_line > len(lines):
            raise ToolFailed(f"Invalid insert_line {insert_line}: it must be between 0 and {len(lines)} for {shown}.")
        updated = [*lines[:insert_line], *insert_text.splitlines(), *lines[insert_line:]]
        with _reported(shown):
            await self.mem.ws.write_text(resolved, "\n".join(updated) + "\n")
        return f"The text has been inserted after line {insert_line} of {shown}."

    async def delete(self, path: str) -> str:
        resolved = await self._file_path(path)
        shown = self.mem.shown(resolved, await self.mem.root())
        if not await self.mem.exists(resolved, shown):
            raise ToolFailed(f"The path {shown} does not exist in memory.")
        with _reported(shown):
            await self.mem.ws.remove(resolved)
        return f"Deleted {shown}."

    async def rename(self, old_path: str, new_path: str) -> str:
        root = await self.mem.root()
        source, target = await self._file_path(old_path, "old_path"), await self._file_path(new_path, "new_path")
        shown_source, shown_target = self.mem.shown(source, root), self.mem.shown(target, root)
        if not await self.mem.exists(source, shown_source):
            raise ToolFailed(f"The path {shown_source} does not exist in memory.")
        if await self.mem.exists(target, shown_target):
            raise ToolFailed(f"Cannot rename to {shown_target}: it already exists.")
        if inside(target, source):
            raise ToolFailed(f"Cannot move {shown_source} into itself.")
        with _reported(shown_source):
            await self._copy(source, target)
            await self.mem.ws.remove(source)
        return f"Renamed {shown_source} to {shown_target}."

    async def _copy(self, source: str, target: str) -> None:
        entry = await self.mem.ws.stat(source)
        if not entry.is_dir:
            await self.mem.ws.write_bytes(target, await self.mem.ws.read_bytes(source))
            return
        await self.mem.ws.make_dir(target)
        for child in await self.mem.ws.list_dir(source):
            await self._copy(child.path, posixpath.join(target, child.name))

    async def _file_path(self, path: str, argument: str = "path") -> str:
        resolved = await self.mem.resolve(path, argument)
        if resolved == await self.mem.root():
            raise ToolFailed("This operation needs a path inside the memory directory, not the directory itself.")
        return resolved


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size}B" if size < 1024 else f"{size / 1024:.1f}K"


def _require(command: str, **arguments: object) -> None:
    missing = [name for name, value in arguments.items() if value is None]
    if missing:
        raise ModelRetry(f"memory command {command!r} requires: {', '.join(missing)}.")


_Dispatch = Callable[[_Commands], Awaitable[str]]


def memory_tool(memory_dir: str = DEFAULT_MEMORY_DIR) -> Tool[None]:
    """The `memory` tool over `memory_dir` (relative to the workspace's working directory)."""

    async def memory(
        ctx: RunContext[None],
        *,
        command: MemoryCommand,
        path: str | None = None,
        file_text: str | None = None,
        old_str: str | None = None,
        new_str: str | None = None,
        insert_line: int | None = None,
        insert_text: str | None = None,
        old_path: str | None = None,
        new_path: str | None = None,
        view_range: list[int] | None = None,
    ) -> str:
        """Your persistent memory: a directory of notes that survives across sessions of this project.

        Keep progress notes, decisions, open questions and feature lists here so a later session can pick up
        where this one stopped. Keep INDEX.md as a short index of what each file holds: it is shown to you at the
        start of every session. Paths are relative to the memory directory (e.g. `notes.md`, `tasks/todo.md`).

        Commands:
        - view: show a file with line numbers (optionally `view_range` [start, end], end -1 = to the end), or list
          a directory (`path` "/" = the whole memory directory).
        - create: write `file_text` to `path` (creates or overwrites the file).
        - str_replace: replace the one exact occurrence of `old_str` in `path` with `new_str`.
        - insert: insert `insert_text` after line `insert_line` of `path` (0 = at the top).
        - delete: delete the file or directory at `path`.
        - rename: move `old_path` to `new_path` (never overwrites).

        Args:
            command: The operation: view, create, str_replace, insert, delete or rename.
            path: File or directory in the memory directory (view, create, str_replace, insert, delete).
            file_text: Full content of the file (create).
            old_str: Exact text to replace; must occur exactly once (str_replace).
            new_str: Replacement text; empty to delete old_str (str_replace).
            insert_line: Line number after which to insert; 0 for the top (insert).
            insert_text: Text to insert (insert).
            old_path: Current path (rename).
            new_path: New path (rename).
            view_range: Optional [start_line, end_line] for view of a file.
        """
        commands = _Commands(_MemoryDir(ctx.workspace, memory_dir))
        file_text, new_str = _text(file_text, "file_text"), _text(new_str, "new_str")
        insert_text = _text(insert_text, "insert_text")
        if command == "view":
            return await commands.view(path or "/", view_range)
        if command == "create":
            _require(command, path=path, file_text=file_text)
            return await commands.create(path or "", file_text or "")
        if command == "str_replace":
            _require(command, path=path, old_str=old_str)
            return await commands.str_replace(path or "", old_str or "", new_str or "")
        if command == "insert":
            _require(command, path=path, insert_line=insert_line, insert_text=insert_text)
            return await commands.insert(path or "", insert_line or 0, insert_text or "")
        if command == "delete":
            _require(command, path=path)
            return await commands.delete(path or "")
        _require(command, old_path=old_path, new_path=new_path)
        return await commands.rename(old_path or "", new_path or "")

    return cached_tool(memory, name="memory")


def memory_toolset(memory_dir: str = DEFAULT_MEMORY_DIR, *, max_retries: int = 3) -> FunctionToolset[None]:
    """A toolset holding the one `memory` tool over `memory_dir`."""
    return FunctionToolset[None]([memory_tool(memory_dir)], max_retries=max_retries)


async def load_memory_index(
    workspace: WorkspaceBackend, memory_dir: str = DEFAULT_MEMORY_DIR, *, max_lines: int = INDEX_MAX_LINES
) -> str | None:
    """The index file's text (first `max_lines` lines, at most 16 KiB, with a note when cut), or None if absent/empty.

    Reads through the workspace, with the tool's confinement: an index that is a symlink out of the memory
    directory is ignored (None), like a missing one.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    memory = _MemoryDir(ws, memory_dir)
    try:
        path = await memory.resolve(INDEX_FILE)
        if not await ws.exists(path):
            return None
        text = (await ws.read_bytes(path))[:INDEX_MAX_BYTES].decode("utf-8", errors="replace")
    except WorkspaceUnavailableError:
        raise
    except (ToolFailed, OSError, WorkspaceError):
        return None
    if not text.strip():
        return None
    lines = text.splitlines()
    if len(lines) > max_lines or len(text.encode()) >= INDEX_MAX_BYTES:
        kept = lines[:max_lines]
        return "\n".join(kept) + f"\n[index truncated after {len(kept)} lines; view {INDEX_FILE} for the rest]"
    return text.rstrip("\n")


def render_working_memory(index: str | None, memory_dir: str = DEFAULT_MEMORY_DIR) -> str:
    """The instructions section for working memory: how to use the `memory` tool, then the index if there is one."""
    guidance = (
        f"You have a persistent working memory: the `memory` tool over {memory_dir}/ in the workspace. Record "
        "progress, decisions and remaining work there as you go, so that a later session, which starts with only "
        f"{INDEX_FILE} in view, can continue; keep {INDEX_FILE} as a short index of your memory files."
    )
    if index is None:
        return f"{guidance}\nThe memory is empty: no {INDEX_FILE} yet."
    body = index.replace("</working-memory>", "&lt;/working-memory&gt;")
    return f'{guidance}\n<working-memory index="{memory_dir}/{INDEX_FILE}">\n{body}\n</working-memory>'
