"""The value objects events carry: environment, MCP server status, usage totals, a refused call.

Each is one shape per concept, used by every event that carries it (`usage` is a `UsageTotals` in `usage.updated`,
`subagent.completed` and `run.completed` alike). Every field has a description: `tau schema events` shows them and
tests/protocol fails on an undocumented one. Leaf module: imports nothing from tau.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EnvironmentInfo(BaseModel):
    """Where the run's tools execute."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["host", "docker"] = Field(
        default="host", description="`host` (tau's own machine, optionally under bubblewrap) or `docker`."
    )
    workspace: str = Field(description="The workspace directory as the tools see it (absolute path).")
    image: str | None = Field(default=None, description="The container image (docker only).")
    container: str | None = Field(default=None, description="The container name or id (docker only).")


class McpServerInfo(BaseModel):
    """One configured MCP server and whether the run could use it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The server's name as configured.")
    status: Literal["connected", "failed", "disabled"] = Field(
        description="`connected` (its tools are offered), `failed` (could not start; its tools are left out), "
        "`disabled` (turned off by configuration or left out, see `error`)."
    )
    tools: int = Field(default=0, description="How many of its tools the model is offered.")
    error: str | None = Field(
        default=None, description="Why a server failed, or the note on a disabled one (secrets masked)."
    )


class UsageTotals(BaseModel):
    """Token and request counts, summed over what the event covers (a run so far, a child agent, a whole run)."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = Field(default=0, description="Tokens sent to the model (cached ones included).")
    output_tokens: int = Field(default=0, description="Tokens the model generated.")
    cache_read_tokens: int = Field(default=0, description="Input tokens served from the provider's prompt cache.")
    cache_write_tokens: int = Field(default=0, description="Input tokens written to the provider's prompt cache.")
    requests: int = Field(default=0, description="Model requests made.")
    tool_calls: int = Field(default=0, description="Tool calls executed.")


class PermissionDenial(BaseModel):
    """A tool call the permission layer refused."""

    model_config = ConfigDict(frozen=True)

    call_id: str = Field(description="The tool call's id, as the model gave it.")
    tool: str = Field(description="The tool's name as tau shows it to the model (`bash`, `mcp__server__tool`).")
    input: dict[str, Any] = Field(description="The call's arguments.")
    reason: str = Field(description="Why it was refused (the rule or policy that decided).")
