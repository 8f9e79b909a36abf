"""The `bash` tool: one shell command through `ctx.workspace.run(..., shell=True)`.

The command runs under `bash -c` when the workspace has bash (probed once per workspace) — models write bash, and
`/bin/sh` is often dash — else under the workspace's `sh`. `exec` keeps it in the process group the backend kills.

A non-zero exit is a normal result showing the exit code. A timeout or the backend's output cap is a failed tool
result carrying the partial output (the backend has already stopped the command's process group). Output beyond
`max_output_chars` keeps its head and tail with a note of how much was cut.
"""

from __future__ import annotations

import shlex
from typing import Annotated

from pydantic import Field
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.workspaces import CommandResult, Workspace, WorkspaceOutputLimitError, WorkspaceTimeoutError

from tau.tool_schemas import cached_tool
from tau.tools.limits import ToolLimits
from tau.tools.output import clip_middle
from tau.tools.paths import checked_text
from tau.tools.probe import ProgramProbe


def format_streams(stdout: str, stderr: str, max_chars: int) -> str:
    """stdout and stderr as labelled sections (empty ones omitted), together within about `max_chars`."""
    if not stdout and not stderr:
        return "(no output)"
    budget = max_chars // 2 if stdout and stderr else max_chars
    sections: list[str] = []
    if stdout:
        sections.append("stdout:\n" + clip_middle(stdout.rstrip("\n"), budget))
    if stderr:
        sections.append("stderr:\n" + clip_middle(stderr.rstrip("\n"), budget))
    return "\n".join(sections)


def format_result(result: CommandResult, max_chars: int) -> str:
    return f"exit code: {result.exit_code}\n{format_streams(result.stdout, result.stderr, max_chars)}"


async def run_command(
    workspace: Workspace, command: str, timeout: float | None, limits: ToolLimits, *, use_bash: bool = True
) -> str:
    checked_text(command, "command")
    seconds = limits.bash_timeout if timeout is None else min(timeout, limits.bash_max_timeout)
    line = f"exec bash -c {shlex.quote(command)}" if use_bash else command
    try:
        result = await workspace.run(line, shell=True, timeout=seconds)
    except WorkspaceTimeoutError as error:
        partial = format_streams(error.stdout, error.stderr, limits.max_output_chars)
        raise ToolFailed(f"Command timed out after {seconds:g}s and was stopped. Partial output:\n{partial}") from error
    except WorkspaceOutputLimitError as error:
        partial = format_streams(error.stdout, error.stderr, limits.max_output_chars)
        raise ToolFailed(
            f"Command produced more than {error.limit} bytes of output and was stopped; redirect its output to a "
            f"file and read parts of it. Beginning of the output:\n{partial}"
        ) from error
    return format_result(result, limits.max_output_chars)


def bash_tool(limits: ToolLimits) -> Tool[None]:
    has_bash = ProgramProbe("bash")

    async def bash(
        ctx: RunContext[None],
        command: str,
        timeout: Annotated[float, Field(gt=0)] | None = None,
        description: str | None = None,
    ) -> str:
        """Run a shell command in the workspace and return its exit code, stdout and stderr.

        The command runs with `bash -c` (or `sh` where bash is missing) in the working directory. stdin is empty,
        so interactive programs get EOF. Each call is a fresh shell: `cd` and exported variables do not carry over.
        Long output is cut in the middle.
        Prefer read, edit, write, glob and grep for file work.

        Args:
            command: The command line to run.
            timeout: Seconds before the command is stopped (default and maximum are set by the operator).
            description: A short description of what the command does, for logs.
        """
        del description
        use_bash = await has_bash.available(ctx.workspace)
        return await run_command(ctx.workspace, command, timeout, limits, use_bash=use_bash)

    return cached_tool(bash, name="bash")
