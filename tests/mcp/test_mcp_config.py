"""The `.mcp.json` loader: shapes, `${VAR}` expansion (Claude Code's rules), sources, and errors that name the file
and the server. Pure: no server is started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tau.errors import ConfigError
from tau.mcp import McpServerConfig, McpTimeouts, expand_vars, find_project_file, load_servers, parse_server

ENV = {"HOME": "/home/u", "TOKEN": "s3cret", "EMPTY": "", "PORT": "8080"}


def server(raw: dict[str, Any], *, env: dict[str, str] | None = None, name: str = "s") -> McpServerConfig:
    return parse_server(name, raw, source="test.json", env=ENV if env is None else env, base_dir=Path("/cfg"))


@pytest.mark.parametrize(
    ("text", "expanded", "missing"),
    [
        ("${TOKEN}", "s3cret", []),
        ("Bearer ${TOKEN}", "Bearer s3cret", []),
        ("${HOME}/x:${PORT}", "/home/u/x:8080", []),
        ("$TOKEN", "$TOKEN", []),  # $VAR never expands
        ("$$TOKEN", "$$TOKEN", []),
        ("${NOPE:-fallback}", "fallback", []),
        ("${NOPE:-}", "", []),
        ("${NOPE:-a b/c}", "a b/c", []),
        ("${TOKEN:-fallback}", "s3cret", []),
        ("${EMPTY:-fallback}", "", []),  # set-but-empty wins over the default, as in Claude Code
        ("${NOPE}", "${NOPE}", ["NOPE"]),  # unset: left literal and reported
        ("${NOPE}-${NOPE}-${ALSO}", "${NOPE}-${NOPE}-${ALSO}", ["NOPE", "ALSO"]),
        ("${1BAD}", "${1BAD}", []),  # not a variable name: untouched
        ("${}", "${}", []),
        ("no vars", "no vars", []),
    ],
)
def test_expansion_table(text: str, expanded: str, missing: list[str]) -> None:
    seen: list[str] = []
    assert expand_vars(text, ENV, seen) == expanded
    assert seen == missing


def test_expansion_applies_to_command_args_env_url_headers() -> None:
    stdio = server(
        {
            "command": "${HOME}/bin/srv",
            "args": ["--port", "${PORT}", "$TOKEN"],
            "env": {"T": "${TOKEN}"},
            "cwd": "${HOME}",
        }
    )
    assert stdio.command == "/home/u/bin/srv"
    assert stdio.args == ("--port", "8080", "$TOKEN")
    assert stdio.env == {"T": "s3cret"}
    assert stdio.cwd == "/home/u"
    http = server({"type": "http", "url": "http://h:${PORT}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}})
    assert http.url == "http://h:8080/mcp"
    assert http.headers == {"Authorization": "Bearer s3cret"}
    assert http.missing_vars == ()


def test_unset_variable_marks_the_server_not_the_file() -> None:
    config = server({"type": "http", "url": "http://h/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}"}})
    assert config.missing_vars == ("API_TOKEN",)
    assert config.headers == {"Authorization": "Bearer ${API_TOKEN}"}


@pytest.mark.parametrize(
    ("raw", "transport"),
    [
        ({"command": "x"}, "stdio"),
        ({"type": "stdio", "command": "x"}, "stdio"),
        ({"type": "http", "url": "http://h/mcp"}, "http"),
        ({"type": "streamable-http", "url": "http://h/mcp"}, "http"),
        ({"type": "streamableHttp", "url": "http://h/mcp"}, "http"),
        ({"type": "sse", "url": "http://h/events"}, "sse"),
        ({"url": "http://h/mcp"}, "http"),
        ({"url": "http://h/sse"}, "sse"),
        ({"httpUrl": "http://h/mcp"}, "http"),  # Gemini CLI alias
    ],
)
def test_transport_types(raw: dict[str, Any], transport: str) -> None:
    assert server(raw).transport == transport


def test_extras_and_timeout_in_milliseconds() -> None:
    config = server(
        {
            "command": "x",
            "cwd": "sub",
            "timeout": 2500,
            "includeTools": ["a", "b"],
            "excludeTools": ["b"],
            "required": True,
            "host": True,
            "disabled": True,
            "someOtherClientKey": {"ignored": True},
        }
    )
    assert config.cwd == "/cfg/sub"  # relative to the config file's directory
    assert config.startup_timeout_s == 2.5
    assert config.include_tools == ("a", "b") and config.exclude_tools == ("b",)
    assert config.required and config.host and config.disabled


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        ({"type": "websocket", "url": "ws://h"}, "type", "unknown type"),
        ({"type": "http"}, "url", "needs `url`"),
        ({"type": "stdio"}, "command", "needs `command`"),
        ({}, "command", "needs `command`"),
        ({"command": 3}, "command", "must be a string"),
        ({"command": "x", "args": "a b"}, "args", "list of strings"),
        ({"command": "x", "env": {"A": 1}}, "env", "string values"),
        ({"command": "x", "required": "yes"}, "required", "true or false"),
        ({"command": "x", "timeout": -1}, "timeout", "milliseconds"),
    ],
)
def test_malformed_server_names_file_server_and_key(raw: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        server(raw, name="broken")
    message = str(caught.value)
    assert message.startswith(f"test.json: mcpServers.broken.{field}:")
    assert problem in message


def write(path: Path, servers: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def test_project_file_is_nearest_up_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    write(tmp_path / ".mcp.json", {"outside": {"command": "x"}})
    root_file = write(tmp_path / "repo" / ".mcp.json", {"root": {"command": "x"}})
    deep = tmp_path / "repo" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_file(deep) == root_file
    nearer = write(tmp_path / "repo" / "a" / ".mcp.json", {"a": {"command": "x"}})
    assert find_project_file(deep) == nearer
    assert [s.name for s in load_servers(env={}, cwd=deep)] == ["a"]


def test_no_root_means_only_cwd(tmp_path: Path) -> None:
    write(tmp_path / ".mcp.json", {"up": {"command": "x"}})
    (tmp_path / "sub").mkdir()
    assert find_project_file(tmp_path / "sub") is None
    assert find_project_file(tmp_path) == tmp_path / ".mcp.json"


def test_sources_order_inline_json_and_strict(tmp_path: Path) -> None:
    (tmp_path / ".tau").mkdir()
    write(tmp_path / ".mcp.json", {"a": {"command": "project-a"}, "b": {"command": "project-b"}})
    extra = write(tmp_path / "extra.json", {"b": {"command": "file-b"}})
    inline = json.dumps({"mcpServers": {"c": {"type": "http", "url": "http://h/mcp"}}})
    servers = load_servers([str(extra), inline], env={}, cwd=tmp_path)
    assert [(s.name, s.command or s.url) for s in servers] == [
        ("a", "project-a"),
        ("b", "file-b"),
        ("c", "http://h/mcp"),
    ]
    assert servers[1].source == str(extra) and servers[2].source == "--mcp-config"
    strict = load_servers(["extra.json"], strict=True, env={}, cwd=tmp_path)  # relative to cwd
    assert [(s.name, s.command) for s in strict] == [("b", "file-b")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{not json", "--mcp-config: invalid JSON"),
        ("missing.json", "--mcp-config missing.json: file not found"),
        ('{"servers": {}}', "--mcp-config: missing `mcpServers`"),
        ('{"mcpServers": []}', "--mcp-config: `mcpServers` must be an object"),
        ('{"mcpServers": {"x": "npx"}}', "--mcp-config: mcpServers.x: each server must be a JSON object"),
    ],
)
def test_malformed_sources(tmp_path: Path, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match="^" + expected.replace("[", r"\[")):
        load_servers([value], strict=True, env={}, cwd=tmp_path)


def test_malformed_project_file_names_it(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text("{")
    with pytest.raises(ConfigError, match=r"\.mcp\.json: invalid JSON"):
        load_servers(env={}, cwd=tmp_path)


def test_timeouts_from_env() -> None:
    assert McpTimeouts.from_env({}) == McpTimeouts(30.0, 600.0)
    assert McpTimeouts.from_env({"MCP_TIMEOUT": "1500", "MCP_TOOL_TIMEOUT": "20000"}) == McpTimeouts(1.5, 20.0)
    with pytest.raises(ConfigError, match="MCP_TOOL_TIMEOUT"):
        McpTimeouts.from_env({"MCP_TOOL_TIMEOUT": "soon"})
