"""`tau mcp`: inspect the MCP servers a run in this directory would start, and log in to the ones that need OAuth.

Every command resolves servers as `tau run` does (`tau.config.load_job`: config layers, `--mcp-config`, workspace
trust, Claude Code's project-server approval keys, settings `env`), so none of them starts, or logs in to, a server a
run would not start.

- `tau mcp ls [--json] [--mcp-config FILE|JSON]... [--strict-mcp-config] [--trust-workspace]`: starts every enabled
  server (concurrently, with the run's timeouts and the run's headless OAuth: never a browser), lists each server's
  status, login and tools (`mcp__<server>__<tool>`), then stops them. An untrusted workspace's project servers are
  listed disabled. Exit 0 when every enabled server connected, 1 when one failed, 2 on a malformed config.
- `tau mcp login NAME [--no-browser] [--timeout DURATION]`: the OAuth authorization-code flow with PKCE for one http/sse
  server (`tau.mcp.oauth`: discovery, dynamic registration or a client ID metadata document or `oauth.clientId`,
  scopes from the server's challenge and from what runs were refused), the browser sent to the authorization URL
  (printed on stderr too) and the redirect caught on `http://localhost:PORT/callback`. A login always asks again;
  the stored login is replaced only when new tokens arrive. Tokens land in tau's user config directory, owner-only
  (`tau.mcp.oauth_store`); headless runs use and refresh them. Exit 0 logged in, 1 failed, 2 unknown, disabled
  (an untrusted workspace's server) or stdio server.
- `tau mcp logout NAME`: forget every stored login of NAME (whatever its URL). Exit 0.

Registered by `tau.cli.main` (`cli.add_command(mcp_group)`); this module imports tau.mcp only inside the commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tau.cli.options import examples, json_option, mcp_config_options, trust_workspace_option
from tau.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from tau.mcp import McpServerConfig
    from tau.mcp.oauth import McpAuth


def _config_options(function: Any) -> Any:
    return mcp_config_options(trust_workspace_option(function))


@click.group("mcp", epilog=examples("tau mcp ls", "tau mcp login github"))
def mcp_group() -> None:
    """MCP servers (.mcp.json, --mcp-config) and their OAuth logins."""


@dataclass(frozen=True)
class _RunView:
    """The MCP servers a `tau run` here would start, resolved as it resolves them, and the environment it gives them."""

    servers: list[McpServerConfig]
    env: dict[str, str]
    cwd: Path
    trust_root: str


def _run_view(mcp_configs: tuple[str, ...], strict: bool, trust_flag: bool | None) -> _RunView:
    """Through `tau.config.load_job` (the model is a placeholder that needs no credentials): the same config layers,
    `--mcp-config`/`mcp.config` values, workspace trust, Claude Code's project-server approval keys and settings `env`
    as a run, so `ls` and `login` never start or log in to a server a run would not start."""
    from tau.config import load_job
    from tau.mcp import ProjectApproval, load_servers

    env = dict(os.environ)
    flags = {
        "model": "test:tau-mcp",
        "mcp_config": list(mcp_configs) or None,
        "strict_mcp_config": True if strict else None,
        "trust_workspace": trust_flag,
    }
    job = load_job(prompt_text="tau mcp", flags=flags, env=env, cwd=Path.cwd())
    approval = ProjectApproval(
        trusted=job.trust.trusted,
        enable_all=job.mcp.enable_all_project,
        enabled=job.mcp.enabled_project,
        disabled=job.mcp.disabled_project,
    )
    run_env = {**env, **job.env}
    cwd = Path(job.environment.workspace)
    servers = load_servers(job.mcp.config, strict=job.mcp.strict, env=run_env, cwd=cwd, approval=approval)
    return _RunView(servers, run_env, cwd, job.trust.root)


@mcp_group.command(
    "ls", epilog=examples("tau mcp ls", "tau mcp ls --json --mcp-config servers.json --strict-mcp-config")
)
@json_option
@_config_options
def ls_command(
    as_json: bool, mcp_config: tuple[str, ...], strict_mcp_config: bool, trust_workspace: bool | None
) -> None:
    """Connect to each configured MCP server and list its status and tools; exit 1 when one failed.

    --json prints one object: servers (one object per server: name, status, transport, target, source, required,
    error, login, tools as name and description).
    """
    import anyio

    view = _run_view(mcp_config, strict_mcp_config, trust_workspace)
    report = anyio.run(_collect, view.servers, view.env, view.cwd)
    click.echo(json.dumps(report, indent=2) if as_json else _text(report))
    if any(server["status"] == "failed" for server in report["servers"]):
        sys.exit(int(ExitCode.FAILED))


async def _collect(configs: list[McpServerConfig], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    from tau.mcp import connect_all
    from tau.mcp.oauth import McpAuth, describe_login

    auth = McpAuth.headless(env)
    session = await connect_all(configs, env=env, cwd=cwd, preflight=False, auth=auth)
    try:
        tools = session.tools_by_server()
        servers = []
        for config, info in zip(configs, session.infos, strict=True):
            servers.append(
                {
                    "name": info.name,
                    "status": info.status,
                    "transport": config.transport,
                    "target": config.url or " ".join([config.command or "", *config.args]).strip(),
                    "source": config.source,
                    "required": config.required,
                    "error": info.error,
                    "login": describe_login(auth, config) if config.transport != "stdio" else None,
                    "tools": [{"name": name, "description": text} for name, text in tools.get(info.name, [])],
                }
            )
        return {"servers": servers}
    finally:
        await session.aclose()


def _login_text(login: dict[str, Any] | None) -> str:
    if not login or login["kind"] == "none":
        return ""
    if login["kind"] == "logged_in":
        expires = login.get("expires_at")
        when = f", token expires {time.strftime('%Y-%m-%d %H:%M', time.localtime(expires))}" if expires else ""
        return f"; logged in{when}"
    return {"client_credentials": "; client credentials", "not_logged_in": "; not logged in"}[login["kind"]]


def _text(report: dict[str, Any]) -> str:
    servers = report["servers"]
    if not servers:
        return "No MCP servers configured (.mcp.json or --mcp-config)."
    lines: list[str] = []
    for server in servers:
        flags = " required" if server["required"] else ""
        count = f"{len(server['tools'])} tools" if server["status"] == "connected" else server["status"]
        login = _login_text(server.get("login"))
        lines.append(f"{server['name']}: {count} ({server['transport']}{flags}: {server['target']}{login})")
        if server["error"]:
            lines.append(f"  error: {server['error']}")
        for tool in server["tools"]:
            description = tool["description"][:100]
            lines.append(f"  {tool['name']}" + (f"  {description}" if description else ""))
    return "\n".join(lines)


def _one(name: str, view: _RunView) -> McpServerConfig:
    from tau.config.trust import trust_hint

    found = next((config for config in view.servers if config.name == name), None)
    source = "tau mcp login"
    if found is None:
        known = ", ".join(config.name for config in view.servers) or "none"
        raise ConfigError(f"no MCP server named {name!r} (configured: {known})", source=source)
    if found.disabled:
        why = found.note or "disabled: true"
        hint = f" — {trust_hint(view.trust_root)}" if "untrusted" in why else ""
        raise ConfigError(f"MCP server {name!r} is disabled ({why}); no login{hint}", source=source)
    if found.transport == "stdio":
        raise ConfigError(f"MCP server {name!r} is a stdio server; only http and sse servers log in", source=source)
    if found.missing_vars:
        names = ", ".join(f"${{{v}}}" for v in found.missing_vars)
        raise ConfigError(f"MCP server {name!r} uses unset environment variable {names}", source=source)
    return found


@mcp_group.command("login", epilog=examples("tau mcp login github", "tau mcp login github --no-browser --timeout 10m"))
@click.argument("name")
@click.option("--no-browser", is_flag=True, help="Only print the authorization URL; do not start a browser.")
@click.option(
    "--timeout",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="How long to wait for the browser to come back, e.g. 300 (seconds), 90s, 5m.",
)
@_config_options
def login_command(
    name: str,
    no_browser: bool,
    timeout: str,
    mcp_config: tuple[str, ...],
    strict_mcp_config: bool,
    trust_workspace: bool | None,
) -> None:
    """Log in to the MCP server NAME (OAuth in your browser); headless runs then use and refresh the token."""
    import anyio

    from tau.mcp.oauth import McpAuth
    from tau.mcp.oauth_loopback import LoopbackAuthorizer
    from tau.mcp.oauth_store import OAuthStore

    timeout_s = _login_timeout(timeout)
    view = _run_view(mcp_config, strict_mcp_config, trust_workspace)
    config = _one(name, view)
    store = OAuthStore.for_env(view.env)
    if store.directory is None:
        raise ConfigError("no user config directory to keep the login in: set HOME", source="tau mcp login")
    auth = McpAuth(store, LoopbackAuthorizer(_print_url if no_browser else _open_browser, timeout_s=timeout_s))
    ok, message = anyio.run(_login, config, auth, view, timeout_s)
    click.echo(message if ok else f"tau: {message}", err=not ok)
    if not ok:
        sys.exit(int(ExitCode.FAILED))


def _login_timeout(value: str) -> float:
    """`--timeout`: seconds from a duration (`300`, `90s`, `5m`); at least one second."""
    from tau.config.settings import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ConfigError(str(error), source="--timeout") from None
    if not isinstance(seconds, float) or not 1 <= seconds <= 86_400:
        raise ConfigError(f"expected a duration from 1s to 1d, got {value!r}", source="--timeout")
    return seconds


def _print_url(url: str) -> None:
    click.echo(f"tau: open this URL in a browser on this machine to log in:\n  {url}", err=True)


def _open_browser(url: str) -> None:
    """The URL, always (a browser may not be there or may not open), then the user's browser (`$BROWSER` honoured)."""
    import webbrowser

    click.echo(f"tau: opening your browser to log in; if it does not open, visit:\n  {url}", err=True)
    with contextlib.suppress(Exception):
        webbrowser.open(url)


async def _login(config: McpServerConfig, auth: McpAuth, view: _RunView, timeout_s: float) -> tuple[bool, str]:
    from tau.mcp import McpTimeouts, connect_all
    from tau.mcp.oauth import describe_login

    timeouts = McpTimeouts.from_env(view.env)
    timeouts = McpTimeouts(startup_s=timeouts.startup_s + timeout_s, tool_s=timeouts.tool_s)
    session = await connect_all([config], env=view.env, cwd=view.cwd, timeouts=timeouts, preflight=False, auth=auth)
    try:
        [info] = session.infos
    finally:
        await session.aclose()
    if info.status != "connected":
        return False, f"{config.name}: login failed: {info.error}"
    login = describe_login(auth, config)
    if login["kind"] == "client_credentials":
        return True, f"{config.name}: connected with client credentials ({info.tools} tools); nothing to store"
    if config.name not in auth.logged_in:
        return True, f"{config.name}: connected without asking for a login ({info.tools} tools); nothing stored"
    scope = f", scope {login['scope']}" if login.get("scope") else ""
    return True, f"{config.name}: logged in ({info.tools} tools{scope}); runs will use and refresh this login"


@mcp_group.command("logout", epilog=examples("tau mcp logout github"))
@click.argument("name")
def logout_command(name: str) -> None:
    """Forget the stored OAuth login(s) of the MCP server NAME."""
    from tau.mcp.oauth_store import OAuthStore

    removed = OAuthStore.for_env(dict(os.environ)).remove(name)
    if removed:
        click.echo(f"{name}: logged out ({', '.join(removed)})")
    else:
        click.echo(f"{name}: no stored login")
