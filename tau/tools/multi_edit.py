"""The `multi_edit` tool (Claude Code's `MultiEdit`): several exact string replacements in one file, all or none.

Arguments as Claude Code names them: `file_path` and `edits`, a list of `{old_string, new_string, replace_all?}`.
The edits apply in order, each to the text the previous ones produced, in memory; the file is written once, only
when every edit matched (unique unless `replace_all`) — a failing edit leaves the file untouched and the result says
which edit failed and why. An empty `old_string` in the first edit creates a file that does not exist yet (or fills
an empty one), like `edit`.

Invariants: the same path hygiene, workspace confinement and size/binary limits as `edit` (`checked`,
`workspace.resolve`, `load_text`); permissions treat `multi_edit` as an edit of `file_path` (`Edit(...)` rules cover
it, plan mode refuses it, protected paths ask), and checkpoints capture its file like `edit`'s.
"""

from __future__ import annotations

from typing import NotRequired

from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.limits import ToolLimits
from tau.tools.output import clip_head, numbered, split_lines
from tau.tools.paths import checked, encoded
from tau.tools.read import load_text

__all__ = ["MAX_EDITS", "EditOperation", "multi_edit_file", "multi_edit_tool"]

MAX_EDITS = 100
_CONTEXT = 2


class EditOperation(TypedDict):
    """One replacement of a `multi_edit` call."""

    old_string: str
    new_string: str
    replace_all: NotRequired[bool]


def _apply(content: str, number: int, edit: EditOperation, path: str) -> tuple[str, int, int]:
    """(new content, replacements, offset of the first one) or `ToolFailed`/`ModelRetry` naming edit `number`."""
    old, new = edit["old_string"], edit["new_string"]
    replace_all = bool(edit.get("replace_all", False))
    if old == new:
        raise ModelRetry(f"edit {number}: old_string and new_string are identical; there is nothing to change")
    encoded(new, f"edit {number} new_string")
    if old == "":
        raise ToolFailed(
            f"edit {number}: old_string is empty; only the first edit may have an empty old_string, to create "
            f"{path}. Nothing was changed"
        )
    count = content.count(old)
    if count == 0:
        raise ToolFailed(
            f"edit {number}: old_string was not found in {path} (after the edits before it). It must match the "
            "text exactly, including whitespace and indentation. Nothing was changed"
        )
    if count > 1 and not replace_all:
        raise ToolFailed(
            f"edit {number}: old_string occurs {count} times in {path}; include more context to make it unique, "
            "or set replace_all to true. Nothing was changed"
        )
    position = content.index(old)
    updated = content.replace(old, new) if replace_all else content.replace(old, new, 1)
    return updated, count if replace_all else 1, position


async def _start(workspace: Workspace, path: str, first: EditOperation, limits: ToolLimits) -> tuple[str, bool]:
    """(the text the edits apply to, whether the first edit creates the file)."""
    if first["old_string"] != "":
        return await load_text(workspace, path, limits), False
    with reported(path):
        exists = await workspace.exists(path)
    if exists and await load_text(workspace, path, limits):
        raise ToolFailed(
            f"edit 1: old_string is empty but {path} already has content; give the exact text to replace. "
            "Nothing was changed"
        )
    encoded(first["new_string"], "edit 1 new_string")
    return first["new_string"], True


def _region(content: str, offset: int, new_string: str) -> str:
    lines = split_lines(content)
    first = content.count("\n", 0, offset)
    last = min(first + new_string.count("\n"), first + 10)
    start, end = max(0, first - _CONTEXT), min(len(lines), last + _CONTEXT + 1)
    return "\n".join(numbered(number, line) for number, line in enumerate(lines[start:end], start=start + 1))


async def multi_edit_file(
    workspace: Workspace, file_path: str, edits: list[EditOperation], *, limits: ToolLimits
) -> str:
    if not edits:
        raise ModelRetry("edits is empty; give at least one {old_string, new_string} edit")
    if len(edits) > MAX_EDITS:
        raise ModelRetry(f"{len(edits)} edits in one call; at most {MAX_EDITS} (split the work over several calls)")
    path = await workspace.resolve(checked(file_path, "file_path"))
    content, created = await _start(workspace, path, edits[0], limits)
    rest = edits[1:] if created else edits
    first_number = 2 if created else 1
    replaced = 0
    for number, edit in enumerate(rest, start=first_number):
        content, count, _ = _apply(content, number, edit, path)
        replaced += count
    with reported(path):
        await workspace.write_bytes(path, content.encode("utf-8"))
    regions = []
    for number, edit in enumerate(edits, start=1):
        offset = content.find(edit["new_string"]) if edit["new_string"] else -1
        if offset >= 0 and not (created and number == 1):
            regions.append(f"edit {number}:\n{_region(content, offset, edit['new_string'])}")
    head = f"Created {path} ({len(split_lines(content))} lines)" if created else f"Edited {path}"
    summary = f"{head}: applied {len(edits)} edit(s), {replaced} replacement(s)."
    return clip_head("\n".join([summary, *regions]), limits.max_output_chars, "read the file to see the rest")


def multi_edit_tool(limits: ToolLimits) -> Tool[None]:
    async def multi_edit(ctx: RunContext[None], file_path: str, edits: list[EditOperation]) -> str:
        """Make several exact-text replacements in one file in a single call: all of them or none.

        The edits apply in order, each to the result of the ones before it. Every old_string must match exactly
        (whitespace and indentation included) and occur once unless replace_all is true; if any edit fails, the
        file is left unchanged. Read the file first. An empty old_string in the first edit creates a new file.

        Args:
            file_path: Path of the file, absolute or relative to the working directory.
            edits: The replacements, in order: each has old_string, new_string and optionally replace_all.
        """
        return await multi_edit_file(ctx.workspace, file_path, edits, limits=limits)

    return cached_tool(multi_edit, name="multi_edit")
