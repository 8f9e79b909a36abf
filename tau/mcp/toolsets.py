"""MCP servers as pydantic-ai toolsets: one `MCPToolset` per server, started together, guarded for the run.

Each connected server becomes `MCPToolset (fastmcp transport) -> .filtered(includeTools/excludeTools) ->
.prefixed("mcp__<server>_") -> _GuardedToolset`, so the model (and permission rules, hooks, events) see
`mcp__<server>__<tool>`. A server name with characters outside `[A-Za-z0-9_-]` has them replaced by `_` in tool names.

Timeouts (Claude Code's knobs, milliseconds, from the injected env): `MCP_TIMEOUT` = startup (connect, initialize and
the first tools/list; default 30 s; a server's own `timeout` wins), `MCP_TOOL_TIMEOUT` = one tool call (default 600 s;
Claude Code's default is effectively unlimited, a headless run must not hang).

Failure handling:
- `connect_all` starts every enabled server concurrently. A failed `required` server raises `PreflightError` (one line
  naming the server(s) and reason) after closing the others; other failures are reported as `McpServerInfo(status=
  "failed", error=...)` plus a warning, and the server's tools are left out. The error of a stdio server includes the
  last lines it wrote to stderr (stderr is captured per server, never copied to tau's own stderr).
- During the run, a call that times out, or a server that died (connection closed, transport error), becomes a failed
  tool result the model sees (`ToolFailed`) plus a warning via `McpSession.on_warning`; after a crash, later calls to
  that server fail at once. Errors the server reports for a call (`isError`) reach the model as failed tool results.
- Elicitation (headless): a request is accepted with the schema's own defaults when every required field has one,
  otherwise declined; each is reported as a warning.

fastmcp/mcp are imported only when a server is actually started; fastmcp's rich log output is silenced (its logger is
set to CRITICAL unless `FASTMCP_LOG_LEVEL` is set).
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
from pydantic_ai.exceptions import ModelRetry, ToolFailed
from pydantic_ai.tools import RunContext
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from tau.environment.lifetime import lifetime_argv
from tau.errors import ConfigError, PreflightError
from tau.mcp.config import DEFAULT_STARTUP_TIMEOUT_S, McpServerConfig
from tau.mcp.pooled import Lease, lease, transport_for
from tau.protocol import McpServerInfo
from tau.redact import Redactor

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset

    from tau.mcp.oauth import McpAuth

DEFAULT_TOOL_TIMEOUT_S = 600.0
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_CONNECTION_CLOSED = -32000

Warn = Callable[[str], None]


@dataclass(frozen=True)
class McpTimeouts:
    """Seconds. `from_env` reads Claude Code's `MCP_TIMEOUT` / `MCP_TOOL_TIMEOUT` (milliseconds)."""

    startup_s: float = DEFAULT_STARTUP_TIMEOUT_S
    tool_s: float = DEFAULT_TOOL_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> McpTimeouts:
        return cls(
            startup_s=_env_ms(env, "MCP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT_S),
            tool_s=_env_ms(env, "MCP_TOOL_TIMEOUT", DEFAULT_TOOL_TIMEOUT_S),
        )


def _env_ms(env: Mapping[str, str], name: str, default_s: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default_s
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"must be a positive number of milliseconds, got {raw!r}", source="environment", field=name)
    return value / 1000.0


def tool_prefix(server: str) -> str:
    """`mcp__<server>__` with the server name made safe for tool names."""
    return f"mcp__{_SAFE.sub('_', server)}__"


# -- the session --------------------------------------------------------------------------------------------------


@dataclass
class McpSession:
    """The connected servers of one run. `toolsets` go to `Agent(toolsets=...)`; `infos` to `SessionStarted.mcp`;
    `warnings` (startup problems) become `Notice` events; set `on_warning` to receive later ones (crashes, timeouts,
    elicitations) as they happen. `aclose()` stops every server; safe to call twice."""

    toolsets: list[AbstractToolset[Any]] = field(default_factory=list)
    infos: list[McpServerInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)
    on_warning: Warn | None = None
    _servers: list[_Server] = field(default_factory=list, repr=False)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def tools_by_server(self) -> dict[str, list[tuple[str, str]]]:
        """`{server: [(mcp__server__tool, description), ...]}` for the connected servers."""
        return {
            s.config.name: [(tool_prefix(s.config.name) + t, s.descriptions.get(t, "")) for t in s.tools]
            for s in self._servers
        }

    async def aclose(self) -> None:
        servers, self._servers = self._servers, []
        for server in reversed(servers):
            await server.close()


@dataclass
class _Server:
    """One started server: its `MCPToolset`, captured stderr and whether it died during the run."""

    config: McpServerConfig
    toolset: MCPToolset[Any]
    stderr: IO[str] | None
    auth: Any = None  # the transport's httpx Auth (tau.mcp.oauth), which may hold why the server refused a request
    lease: Lease | None = None  # a process leased from the warm server's pool (tau.mcp.pooled), given back on close
    entered: bool = False
    dead: str | None = None
    tools: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)

    def stderr_tail(self, lines: int = 3, limit: int = 300) -> str:
        if self.stderr is None:
            return ""
        try:
            self.stderr.flush()
            self.stderr.seek(0)
            text = self.stderr.read()
        except (OSError, ValueError):
            return ""
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
        return tail[-limit:]

    def login_refusal(self) -> str | None:
        """Why the server's last refused request needs a login ("... run `tau mcp login NAME`"), once; or None."""
        take = getattr(self.auth, "take_refusal", None)
        refusal = take() if take is not None else None
        return str(refusal) if refusal is not None else None

    def masked(self, text: str) -> str:
        """`text` with what the server's config expanded from ${VAR}s and its OAuth tokens and secret masked."""
        values = list(self.config.secrets)
        if self.auth is not None:
            from tau.mcp.oauth import secret_values

            values += secret_values(self.auth)
        return Redactor().with_values(values).text(text)

    async def close(self) -> None:
        if self.entered:
            self.entered = False
            # shielded and bounded; a dying server must not break shutdown
            with anyio.CancelScope(shield=True), anyio.move_on_after(10), contextlib.suppress(Exception):
                await self.toolset.__aexit__(None, None, None)
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
        if self.lease is not None:
            self.lease.release(dead=self.dead is not None)


# -- the run-time guard -------------------------------------------------------------------------------------------


@dataclass
class _GuardedToolset(WrapperToolset[Any]):
    """Per-call timeout; a dead server or transport failure becomes a `ToolFailed` the model sees, plus a warning."""

    server: _Server | None = None
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    warn: Warn = field(default=lambda message: None)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        assert self.server is not None
        label = self.server.config.name
        if self.server.dead is not None:
            raise ToolFailed(f"MCP server '{label}' is unavailable ({self.server.dead}); its tools cannot be used now.")
        try:
            with anyio.fail_after(self.tool_timeout_s):
                return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except TimeoutError:
            message = f"MCP tool {name} timed out after {self.tool_timeout_s:g}s (MCP_TOOL_TIMEOUT)"
            self._taint()
            self.warn(message)
            raise ToolFailed(message) from None
        except ModelRetry as exc:
            if (refusal := self.server.login_refusal()) is not None:
                raise ToolFailed(f"MCP server '{label}' refused {name}: {refusal}") from None
            if not _connection_lost(exc):
                raise
            self._died(str(exc.message))
        except ToolFailed:
            if (refusal := self.server.login_refusal()) is not None:
                raise ToolFailed(f"MCP server '{label}' refused {name}: {refusal}") from None
            raise
        except anyio.get_cancelled_exc_class():
            self._taint()
            raise
        except Exception as exc:  # transport failures of any kind
            self._died(describe_error(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def _taint(self) -> None:
        """A call given up on (timed out, cancelled): its reply may still come, so a pooled process is not reused."""
        if self.server is not None and self.server.lease is not None:
            self.server.lease.clean = False

    def _died(self, reason: str) -> None:
        assert self.server is not None
        tail = self.server.stderr_tail()
        self.server.dead = self.server.masked(f"{reason}; stderr: {tail}" if tail else reason)
        message = f"MCP server '{self.server.config.name}' stopped responding: {self.server.dead}"
        self.warn(message)
        raise ToolFailed(message)


def _connection_lost(exc: BaseException) -> bool:
    cause = exc.__cause__
    error = getattr(cause, "error", None)
    return getattr(error, "code", None) == _CONNECTION_CLOSED or "connection closed" in str(exc).lower()


def describe_error(exc: BaseException) -> str:
    """One line for an exception, descending exception groups to their first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    if isinstance(exc, TimeoutError) or not text:
        return text or type(exc).__name__
    return text if isinstance(exc, RuntimeError | ValueError) else f"{type(exc).__name__}: {text}"


# -- building and connecting --------------------------------------------------------------------------------------


def _quiet_fastmcp(env: Mapping[str, str]) -> None:
    if not env.get("FASTMCP_LOG_LEVEL"):
        logging.getLogger("fastmcp").setLevel(logging.CRITICAL)
    mcp_logger = logging.getLogger("mcp")
    if mcp_logger.level == logging.NOTSET:
        mcp_logger.setLevel(logging.CRITICAL)


def _elicitation_handler(server: str, warn: Warn) -> Any:
    async def answer(message: str, response_type: Any, params: Any, context: Any) -> Any:
        from fastmcp.client.elicitation import ElicitResult

        schema = getattr(params, "requested_schema", None)
        properties = (schema or {}).get("properties") or {}
        defaults = {k: p["default"] for k, p in properties.items() if isinstance(p, dict) and "default" in p}
        required = (schema or {}).get("required") or []
        if schema is None or any(name not in defaults for name in required):
            warn(f"MCP server '{server}' asked for input ({message!r}); declined: no one can answer in a headless run")
            return ElicitResult[dict[str, Any]](action="decline")
        warn(f"MCP server '{server}' asked for input ({message!r}); answered with its defaults (headless run)")
        return ElicitResult[dict[str, Any]](action="accept", content=defaults)

    return answer


def build_toolset(
    config: McpServerConfig,
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeouts: McpTimeouts,
    warn: Warn,
    auth: McpAuth | None = None,
    lease: Lease | None = None,
) -> tuple[MCPToolset[Any], IO[str] | None, Any]:
    """The `MCPToolset` for one server (not started), the file capturing its stderr (stdio only) and the httpx
    `Auth` of a network server: `auth_for(config, auth)` (headless OAuth from the store in `env` if `auth` is None)."""
    from fastmcp.client.transports import SSETransport, StdioTransport, StreamableHttpTransport
    from mcp_types import Implementation
    from pydantic_ai.mcp import MCPToolset

    import tau

    stderr: IO[str] | None = None
    transport: Any
    http_auth: Any = None
    if lease is not None:  # a process of the warm server's pool: its socket is the server's stdin/stdout
        stderr, transport = lease.stderr, transport_for(lease)
    elif config.transport == "stdio":
        assert config.command is not None
        stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by _Server
        # wrapped so the server and its children die with tau, however tau dies (tau.environment.lifetime)
        command, *args = lifetime_argv([config.command, *config.args], cwd=config.cwd or str(cwd))
        transport = StdioTransport(
            command=command,
            args=args,
            env={**env, **config.env},
            cwd=config.cwd or str(cwd),
            keep_alive=False,
            log_file=stderr,
        )
    else:
        from tau.mcp.oauth import McpAuth, auth_for

        assert config.url is not None
        http_auth = auth_for(config, auth or McpAuth.headless(env))
        if config.transport == "sse":
            transport = SSETransport(
                config.url, headers=dict(config.headers), sse_read_timeout=timeouts.tool_s + 5, auth=http_auth
            )
        else:
            transport = StreamableHttpTransport(config.url, headers=dict(config.headers), auth=http_auth)
    toolset: MCPToolset[Any] = MCPToolset(
        transport,
        id=config.name,
        tool_error_behavior="failed",
        client_info=Implementation(name="tau", version=tau.__version__),
        init_timeout=config.startup_timeout_s or timeouts.startup_s,
        read_timeout=timeouts.tool_s + 5,
        elicitation_handler=_elicitation_handler(config.name, warn),
    )
    return toolset, stderr, http_auth


def _pooled(config: McpServerConfig, env: Mapping[str, str], cwd: Path) -> Lease | None:
    """A process from the warm server's pool for a stdio server (None outside one; never for `docker exec` into
    the run's own sandbox container, which ends with the run)."""
    if config.transport != "stdio" or config.command is None:
        return None
    if config.command == "docker" and config.args[:1] == ("exec",):
        return None
    return lease(config.command, list(config.args), {**env, **config.env}, config.cwd or str(cwd))


def _wanted(config: McpServerConfig) -> Callable[[str], bool]:
    include = set(config.include_tools) if config.include_tools is not None else None
    exclude = set(config.exclude_tools)
    return lambda name: (include is None or name in include) and name not in exclude


async def _start(server: _Server, startup_s: float) -> int:
    """Connect and list tools within `startup_s`; returns the tool count after include/exclude."""
    with anyio.fail_after(startup_s), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "handler will never be called" on sessionless servers: expected
        await server.toolset.__aenter__()
        server.entered = True
        tools = await server.toolset.list_tools()
    wanted = _wanted(server.config)
    server.tools = [tool.name for tool in tools if wanted(tool.name)]
    server.descriptions = {tool.name: " ".join((tool.description or "").split()) for tool in tools}
    return len(server.tools)


def _disabled_or_invalid(config: McpServerConfig) -> McpServerInfo | None:
    if config.disabled:
        return McpServerInfo(name=config.name, status="disabled", error=config.note)
    if config.missing_vars:
        names = ", ".join(f"${{{v}}}" for v in config.missing_vars)
        return McpServerInfo(
            name=config.name,
            status="failed",
            error=f"unset environment variable {names} in {config.source}; set it or write ${{VAR:-default}}",
        )
    return None


async def connect_all(
    servers: Sequence[McpServerConfig],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeouts: McpTimeouts | None = None,
    on_warning: Warn | None = None,
    preflight: bool = True,
    auth: McpAuth | None = None,
) -> McpSession:
    """Start every enabled server concurrently; see the module docstring for what failures do.

    `preflight=False` (`tau mcp ls`) reports a failed `required` server like any other instead of raising. `auth`:
    how network servers authenticate (default: headless, logins from the store in `env`; see `tau.mcp.oauth`).
    """
    session = McpSession(on_warning=on_warning)
    if not servers:
        return session
    timeouts = timeouts or McpTimeouts.from_env(env)
    _quiet_fastmcp(env)
    results: dict[str, McpServerInfo] = {}
    started: list[_Server] = []
    for config in servers:
        info = _disabled_or_invalid(config)
        if info is not None:
            results[config.name] = info
            continue
        held = _pooled(config, env, cwd)
        toolset, stderr, http_auth = build_toolset(
            config, env=env, cwd=cwd, timeouts=timeouts, warn=session.warn, auth=auth, lease=held
        )
        started.append(_Server(config, toolset, stderr, http_auth, lease=held))

    async def start(server: _Server) -> None:
        name = server.config.name
        limit = server.config.startup_timeout_s or timeouts.startup_s
        try:
            count = await _start(server, limit)
            results[name] = McpServerInfo(name=name, status="connected", tools=count)
        except Exception as exc:  # every startup failure is reported
            if server.lease is not None:
                server.lease.clean = False  # its initialize or tools/list may still be answered
            tail = server.stderr_tail()
            await server.close()
            reason = f"did not start within {limit:g}s (MCP_TIMEOUT)" if isinstance(exc, TimeoutError) else None
            reason = reason or server.login_refusal() or describe_error(exc)
            results[name] = McpServerInfo(
                name=name, status="failed", error=server.masked(f"{reason}; stderr: {tail}" if tail else reason)
            )

    async with anyio.create_task_group() as group:
        for server in started:
            group.start_soon(start, server)
    session._servers = [s for s in started if s.entered]
    session.infos = [results[c.name] for c in servers]
    if preflight:
        await _fail_required(session, servers)
    for server in session._servers:
        _add_toolset(session, server, timeouts)
    for info in session.infos:
        if info.status == "failed":
            session.warn(f"MCP server '{info.name}' failed to start and is left out: {info.error}")
    return session


async def _fail_required(session: McpSession, servers: Sequence[McpServerConfig]) -> None:
    required = {c.name for c in servers if c.required}
    failed = [i for i in session.infos if i.name in required and i.status != "connected"]
    if not failed:
        return
    await session.aclose()
    detail = "; ".join(f"'{i.name}': {i.error or i.status}" for i in failed)
    raise PreflightError(f"required MCP server failed to start: {detail}")


def _add_toolset(session: McpSession, server: _Server, timeouts: McpTimeouts) -> None:
    wanted = _wanted(server.config)
    prefix = tool_prefix(server.config.name)
    inner = server.toolset.filtered(lambda ctx, tool_def: wanted(tool_def.name)).prefixed(prefix[:-1])
    session.toolsets.append(_GuardedToolset(inner, server=server, tool_timeout_s=timeouts.tool_s, warn=session.warn))
    session.tool_names.extend(f"{prefix}{name}" for name in server.tools)
