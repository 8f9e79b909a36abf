"""The pure rules of delegation: a child's permission mode and tools, the run-start notice about tools a definition
asks for and will not get, and how a tool call tells it runs inside a subagent.

Invariants: a child never has more than its parent — its mode is the more restrictive of the two, its tools a subset
of the parent's (`DERIVED_TOOLS` give a tool the parent has under Claude Code's other name for it: `ls` is a `read`
of a directory, `multi_edit` several `edit`s). Pure: no I/O. Re-exported by `tau.runtime.features.subagents`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic_ai import RunContext

from tau.config.spec import PermissionMode
from tau.runtime.features.agent_defs import TASK_TOOL, AgentDefinition, ClaudePermissionMode, missing_reason

__all__ = [
    "DERIVED_TOOLS",
    "SUBAGENT_DEPTH",
    "child_permission_mode",
    "child_tools",
    "subagent_depth",
    "tool_notice",
]

SUBAGENT_DEPTH = "tau_subagent_depth"
"""The run-metadata key a subagent's run carries its depth under (the top-level run has none: depth 0)."""
DERIVED_TOOLS: Mapping[str, str] = {"ls": "read", "multi_edit": "edit"}
"""Built-in tools a child gets when its allowlist names them and the parent has the tool that grants the same."""
_RANK: dict[ClaudePermissionMode, int] = {
    "plan": 0,
    "dontAsk": 1,
    "default": 2,
    "acceptEdits": 3,
    "bypassPermissions": 4,
}


def child_permission_mode(
    parent: PermissionMode, requested: ClaudePermissionMode | None
) -> tuple[PermissionMode, bool]:
    """(tau mode, deny_asks): the more restrictive of the parent's mode and the definition's `permissionMode`."""
    chosen: ClaudePermissionMode = parent
    if requested is not None and _RANK[requested] < _RANK[parent]:
        chosen = requested
    if chosen == "dontAsk":
        return "default", True
    return chosen, False


def _offered(definition: AgentDefinition, parent_tools: Collection[str]) -> set[str]:
    offered = set(parent_tools) | {TASK_TOOL}
    if definition.tools is not None:
        offered |= {name for name, base in DERIVED_TOOLS.items() if base in offered and name in definition.tools}
    return offered


def child_tools(definition: AgentDefinition, parent_tools: Collection[str], *, may_delegate: bool) -> frozenset[str]:
    """The tool names a child of `definition` sees: never more than the parent has (`DERIVED_TOOLS` grant the
    access of a parent tool under Claude Code's other name for it)."""
    offered = _offered(definition, parent_tools)
    tools = offered if definition.tools is None else offered & set(definition.tools)
    tools -= set(definition.disallowed_tools)
    if not may_delegate:
        tools.discard(TASK_TOOL)
    return frozenset(tools)


def tool_notice(definitions: Sequence[AgentDefinition], parent_tools: Collection[str]) -> str | None:
    """One line naming, per definition, the `tools:` entries its child will not get and what it runs with instead;
    None when every definition gets what it asks for."""
    parts: list[str] = []
    for definition in definitions:
        if definition.tools is None:
            continue
        offered = _offered(definition, parent_tools)
        absent = [f"{name} ({missing_reason(name)})" for name in definition.missing_tools]
        absent += [f"{name} (not in this run)" for name in definition.tools if name not in offered]
        if not absent:
            continue
        granted = sorted(child_tools(definition, parent_tools, may_delegate=False))
        runs_with = ", ".join(granted) if granted else "no tools at all"
        parts.append(f"{definition.name} asks for {', '.join(absent)}; it runs with {runs_with}")
    if not parts:
        return None
    web = any(name in ("WebFetch", "WebSearch") for d in definitions for name in d.missing_tools)
    hint = " (an MCP server can provide web fetching or search: its tools are mcp__<server>__<tool>)" if web else ""
    return "subagent tools not available, not granted: " + "; ".join(parts) + hint


def subagent_depth(ctx: RunContext[Any]) -> int:
    """0 for a tool call of the top-level run, the child's depth for a call made inside a subagent."""
    depth = (ctx.metadata or {}).get(SUBAGENT_DEPTH, 0)
    return depth if isinstance(depth, int) else 0
