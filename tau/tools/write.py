"""The `write` tool: create or overwrite a whole file, creating missing parent directories."""

from __future__ import annotations

from pydantic_ai import RunContext
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.limits import ToolLimits
from tau.tools.output import split_lines
from tau.tools.paths import checked, encoded


async def write_file(workspace: Workspace, file_path: str, content: str) -> str:
    path = await workspace.resolve(checked(file_path, "file_path"))
    data = encoded(content, "content")
    with reported(path):
        await workspace.write_bytes(path, data)
    # One wording for new and replaced files: the result then depends only on the call, which keeps recorded
    # cassettes replayable whatever the workspace held before.
    return f"Wrote {path} ({len(split_lines(content))} lines, {len(data)} bytes)"


def write_tool(limits: ToolLimits) -> Tool[None]:
    del limits  # writes are bounded by what the model sends

    async def write(ctx: RunContext[None], file_path: str, content: str) -> str:
        """Write a file in the workspace, replacing it if it exists.

        Creates missing parent directories. Prefer edit for changing part of an existing file; read a file before
        overwriting it.

        Args:
            file_path: Path of the file, absolute or relative to the working directory.
            content: The complete new content of the file.
        """
        return await write_file(ctx.workspace, file_path, content)

    return cached_tool(write, name="write")
