"""MCP for tau: a `.mcp.json`-faithful loader (`config`) and pydantic-ai `MCPToolset`s per server (`toolsets`).

Imports only tau.protocol, tau.config, tau.errors, pydantic-ai and the stdlib at import time; fastmcp and the MCP SDK
are imported when a server is started (importing them costs seconds).

How the runtime uses it (before the first model call)::

    session = await open_mcp(flags.mcp_config, strict=flags.strict_mcp_config, env=job.env, cwd=cwd)
    # ConfigError (exit 2) on a malformed config; PreflightError (exit 3) if a `required` server failed
    session.on_warning = lambda m: emitter.emit(Notice(message=m))  # crashes, timeouts, elicitations
    Agent(..., toolsets=[builtin, *session.toolsets])
    SessionStarted(..., mcp=session.infos, tools=[*builtin_names, *session.tool_names])
    for m in session.warnings: emitter.emit(Notice(message=m))      # startup failures of optional servers
    setup.closers.append(session.aclose)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tau.mcp.config import (
    DEFAULT_STARTUP_TIMEOUT_S,
    PROJECT_FILE,
    McpServerConfig,
    OAuthConfig,
    ProjectApproval,
    expand_vars,
    find_project_file,
    in_container,
    load_servers,
    parse_document,
    parse_server,
)
from tau.mcp.toolsets import (
    DEFAULT_TOOL_TIMEOUT_S,
    McpSession,
    McpTimeouts,
    Warn,
    connect_all,
    tool_prefix,
)

if TYPE_CHECKING:
    from tau.mcp.oauth import McpAuth

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT_S",
    "DEFAULT_TOOL_TIMEOUT_S",
    "PROJECT_FILE",
    "McpLaunch",
    "McpServerConfig",
    "McpSession",
    "McpTimeouts",
    "OAuthConfig",
    "ProjectApproval",
    "Warn",
    "connect_all",
    "expand_vars",
    "find_project_file",
    "in_container",
    "load_servers",
    "open_mcp",
    "parse_document",
    "parse_server",
    "tool_prefix",
]


@dataclass(frozen=True)
class McpLaunch:
    """How `open_mcp` starts the configured servers: `container` ((container, workspace path inside it): the docker
    sandbox) runs stdio servers not marked `host: true` inside it (`docker exec -i`); `timeouts`; `auth` decides how
    network servers log in (default: headless, `tau.mcp.oauth`; `tau mcp login` passes an interactive one);
    `on_warning` receives what a server says after start."""

    container: tuple[str, str] | None = None
    timeouts: McpTimeouts | None = None
    auth: McpAuth | None = None
    on_warning: Warn | None = None


async def open_mcp(
    mcp_configs: Sequence[str] = (),
    *,
    strict: bool = False,
    env: Mapping[str, str],
    cwd: Path,
    project_file: Path | bool | None = True,
    approval: ProjectApproval | None = None,
    launch: McpLaunch | None = None,
) -> McpSession:
    """Load the configured servers (project `.mcp.json` + `--mcp-config` values) and start them as `launch` says.

    With no server configured this returns an empty session without importing fastmcp.
    """
    launch = launch or McpLaunch()
    container, timeouts, auth, on_warning = launch.container, launch.timeouts, launch.auth, launch.on_warning
    servers = load_servers(mcp_configs, strict=strict, env=env, cwd=cwd, project_file=project_file, approval=approval)
    if container is not None:  # the docker sandbox: (container, workspace path inside it)
        servers = [in_container(server, *container) for server in servers]
    return await connect_all(servers, env=env, cwd=cwd, timeouts=timeouts, on_warning=on_warning, auth=auth)
