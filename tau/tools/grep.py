"""The `grep` tool: regex search over file contents, with Claude Code's arguments (`-i`, `-n`, `-A`, `-B`, `-C`).

Engine: ripgrep through `ctx.workspace.run` when the workspace has `rg` (probed once per workspace), else a pure
Python search over the workspace filesystem API. Both produce `FileHits`, rendered by one formatter, so the model
sees the same output either way. `engine=` pins one (tests, or an operator who wants no subprocess).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field
from pydantic_ai import RunContext
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import Workspace

from tau.tool_schemas import cached_tool
from tau.tools.glob import search_root
from tau.tools.grep_core import GrepRequest, OutputMode, format_hits
from tau.tools.grep_python import search_python
from tau.tools.grep_rg import search_rg
from tau.tools.limits import ToolLimits
from tau.tools.paths import checked_text
from tau.tools.probe import ProgramProbe

Engine = Literal["auto", "rg", "python"]
NonNegative = Annotated[int, Field(ge=0)]


@dataclass(frozen=True, kw_only=True)
class GrepArgs:
    """The model's arguments, after validation."""

    pattern: str
    path: str | None = None
    glob: str | None = None
    output_mode: OutputMode = "files_with_matches"
    ignore_case: bool = False
    line_numbers: bool = True
    after: int | None = None
    before: int | None = None
    context: int | None = None
    head_limit: int | None = None


async def grep_workspace(workspace: Workspace, args: GrepArgs, limits: ToolLimits, *, use_rg: bool) -> str:
    checked_text(args.pattern, "pattern")
    if args.glob is not None:
        checked_text(args.glob, "glob")
    root, root_is_dir = await search_root(workspace, args.path)
    request = GrepRequest(
        pattern=args.pattern,
        root=root,
        glob=args.glob,
        ignore_case=args.ignore_case,
        before=args.before if args.before is not None else (args.context or 0),
        after=args.after if args.after is not None else (args.context or 0),
        mode=args.output_mode,
    )
    if use_rg:
        hits = await search_rg(workspace, request, timeout=limits.bash_timeout)
    else:
        hits = await search_python(workspace, request, root_is_dir=root_is_dir, max_file_bytes=limits.max_file_bytes)
    return format_hits(
        hits, request, numbers=args.line_numbers, head_limit=args.head_limit, max_chars=limits.max_output_chars
    )


def grep_tool(limits: ToolLimits, *, engine: Engine = "auto") -> Tool[None]:
    has_rg = ProgramProbe("rg")

    async def grep(
        ctx: RunContext[None],
        *,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        output_mode: OutputMode = "files_with_matches",
        ignore_case: Annotated[bool, Field(alias="-i")] = False,
        line_numbers: Annotated[bool, Field(alias="-n")] = True,
        after: Annotated[NonNegative | None, Field(alias="-A")] = None,
        before: Annotated[NonNegative | None, Field(alias="-B")] = None,
        context: Annotated[NonNegative | None, Field(alias="-C")] = None,
        head_limit: Annotated[int, Field(ge=1)] | None = None,
    ) -> str:
        """Search file contents with a regular expression (ripgrep syntax).

        By default lists the files that contain a match. output_mode "content" shows matching lines as
        `path:line:text` (context lines as `path-line-text`, groups separated by `--`); "count" shows matching lines
        per file. Searches hidden files, skips .git and binary files. Use glob to find files by name.

        Args:
            pattern: The regular expression to search for, e.g. "def \\w+" or "TODO|FIXME".
            path: File or directory to search, absolute or relative to the working directory. Defaults to the
                working directory.
            glob: Only search files matching this glob, e.g. "*.py" or "src/**/*.{ts,tsx}".
            output_mode: "files_with_matches" (default), "content" or "count".
            ignore_case: Case-insensitive search.
            line_numbers: Show line numbers in content mode.
            after: Lines of context to show after each match (content mode).
            before: Lines of context to show before each match (content mode).
            context: Lines of context before and after each match (content mode).
            head_limit: Show only the first N entries (files, counts or lines).
        """
        args = GrepArgs(
            pattern=pattern,
            path=path,
            glob=glob,
            output_mode=output_mode,
            ignore_case=ignore_case,
            line_numbers=line_numbers,
            after=after,
            before=before,
            context=context,
            head_limit=head_limit,
        )
        use_rg = engine == "rg" or (engine == "auto" and await has_rg.available(ctx.workspace))
        return await grep_workspace(ctx.workspace, args, limits, use_rg=use_rg)

    return cached_tool(grep, name="grep")
