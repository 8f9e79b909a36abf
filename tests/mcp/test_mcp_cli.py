"""`tau mcp ls`: text and --json listings, --strict-mcp-config, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.mcp_cmd import mcp_group


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
    failed = runner.invoke(mcp_group, ["ls"])
    assert failed.exit_code == 1
    assert failed.output.startswith("gone: failed (stdio required: /nonexistent/x)\n  error: ")


def test_ls_malformed_config_is_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tau.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(mcp_group, ["ls", "--mcp-config", '{"mcpServers": {"x": {"type": "ws"}}}'])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("--mcp-config: mcpServers.x.type: unknown type 'ws'")
