"""The pure rules of delegation: a child's permission mode, its tools, and its session id."""

from __future__ import annotations

import pytest

from tau.config.spec import PermissionMode
from tau.runtime.features.agent_defs import AgentDefinition, ClaudePermissionMode
from tau.runtime.features.subagents import child_permission_mode, child_session_id, child_tools, tool_notice
from tau.sessions.refs import SESSION_ID

PARENT = ["read", "write", "edit", "bash", "glob", "grep", "mcp__gh__search"]


@pytest.mark.parametrize(
    ("parent", "requested", "expected"),
    [
        ("default", None, ("default", False)),
        ("default", "bypassPermissions", ("default", False)),  # never escalates
        ("plan", "acceptEdits", ("plan", False)),
        ("acceptEdits", "plan", ("plan", False)),
        ("bypassPermissions", "acceptEdits", ("acceptEdits", False)),
        ("acceptEdits", "dontAsk", ("default", True)),
        ("plan", "dontAsk", ("plan", False)),
    ],
)
def test_child_mode_is_the_more_restrictive(
    parent: PermissionMode, requested: ClaudePermissionMode | None, expected: tuple[str, bool]
) -> None:
    assert child_permission_mode(parent, requested) == expected


def definition(tools: tuple[str, ...] | None, disallowed: tuple[str, ...] = ()) -> AgentDefinition:
    return AgentDefinition(name="a", description="d", prompt="p", tools=tools, disallowed_tools=disallowed)


def test_child_tools_never_exceed_the_parent() -> None:
    assert child_tools(definition(None), PARENT, may_delegate=True) == {*PARENT, "task"}
    assert child_tools(definition(None, ("bash", "task")), PARENT, may_delegate=True) == set(PARENT) - {"bash"}
    assert child_tools(definition(("read", "webfetch", "mcp__gh__other")), PARENT, may_delegate=True) == {"read"}
    assert child_tools(definition(("read", "task")), ["read"], may_delegate=False) == {"read"}
    assert child_tools(definition(()), PARENT, may_delegate=True) == frozenset()


def test_ls_and_multi_edit_come_with_the_parent_tool_that_grants_the_same() -> None:
    asks = definition(("read", "ls", "multi_edit", "mcp__gh__search"))
    assert child_tools(asks, PARENT, may_delegate=True) == {"read", "ls", "multi_edit", "mcp__gh__search"}
    assert child_tools(asks, ["read", "glob"], may_delegate=True) == {"read", "ls"}  # no edit: no multi_edit
    assert child_tools(asks, ["glob"], may_delegate=True) == frozenset()
    assert "ls" not in child_tools(definition(None), PARENT, may_delegate=True)  # inheriting: the parent's tools
    disallowed = AgentDefinition("a", "d", "p", tools=("edit", "multi_edit"), disallowed_tools=("multi_edit",))
    assert child_tools(disallowed, PARENT, may_delegate=True) == {"edit"}


def test_the_tool_notice_names_what_each_child_misses_and_runs_with() -> None:
    researcher = AgentDefinition(
        "researcher", "d", "p", tools=("read", "grep"), missing_tools=("WebSearch", "WebFetch", "NotebookEdit")
    )
    web_only = AgentDefinition("web", "d", "p", tools=(), missing_tools=("WebSearch",))
    shell = AgentDefinition("shell", "d", "p", tools=("bash", "mcp__jira__create"))
    fine = AgentDefinition("fine", "d", "p", tools=("read", "ls"))
    inherit = AgentDefinition("inherit", "d", "p")
    notice = tool_notice([researcher, web_only, shell, fine, inherit], ["read", "grep", "glob"])
    assert notice == (
        "subagent tools not available, not granted: "
        "researcher asks for WebSearch (no web tools in tau), WebFetch (no web tools in tau), NotebookEdit (no such "
        "tool in tau); it runs with grep, read; "
        "web asks for WebSearch (no web tools in tau); it runs with no tools at all; "
        "shell asks for bash (not in this run), mcp__jira__create (not in this run); it runs with no tools at all "
        "(an MCP server can provide web fetching or search: its tools are mcp__<server>__<tool>)"
    )
    assert tool_notice([fine, inherit], ["read"]) is None


@pytest.mark.parametrize(
    ("parent", "call_id", "expected"),
    [
        ("p1", "call_1_0", "p1.task-call_1_0"),
        ("p1", "toolu_01/A B", "p1.task-toolu_01-A-B"),
        ("p1", "///", "p1.task-call"),
    ],
)
def test_child_session_ids(parent: str, call_id: str, expected: str) -> None:
    assert child_session_id(parent, call_id) == expected


def test_long_child_session_ids_stay_valid() -> None:
    session_id = child_session_id("p" * 120, "c" * 60)
    assert len(session_id) <= 128
    assert SESSION_ID.fullmatch(session_id)
    assert session_id != child_session_id("p" * 120, "c" * 61)
