"""The `edit` tool: exact string replacement in a file, unique unless `replace_all`.

An empty `old_string` creates a file that does not exist yet (or fills an empty one). The result names the file,
the number of replacements, and shows the edited region with line numbers so the model can check it.
"""

from __future__ import annotations

from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.limits import ToolLimits
from tau.tools.output import numbered, split_lines
from tau.tools.paths import checked, encoded
from tau.tools.read import load_text

_SNIPPET_CONTEXT = 3
_SNIPPET_MAX_LINES = 30


async def _create(workspace: Workspace, path: str, new_string: str, limits: ToolLimits) -> str:
    with reported(path):
        exists = await workspace.exists(path)
    if exists and await load_text(workspace, path, limits):
        raise ToolFailed(
            f"old_string is empty but {path} already has content; give the exact text to replace, "
            "or use write to replace the whole file"
        )
    with reported(path):
        await workspace.write_bytes(path, new_string.encode("utf-8"))
    return f"Created {path} ({len(split_lines(new_string))} lines)"


def _snippet(content: str, position: int, new_string: str) -> str:
    lines = split_lines(content)
    first = content.count("\n", 0, position)
    last = first + new_string.count("\n")
    start = max(0, first - _SNIPPET_CONTEXT)
    end = min(len(lines), last + _SNIPPET_CONTEXT + 1, start + _SNIPPET_MAX_LINES)
    return "\n".join(numbered(number, line) for number, line in enumerate(lines[start:end], start=start + 1))


async def edit_file(
    workspace: Workspace, file_path: str, old_string: str, new_string: str, *, replace_all: bool, limits: ToolLimits
) -> str:
    if old_string == new_string:
        raise ModelRetry("old_string and new_string are identical; there is nothing to change")
    path = await workspace.resolve(checked(file_path, "file_path"))
    encoded(new_string, "new_string")
    if old_string == "":
        return await _create(workspace, path, new_string, limits)
    content = await load_text(workspace, path, limits)
    count = content.count(old_string)
    if count == 0:
        raise ToolFailed(
            f"old_string was not found in {path}. It must match the file exactly, including whitespace and "
            "indentation; read the file and copy the text"
        )
    if count > 1 and not replace_all:
        raise ToolFailed(
            f"old_string occurs {count} times in {path}; include more surrounding context to make it unique, "
            "or set replace_all to true to replace every occurrence"
        )
    position = content.index(old_string)
    updated = content.replace(old_string, new_string) if replace_all else content.replace(old_string, new_string, 1)
    with reported(path):
        await workspace.write_bytes(path, updated.encode("utf-8"))
    replaced = f"{count} occurrences" if replace_all and count > 1 else "1 occurrence"
    return f"Edited {path}: replaced {replaced}.\n{_snippet(updated, position, new_string)}"


def edit_tool(limits: ToolLimits) -> Tool[None]:
    async def edit(
        ctx: RunContext[None], file_path: str, old_string: str, new_string: str, replace_all: bool = False
    ) -> str:
        """Replace exact text in a file.

        old_string must match the file exactly (whitespace and indentation included; do not include the line-number
        prefix that read shows) and must occur exactly once unless replace_all is true. Read the file first. An empty
        old_string creates a new file containing new_string.

        Args:
            file_path: Path of the file, absolute or relative to the working directory.
            old_string: The exact text to replace.
            new_string: The text to put in its place; must differ from old_string.
            replace_all: Replace every occurrence instead of requiring a unique match.
        """
        return await edit_file(ctx.workspace, file_path, old_string, new_string, replace_all=replace_all, limits=limits)

    return cached_tool(edit, name="edit")
