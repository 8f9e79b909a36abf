"""The `.mcp.json` loader: `{"mcpServers": {...}}` as Claude Code (and Gemini CLI) write it, into `McpServerConfig`s.

Pure functions: the environment and the working directory are arguments, nothing is read from the process.

Per server (unknown keys are ignored so a file shared with other clients still loads):

- `type`: `stdio` (the default when `command` is present), `http` (aliases `streamable-http`, `streamableHttp`) or
  `sse`; without `type`, a `url`/`httpUrl` means `http`, or `sse` when the URL path ends in `/sse`.
- stdio: `command`, `args`, `env` (added to the environment tau runs with), `cwd` (relative to the config file's
  directory; default: the run's cwd). http/sse: `url` (Gemini's `httpUrl` is an alias), `headers`.
- `timeout`: the startup timeout in **milliseconds** (as Claude Code's `MCP_TIMEOUT`); default `MCP_TIMEOUT` or 30 s.
- `includeTools` / `excludeTools` (Gemini): lists of the server's own tool names; exclude wins.
- tau extras: `required: true` (the run fails preflight, exit 3, if this server cannot start), `host: true` (run it on
  the host even when the workspace is a sandbox), `disabled: true` (reported as `disabled`, never started).
- `oauth` (http/sse only; see `tau.mcp.oauth`): `false` turns OAuth off for the server; an object holds Claude Code's
  `clientId`, `callbackPort`, `scopes` (one space-separated string that pins the requested scopes) and
  `authServerMetadataUrl` (where the authorization server's metadata is when not at its well-known URL), plus tau's
  `clientSecret`, `clientMetadataUrl` (an https client ID metadata document, used where the server supports it),
  `issuer`, `tokenEndpointAuthMethod` and `grantType` (`authorization_code`, the default, or `client_credentials`
  for CI, which needs `clientId` and `clientSecret`, typically `${VAR}`s). `${VAR}` expands in every string of it.

Expansion (Claude Code's rules): `${VAR}` and `${VAR:-default}` in `command`, `args`, `env` values, `cwd`, `url` and
`headers` values; `$VAR` never expands; the default is literal text (no nested `${...}`) and applies only when VAR is
unset (a set-but-empty VAR expands to ""). **Unset variables**: where Claude Code would leave `${VAR}` literal, tau
marks the server failed with `unset environment variable ${VAR}` (listed in `missing_vars`): a literal `${TOKEN}`
sent as a credential or argument is never what was meant, and a `required` server then fails preflight by name.

Sources, in order, a later server of the same name replacing an earlier one: the project `.mcp.json` (the nearest
one from cwd up to the project root: the first directory holding `.git` or `.tau`; only cwd when there is no root),
then each `--mcp-config` value in order (a path, or inline JSON when it starts with `{`). `strict=True`
(`--strict-mcp-config`) uses the `--mcp-config` values only. Malformed input is a `ConfigError` naming the file (or
`--mcp-config`) and the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tau.config.documents import load_json
from tau.config.jobfile import read_text_file
from tau.config.paths import user_path
from tau.config.settings import http_url_problem
from tau.errors import ConfigError

Transport = Literal["stdio", "http", "sse"]
Grant = Literal["authorization_code", "client_credentials"]

DEFAULT_STARTUP_TIMEOUT_S = 30.0
PROJECT_FILE = ".mcp.json"
_TYPES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamablehttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ROOT_MARKERS = (".git", ".tau")
_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
_GRANTS: tuple[Grant, ...] = ("authorization_code", "client_credentials")


@dataclass(frozen=True)
class OAuthConfig:
    """A server's `oauth` object (see the module docstring); the default is OAuth on, nothing pre-configured."""

    enabled: bool = True
    grant: Grant = "authorization_code"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    callback_port: int | None = None
    scopes: str | None = None
    client_metadata_url: str | None = None
    issuer: str | None = None
    token_endpoint_auth_method: str | None = None
    auth_server_metadata_url: str | None = None


@dataclass(frozen=True)
class McpServerConfig:
    """One server, expanded and validated. `missing_vars` non-empty means it must not be started."""

    name: str
    transport: Transport
    source: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_s: float | None = None
    include_tools: tuple[str, ...] | None = None
    exclude_tools: tuple[str, ...] = ()
    required: bool = False
    host: bool = False
    disabled: bool = False
    missing_vars: tuple[str, ...] = ()
    note: str | None = None  # why a disabled server is off (reported as its error), e.g. an untrusted workspace
    secrets: tuple[str, ...] = field(default=(), repr=False)  # what ${VAR}s expanded to: masked in its errors
    oauth: OAuthConfig = field(default_factory=OAuthConfig)


@dataclass(frozen=True)
class ProjectApproval:
    """Which servers of the project's `.mcp.json` may start (Claude Code's approval keys, under workspace trust).

    Untrusted: none (their definitions are not even expanded). Trusted: every one, unless `enable_all` is false or
    `enabled` lists some (then only those); `disabled` are never started."""

    trusted: bool = True
    enable_all: bool | None = None
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()

    def refusal(self, name: str) -> str | None:
        """Why project server `name` must stay off, or None when it may start."""
        if name in self.disabled:
            return "listed in disabledMcpjsonServers"
        if not self.trusted:
            return "project server not started: untrusted workspace"
        if self.enable_all is not True and (self.enable_all is False or self.enabled) and name not in self.enabled:
            return "project server not approved (enabledMcpjsonServers)"
        return None


# -- ${VAR} expansion ---------------------------------------------------------------------------------------------


def expand_vars(
    text: str, env: Mapping[str, str], missing: list[str] | None = None, used: list[str] | None = None
) -> str:
    """Expand `${VAR}` / `${VAR:-default}` in `text` with `env`. Unset VARs without default stay literal and are
    appended to `missing` (the caller decides what that means); values taken from `env` are appended to `used`."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            if used is not None:
                used.append(env[name])
            return env[name]
        if default is not None:
            return default
        if missing is not None and name not in missing:
            missing.append(name)
        return match.group(0)

    return _VAR.sub(replace, text)


# -- sources ------------------------------------------------------------------------------------------------------


def find_project_file(cwd: Path) -> Path | None:
    """The nearest `.mcp.json` from `cwd` up to the project root (first directory with `.git` or `.tau`)."""
    cwd = cwd.resolve()
    chain = [cwd, *cwd.parents]
    root_index = next((i for i, d in enumerate(chain) if any((d / m).exists() for m in _ROOT_MARKERS)), 0)
    for directory in chain[: root_index + 1]:
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_servers(
    mcp_configs: Sequence[str] = (),
    *,
    strict: bool = False,
    env: Mapping[str, str],
    cwd: Path,
    project_file: Path | bool | None = True,
    approval: ProjectApproval | None = None,
) -> list[McpServerConfig]:
    """All configured servers, in source order (later same-name definitions replace earlier ones).

    `mcp_configs` are `--mcp-config` values (paths or inline JSON). `project_file=True` discovers the project
    `.mcp.json` from `cwd`; a `Path` uses that file; `None`/`False` skips it. `strict` skips it too. `approval`
    decides which project servers may start (default: all); the others are listed disabled, with the reason.
    """
    merged: dict[str, McpServerConfig] = {}
    if not strict and project_file is not False and project_file is not None:
        path = find_project_file(cwd) if project_file is True else Path(project_file)
        if path is not None:
            for server in _project_servers(path, env, approval or ProjectApproval()):
                merged[server.name] = server
    for value in mcp_configs:
        source, base, data = _config_argument(value, cwd)
        for server in parse_document(data, source=source, env=env, base_dir=base):
            merged.pop(server.name, None)
            merged[server.name] = server
    return list(merged.values())


def _project_servers(path: Path, env: Mapping[str, str], approval: ProjectApproval) -> list[McpServerConfig]:
    data = _read_json(path, str(path))
    if not approval.trusted:  # names only: nothing of an untrusted definition is expanded or parsed further
        names = _server_table(data, str(path)).keys()
        return [McpServerConfig(n, "stdio", str(path), disabled=True, note=approval.refusal(n)) for n in names]
    servers = parse_document(data, source=str(path), env=env, base_dir=path.parent)
    return [replace(s, disabled=True, note=why) if (why := approval.refusal(s.name)) else s for s in servers]


def _config_argument(value: str, cwd: Path) -> tuple[str, Path, Any]:
    text = value.strip()
    if text.startswith("{"):
        return "--mcp-config", cwd, load_json(text, source="--mcp-config")
    path = user_path(value, base_dir=cwd, source="--mcp-config")
    return str(path), path.parent, _read_json(path, f"--mcp-config {value}")


def _read_json(path: Path, source: str) -> Any:
    """The file's JSON: read and parsed by tau.config's bounded readers (ConfigError naming `source`, nothing else)."""
    return load_json(read_text_file(path, source=source), source=source)


# -- parsing ------------------------------------------------------------------------------------------------------


def _server_table(data: Any, source: str) -> dict[str, Any]:
    """The servers of a document: `{"mcpServers": {...}}`, or the plugin format with servers at the top level."""
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object with an `mcpServers` object", source=source)
    servers = data.get("mcpServers")
    if servers is None:
        if data and all(isinstance(v, dict) and ({"command", "url", "httpUrl"} & v.keys()) for v in data.values()):
            return data  # plugin format (Claude Code plugins' .mcp.json): no wrapper
        raise ConfigError("missing `mcpServers`", source=source)
    if not isinstance(servers, dict):
        raise ConfigError("`mcpServers` must be an object of server name -> server", source=source)
    return servers


def parse_document(data: Any, *, source: str, env: Mapping[str, str], base_dir: Path) -> list[McpServerConfig]:
    """Parse one `{"mcpServers": {...}}` document (or a plugin-format one). Raises `ConfigError` naming `source`
    and the server."""
    servers = _server_table(data, source)
    return [parse_server(name, raw, source=source, env=env, base_dir=base_dir) for name, raw in servers.items()]


class _Fields:
    """Typed access to one raw server object; every error names the source, server and key."""

    def __init__(self, raw: Mapping[str, Any], source: str, name: str) -> None:
        self.raw, self.source, self.name = raw, source, name

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(problem, source=self.source, field=f"mcpServers.{self.name}.{key}")

    def string(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type(value).__name__}")
        return value

    def strings(self, key: str) -> list[str] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return list(value)

    def mapping(self, key: str) -> dict[str, str]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(key, "must be an object of string values")
        return dict(value)

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def millis(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key, "must be a positive number of milliseconds")
        return float(value) / 1000.0


def _transport(f: _Fields, url: str | None, command: str | None) -> Transport:
    declared = f.string("type")
    if declared is not None:
        kind = _TYPES.get(declared.lower())
        if kind is None:
            raise f.fail("type", f"unknown type {declared!r}; expected stdio, http (streamable-http) or sse")
        return kind
    if command is not None:
        return "stdio"
    if url is not None:
        return "sse" if url.split("?", 1)[0].rstrip("/").endswith("/sse") else "http"
    raise f.fail("command", "a server needs `command` (stdio) or `url` (http, sse)")


def parse_server(name: str, raw: Any, *, source: str, env: Mapping[str, str], base_dir: Path) -> McpServerConfig:
    """Parse and expand one server entry."""
    if not name or not isinstance(raw, dict):
        raise ConfigError("each server must be a JSON object", source=source, field=f"mcpServers.{name}")
    f = _Fields(raw, source, name)
    command, url = f.string("command"), f.string("url") or f.string("httpUrl")
    transport = _transport(f, url, command)
    if transport == "stdio" and not command:
        raise f.fail("command", "a stdio server needs `command`")
    if transport != "stdio" and not url:
        raise f.fail("url", f"an {transport} server needs `url`")
    missing: list[str] = []
    used: list[str] = []
    expanded_cwd = f.string("cwd")
    if expanded_cwd is not None:
        expanded_cwd = str(base_dir / expand_vars(expanded_cwd, env, missing, used))
    include = f.strings("includeTools")
    expanded_url = None
    if transport != "stdio" and url:
        expanded_url = expand_vars(url, env, missing, used)
        problem = None if missing else http_url_problem(expanded_url)
        if problem is not None:
            raise f.fail("url", f"{url!r} {problem}")
    oauth = _oauth(f, env, missing, used) if transport != "stdio" else OAuthConfig()
    return McpServerConfig(
        name=name,
        transport=transport,
        source=source,
        command=expand_vars(command, env, missing, used) if command else None,
        args=tuple(expand_vars(a, env, missing, used) for a in f.strings("args") or ()),
        env={k: expand_vars(v, env, missing, used) for k, v in f.mapping("env").items()},
        cwd=expanded_cwd if transport == "stdio" else None,
        url=expanded_url,
        headers={k: expand_vars(v, env, missing, used) for k, v in f.mapping("headers").items()},
        startup_timeout_s=f.millis("timeout"),
        include_tools=tuple(include) if include is not None else None,
        exclude_tools=tuple(f.strings("excludeTools") or ()),
        required=f.flag("required"),
        host=f.flag("host"),
        disabled=f.flag("disabled"),
        missing_vars=tuple(missing),
        secrets=tuple(used),
        oauth=oauth,
    )


def _oauth(f: _Fields, env: Mapping[str, str], missing: list[str], used: list[str]) -> OAuthConfig:
    """The server's `oauth` value: absent or `true` = defaults, `false` = off, or an object (strings expanded)."""
    raw = f.raw.get("oauth")
    if raw is None or raw is True:
        return OAuthConfig()
    if raw is False:
        return OAuthConfig(enabled=False)
    if not isinstance(raw, dict):
        raise f.fail("oauth", "must be false or an object")
    o = _Fields(raw, f.source, f"{f.name}.oauth")

    def text(key: str) -> str | None:
        value = o.string(key)
        return expand_vars(value, env, missing, used) if value is not None else None

    grant = o.string("grantType") or "authorization_code"
    if grant not in _GRANTS:
        raise o.fail("grantType", f"must be one of {', '.join(_GRANTS)}")
    method = o.string("tokenEndpointAuthMethod")
    if method is not None and method not in _AUTH_METHODS:
        raise o.fail("tokenEndpointAuthMethod", f"must be one of {', '.join(_AUTH_METHODS)}")
    port = raw.get("callbackPort")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise o.fail("callbackPort", "must be a port number (1-65535)")
    config = OAuthConfig(
        grant="client_credentials" if grant == "client_credentials" else "authorization_code",
        client_id=text("clientId"),
        client_secret=text("clientSecret"),
        callback_port=port,
        scopes=text("scopes") or None,
        client_metadata_url=text("clientMetadataUrl"),
        issuer=text("issuer"),
        token_endpoint_auth_method=method,
        auth_server_metadata_url=text("authServerMetadataUrl"),
    )
    if config.grant == "client_credentials" and not (config.client_id and config.client_secret):
        raise o.fail("grantType", "client_credentials needs `clientId` and `clientSecret`")
    if config.client_metadata_url is not None and not missing:
        _check_metadata_url(o, config.client_metadata_url)
    if config.auth_server_metadata_url is not None and not missing:
        problem = http_url_problem(config.auth_server_metadata_url)
        if problem is not None:
            raise o.fail("authServerMetadataUrl", f"{config.auth_server_metadata_url!r} {problem}")
    return config


def _check_metadata_url(o: _Fields, url: str) -> None:
    """A client ID metadata document is named by an https URL with a path (the SDK's own rule)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path in ("", "/"):
        raise o.fail("clientMetadataUrl", f"{url!r} must be an https URL with a path")


def in_container(server: McpServerConfig, container: str, workdir: str) -> McpServerConfig:
    """A stdio server rewritten to start inside `container` (`docker exec -i`), in `workdir`, with its own `env`
    passed as `-e`. Servers marked `host: true` and network servers are returned unchanged."""
    if server.transport != "stdio" or server.host or server.command is None:
        return server
    flags = ["exec", "-i", "-w", server.cwd if server.cwd and server.cwd.startswith(workdir) else workdir]
    for name, value in server.env.items():
        flags += ["-e", f"{name}={value}"]
    return replace(server, command="docker", args=(*flags, container, server.command, *server.args), env={}, cwd=None)
