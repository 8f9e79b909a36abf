"""tau's built-in tools — read, write, edit, bash, glob, grep (+ ls, multi_edit on request) — as one `FunctionToolset`.

Every tool is a small async function over `ctx.workspace` (DESIGN.md §1 principle 2): no tool imports subprocess,
os or pathlib I/O, so the same tools work on the host backend and in the docker sandbox. Names and argument names
follow Claude Code (`file_path`, `old_string`, `-i`, ...) so prompts and hook payloads carry over.

Errors the model can act on come back as tool results (see `tau.tools.failures` for which are `ToolFailed` and
which `ModelRetry`); only a dead environment ends the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic_ai.tools import Tool
from pydantic_ai.toolsets import FunctionToolset

from tau.errors import ConfigError
from tau.tools.bash import bash_tool
from tau.tools.edit import edit_tool
from tau.tools.glob import glob_tool
from tau.tools.grep import grep_tool
from tau.tools.limits import ToolLimits
from tau.tools.ls import ls_tool
from tau.tools.multi_edit import multi_edit_tool
from tau.tools.read import read_tool
from tau.tools.write import write_tool

__all__ = ["TOOL_FACTORIES", "ToolLimits", "build_toolset"]

TOOL_FACTORIES: dict[str, Callable[[ToolLimits], Tool[None]]] = {
    "read": read_tool,
    "write": write_tool,
    "edit": edit_tool,
    "bash": bash_tool,
    "glob": glob_tool,
    "grep": grep_tool,
    # Claude Code's LS and MultiEdit: not in a run's default tools; subagent definitions that name them get them
    "ls": ls_tool,
    "multi_edit": multi_edit_tool,
}


def build_toolset(names: Sequence[str], *, limits: ToolLimits) -> FunctionToolset[None]:
    """The built-in tools named in `names` (in that order), bounded by `limits`.

    Raises:
        ConfigError: a name that is not a built-in tool.
    """
    unknown = [name for name in names if name not in TOOL_FACTORIES]
    if unknown:
        known = ", ".join(TOOL_FACTORIES)
        raise ConfigError(f"unknown built-in tool(s): {', '.join(unknown)} (known: {known})")
    tools = [TOOL_FACTORIES[name](limits) for name in dict.fromkeys(names)]
    return FunctionToolset[None](tools, max_retries=limits.max_retries)
