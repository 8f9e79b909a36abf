"""A cloned repository's `.mcp.json`, through real `tau run` subprocesses with a replayed scripted model.

The clone ships a real stdio MCP server (`tools/mcp/server.py`, on the MCP SDK's `MCPServer`, formerly FastMCP) that
writes a marker file the moment it starts, so "never started" is observable. Each case asserts what Claude Code does,
under tau's workspace trust:

- untrusted: no project server starts (no marker), the run says so in one notice with how to trust, and
  `session.started` lists the server `disabled` with the reason; after `tau trust` it starts and the scripted model
  calls its tool;
- trusted: `enableAllProjectMcpServers: false`, `enabledMcpjsonServers` and `disabledMcpjsonServers` decide which
  servers start (with no key, all do);
- plugin-format `.mcp.json` (servers at the top level, no `mcpServers` wrapper) starts like the wrapped form;
- trust is pinned to content: a `git pull`-like change to `.mcp.json` or to hooks after `tau trust` untrusts the
  workspace again, with a notice naming the changed file, until `tau trust` runs again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from compat_hooks_kit import Clone, Sandbox, TauResult

from tau.testing import calls, reply

SERVER = '''"""The repository's ticket tracker, as an MCP server (stdio)."""

import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

NAME = sys.argv[1]
marker = Path(os.environ["MCP_MARKER_DIR"]) / f"{NAME}.started"
marker.parent.mkdir(parents=True, exist_ok=True)
marker.write_text(str(os.getpid()))

server = MCPServer(NAME)


@server.tool()
def lookup_ticket(ticket: str) -> str:
    """Title and state of a ticket."""
    return f"{ticket}: login page returns 500 (open, served by {NAME})"


if __name__ == "__main__":
    server.run("stdio")
'''

TOOL = "mcp__tickets__lookup_ticket"
HINT = "trust it with `tau trust {root}`, --trust-workspace or TAU_TRUST_WORKSPACE=1"


def server_entry(name: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["tools/mcp/server.py", name], "env": {"MCP_MARKER_DIR": "../hook-out"}}


def make_clone(tmp_path: Path, *names: str, plugin: bool = False, settings: dict[str, Any] | None = None) -> Clone:
    clone = Clone(Sandbox(tmp_path / "box"))
    clone.box.write(".git/HEAD", "ref: refs/heads/main\n")
    clone.box.write("tools/mcp/server.py", SERVER)
    write_mcp_json(clone, *names, plugin=plugin)
    clone.claude_settings({"permissions": {"allow": ["mcp__tickets", "mcp__metrics"]}, **(settings or {})})
    return clone


def write_mcp_json(clone: Clone, *names: str, plugin: bool = False) -> None:
    servers = {name: server_entry(name) for name in names}
    clone.box.write(".mcp.json", json.dumps(servers if plugin else {"mcpServers": servers}, indent=2))


def run(clone: Clone, args: list[str], steps: list[Any], name: str = "run") -> TauResult:
    """Record in-process (servers start there too), clear their markers, replay through the CLI."""
    cassette = clone.record(args, steps, name=name)
    return clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")


def started_servers(clone: Clone) -> list[str]:
    return sorted(path.name.removesuffix(".started") for path in clone.out.glob("*.started"))


def mcp_status(result: TauResult) -> dict[str, tuple[str, str | None]]:
    first = result.lines[0]
    assert first["type"] == "session.started", result
    return {server["name"]: (server["status"], server.get("error")) for server in first["mcp"]}


def notices(result: TauResult) -> list[str]:
    return [line["message"] for line in result.lines if line["type"] == "notice.emitted"]


def tool_outputs(result: TauResult) -> list[tuple[str, str]]:
    return [(line["status"], line["output"]) for line in result.lines if line["type"] == "tool.completed"]


def lookup_steps() -> list[Any]:
    return [calls((TOOL, {"ticket": "T-42"}), text="Looking it up."), reply("T-42 is open.")]


ASK = ["-p", "What is the state of T-42?"]
UNTRUSTED = "project server not started: untrusted workspace"


def test_an_untrusted_clone_starts_no_project_server_until_tau_trust(tmp_path: Path) -> None:
    clone = make_clone(tmp_path, "tickets")
    result = run(clone, ASK, [reply("I cannot look tickets up here.")], name="untrusted")
    assert result.returncode == 0, result
    assert started_servers(clone) == []
    assert mcp_status(result) == {"tickets": ("disabled", UNTRUSTED)}
    assert TOOL not in result.lines[0]["tools"]
    hint = HINT.format(root=clone.box.work)
    mcp_notices = [n for n in notices(result) if "MCP" in n]
    assert mcp_notices == [f"untrusted workspace: did not start project MCP servers tickets — {hint}"]

    trusted = clone.tau("trust")
    assert trusted.returncode == 0, trusted
    result = run(clone, ASK, lookup_steps(), name="trusted")
    assert result.returncode == 0, result
    assert started_servers(clone) == ["tickets"]
    assert mcp_status(result) == {"tickets": ("connected", None)}
    assert tool_outputs(result) == [("success", "T-42: login page returns 500 (open, served by tickets)")]
    assert not [n for n in notices(result) if "untrusted" in n]


@pytest.mark.parametrize(
    ("settings", "want"),
    [
        ({}, {"tickets": ("connected", None), "metrics": ("connected", None)}),
        (
            {"enableAllProjectMcpServers": False},
            {
                "tickets": ("disabled", "project server not approved (enabledMcpjsonServers)"),
                "metrics": ("disabled", "project server not approved (enabledMcpjsonServers)"),
            },
        ),
        (
            {"enabledMcpjsonServers": ["tickets"]},
            {
                "tickets": ("connected", None),
                "metrics": ("disabled", "project server not approved (enabledMcpjsonServers)"),
            },
        ),
        (
            {"enableAllProjectMcpServers": True, "disabledMcpjsonServers": ["metrics"]},
            {"tickets": ("connected", None), "metrics": ("disabled", "listed in disabledMcpjsonServers")},
        ),
    ],
    ids=["no keys", "enableAll false", "enabled list", "disabled list"],
)
def test_approval_keys_decide_in_a_trusted_workspace(
    tmp_path: Path, settings: dict[str, Any], want: dict[str, tuple[str, str | None]]
) -> None:
    clone = make_clone(tmp_path, "tickets", "metrics", settings=settings)
    args = [*ASK, "--trust-workspace"]
    result = run(clone, args, [reply("Listed.")])
    assert result.returncode == 0, result
    assert mcp_status(result) == want
    assert started_servers(clone) == sorted(name for name, (status, _) in want.items() if status == "connected")


def test_a_plugin_format_mcp_json_starts_like_the_wrapped_one(tmp_path: Path) -> None:
    clone = make_clone(tmp_path, "tickets", plugin=True)
    assert "mcpServers" not in json.loads((clone.box.work / ".mcp.json").read_text())
    result = run(clone, [*ASK, "--trust-workspace"], lookup_steps())
    assert result.returncode == 0, result
    assert started_servers(clone) == ["tickets"]
    assert tool_outputs(result) == [("success", "T-42: login page returns 500 (open, served by tickets)")]


HOOK = {"PostToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "touch ../hook-out/hook.ran"}]}]}


def pull_server(clone: Clone) -> None:
    write_mcp_json(clone, "tickets", "metrics")


def pull_hook(clone: Clone) -> None:
    clone.claude_settings({"permissions": {"allow": ["mcp__tickets", "mcp__metrics"]}, "hooks": HOOK})


def pull_local(clone: Clone) -> None:
    clone.box.write(".claude/settings.local.json", json.dumps({"permissions": {"allow": ["Bash"]}}))


@pytest.mark.parametrize(
    ("change", "changed"),
    [(pull_server, ".mcp.json"), (pull_hook, ".claude/settings.json"), (pull_local, ".claude/settings.local.json")],
    ids=["server added", "hook added", "local settings appear"],
)
def test_a_change_after_tau_trust_asks_again(tmp_path: Path, change: Any, changed: str) -> None:
    clone = make_clone(tmp_path, "tickets")
    assert clone.tau("trust").returncode == 0
    result = run(clone, ASK, lookup_steps(), name="before")
    assert result.returncode == 0, result
    assert started_servers(clone) == ["tickets"]

    change(clone)  # what a `git pull` brings
    result = run(clone, ASK, [reply("No tools.")], name="after")
    assert result.returncode == 0, result
    assert started_servers(clone) == []
    assert not (clone.out / "hook.ran").exists()
    root = str(clone.box.work)
    hint = HINT.format(root=root)
    assert notices(result)[0] == f"untrusted workspace: {root}: changed since `tau trust`: {changed} — {hint}"
    assert {name: status for name, (status, _) in mcp_status(result).items()} == {
        name: "disabled" for name in json.loads((clone.box.work / ".mcp.json").read_text())["mcpServers"]
    }
    status = clone.tau("trust", "--check")
    assert status.stdout == f"{root}: untrusted (changed since `tau trust`: {changed})\n"

    assert clone.tau("trust").returncode == 0
    result = run(clone, ASK, lookup_steps(), name="again")
    assert result.returncode == 0, result
    assert "tickets" in started_servers(clone)
    assert tool_outputs(result) == [("success", "T-42: login page returns 500 (open, served by tickets)")]
    assert (clone.out / "hook.ran").exists() == (change is pull_hook)  # the pulled hook runs once trusted
