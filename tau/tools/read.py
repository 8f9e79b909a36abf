"""The `read` tool: a text file with `cat -n` line numbers, a window of lines at a time.

Refuses directories, binary files (NUL bytes or not UTF-8) and files over `ToolLimits.max_file_bytes` with a message
instead of content. Whole output stays within `max_output_chars`, cut at a line boundary with a note saying which
`offset` continues.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace

from tau.tool_schemas import cached_tool
from tau.tools.failures import reported
from tau.tools.limits import ToolLimits
from tau.tools.output import clip_head, numbered, split_lines
from tau.tools.paths import checked

DEFAULT_LINE_LIMIT = 2000
_BINARY_SNIFF_BYTES = 8192


async def load_text(workspace: Workspace, path: str, limits: ToolLimits) -> str:
    """The file at `path` (absolute) as text, or `ToolFailed` for a directory, a binary file or an oversized one."""
    with reported(path):
        entry = await workspace.stat(path)
        if entry.is_dir:
            raise IsADirectoryError(path)
        if entry.size is not None and entry.size > limits.max_file_bytes:
            raise ToolFailed(_too_large(path, entry.size, limits))
        data = await workspace.read_bytes(path)
    if len(data) > limits.max_file_bytes:
        raise ToolFailed(_too_large(path, len(data), limits))
    text = decode_text(data)
    if text is None:
        raise ToolFailed(f"{path} is a binary file ({len(data)} bytes); its contents are not shown")
    return text


def decode_text(data: bytes) -> str | None:
    """UTF-8 text, or None for binary data (a NUL byte near the start, or invalid UTF-8)."""
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _too_large(path: str, size: int, limits: ToolLimits) -> str:
    return (
        f"{path} is {size} bytes, over the {limits.max_file_bytes}-byte read limit; "
        "inspect parts of it through bash (head, tail, sed -n, grep)"
    )


async def read_file(
    workspace: Workspace, file_path: str, offset: int | None, limit: int | None, limits: ToolLimits
) -> str:
    path = await workspace.resolve(checked(file_path, "file_path"))
    lines = split_lines(await load_text(workspace, path, limits))
    if not lines:
        return f"(file {path} is empty)"
    start = (offset or 1) - 1
    if start >= len(lines):
        raise ToolFailed(f"{path} has {len(lines)} lines; offset {offset} is past the end")
    end = min(len(lines), start + (limit or DEFAULT_LINE_LIMIT))
    body = "\n".join(numbered(number, line) for number, line in enumerate(lines[start:end], start=start + 1))
    shown = clip_head(body, limits.max_output_chars, "call read with a larger offset to continue")
    if shown == body and end < len(lines):
        shown += f"\n[showing lines {start + 1}-{end} of {len(lines)}; call read with offset={end + 1} to continue]"
    return shown


def read_tool(limits: ToolLimits) -> Tool[None]:
    async def read(
        ctx: RunContext[None],
        file_path: str,
        offset: Annotated[int, Field(ge=1)] | None = None,
        limit: Annotated[int, Field(ge=1)] | None = None,
    ) -> str:
        """Read a text file from the workspace.

        Returns lines in `cat -n` format: a 1-based line number, a tab, the line. Reads up to 2000 lines from the
        start by default; use offset and limit to page through longer files. Lines longer than 2000 characters are
        truncated. Binary files, directories and very large files are refused with a message. Read a file before
        editing it.

        Args:
            file_path: Path of the file, absolute or relative to the working directory.
            offset: 1-based line number to start reading from. Only needed for large files.
            limit: Number of lines to read. Only needed for large files.
        """
        return await read_file(ctx.workspace, file_path, offset, limit, limits)

    return cached_tool(read, name="read")
