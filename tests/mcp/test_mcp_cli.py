"""`tau mcp ls`: text and --json listings, --strict-mcp-config, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.mcp_cmd import mcp_group


@pytest.fixture(autouse=True)
def hermetic_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, trust store or login of the machine's user, and no TAU_* setting, reaches these commands."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in [n for n in os.environ if n.startswith("TAU_")]:
        monkeypatch.delenv(name)


def test_ls_json_and_text(time_command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"ignored": {"command": "/nonexistent"}}}))
    inline = json.dumps({"mcpServers": {"time": {"command": time_command[0], "args": time_command[1:]}}})
    runner = CliRunner()
    result = runner.invoke(mcp_group, ["ls", "--json", "--strict-mcp-config", "--mcp-config", inline])
    assert result.exit_code == 0, result.output
    [server] = json.loads(result.output)["servers"]
    assert server["name"] == "time" and server["status"] == "connected" and server["transport"] == "stdio"
    assert [t["name"] for t in server["tools"]] == ["mcp__time__get_current_time", "mcp__time__convert_time"]
    text = runner.invoke(mcp_group, ["ls", "--strict-mcp-config", "--mcp-config", inline])
    assert text.exit_code == 0
    assert text.output.startswith("time: 2 tools (stdio: ")
    assert "  mcp__time__convert_time  " in text.output


def test_ls_failed_server_exits_1_and_empty_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    empty = runner.invoke(mcp_group, ["ls"])
    assert empty.exit_code == 0 and "No MCP servers configured" in empty.output
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"gone": {"command": "/nonexistent/x", "required": True}}})
    )
    failed = runner.invoke(mcp_group, ["ls", "--trust-workspace"])
    assert failed.exit_code == 1
    assert failed.output.startswith("gone: failed (stdio required: /nonexistent/x)\n  error: ")


def test_ls_untrusted_project_server_is_listed_disabled_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "started"
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"evil": {"command": "/bin/sh", "args": ["-c", f"touch {canary}"]}}})
    )
    result = CliRunner().invoke(mcp_group, ["ls", "--json"])
    assert result.exit_code == 0, result.output
    [server] = json.loads(result.output)["servers"]
    assert (server["name"], server["status"]) == ("evil", "disabled")
    assert "untrusted workspace" in server["error"]
    assert not canary.exists()


def test_ls_follows_disabled_mcpjson_servers_of_a_trusted_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "started"
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"off": {"command": "/bin/sh", "args": ["-c", f"touch {canary}"]}}})
    )
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"disabledMcpjsonServers": ["off"]}))
    result = CliRunner().invoke(mcp_group, ["ls", "--json", "--trust-workspace"])
    assert result.exit_code == 0, result.output
    [server] = json.loads(result.output)["servers"]
    assert (server["name"], server["status"]) == ("off", "disabled")
    assert "disabledMcpjsonServers" in server["error"]
    assert not canary.exists()


def test_ls_malformed_config_is_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tau.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(mcp_group, ["ls", "--mcp-config", '{"mcpServers": {"x": {"type": "ws"}}}'])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("--mcp-config: mcpServers.x.type: unknown type 'ws'")
