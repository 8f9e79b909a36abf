"""`tau hooks`: list the configured hooks and test them against a payload, without running an agent.

- `tau hooks ls [--json]`: every configured handler (event, matcher, command, timeout, `if`, source file).
- `tau hooks test EVENT --input payload.json|-`: runs the matching hooks for real (host subprocesses, as in a run)
  with the payload's fields on stdin (missing common fields are filled in), prints the combined decision as JSON on
  stdout and exits 0 whatever the hooks decided. Config warnings go to stderr.

- `tau hooks setup [--maintenance]`: runs the Setup hooks (`trigger: init`, or `maintenance`), as Claude Code's
  `claude --init-only` / `--maintenance` do, with the settings `env` applied; prints the combined result as JSON
  and exits 1 when a handler failed or blocked (exit 2), else 0 — a CI step can rely on it. Runs never fire Setup.

All read the project's hook sources from `--cwd DIR` (default: the current directory; `--project-dir` is its
deprecated spelling); `--compat` adds `.claude/settings.json`, `.claude/settings.local.json` and `.codex/hooks.json`.
A malformed config or payload is a `ConfigError` (exit 2). Imports tau.hooks lazily so `tau --help` stays cheap.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from tau.cli.options import compat_option, cwd_option, examples, json_option, trust_workspace_option
from tau.errors import ConfigError

_PROJECT = cwd_option(aliases=("--project-dir",))


def _project(cwd: str | None) -> Path:
    """The project directory `--cwd` names (default: the current directory), resolved; exit 2 if not a directory."""
    project = Path(cwd).resolve() if cwd else Path.cwd().resolve()
    if not project.is_dir():
        raise ConfigError("not a directory", source=f"--cwd {cwd}")
    return project


def _load(cwd: str | None, compat: bool, *, trust_flag: bool | None, everything: bool = False) -> tuple[Path, Any]:
    """The project's hooks. Unless the project is trusted (or `everything`, for listing), its own files are skipped
    with one line on stderr saying so."""
    from tau.config.trust import trust_for, trust_hint
    from tau.hooks import load_hook_config

    project = _project(cwd)
    env = dict(os.environ)
    trust = trust_for(project, env, flag=bool(trust_flag))
    trusted = trust.trusted or everything
    config = load_hook_config(project, home=Path.home(), env=env, compat=compat, trusted=trusted)
    for warning in config.warnings:
        click.echo(f"tau: warning: {warning}", err=True)
    if config.skipped:
        files = ", ".join(config.skipped)
        click.echo(f"tau: untrusted workspace: hooks in {files} do not run — {trust_hint(trust.root)}", err=True)
    return project, (config, trust)


def _read_payload(source: str) -> dict[str, Any]:
    name = "<stdin>" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read payload: {error.strerror or error}", source=name) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise ConfigError(f"invalid JSON payload: {error}", source=name) from None
    if not isinstance(data, dict):
        raise ConfigError("the payload must be a JSON object", source=name)
    return data


@click.group("hooks", epilog=examples("tau hooks ls", "tau hooks test PreToolUse --input payload.json"))
def hooks() -> None:
    """Claude-Code-compatible hooks: list them, test them against a payload."""


@hooks.command("ls", epilog=examples("tau hooks ls --json", "tau hooks ls --cwd ~/src/project --no-compat"))
@_PROJECT
@compat_option
@trust_workspace_option
@json_option
def ls_command(cwd: str | None, compat: bool, trust_workspace: bool | None, as_json: bool) -> None:
    """List every configured hook handler, in the order they are combined, and whether a run would use it
    (a project's own hooks run only in a trusted workspace: `tau trust`). --compat (the default) also reads
    .claude/settings.json, .claude/settings.local.json and .codex/hooks.json.

    --json prints an array, one object per handler: event, matcher, command, timeout, if, source (the file),
    active (false: an untrusted workspace's own hook, which runs do not use).
    """
    project, (config, trust) = _load(cwd, compat, trust_flag=trust_workspace, everything=True)
    from tau.confine import inside

    def active(source: str) -> bool:
        return trust.trusted or not inside(os.path.realpath(source), str(project))

    rows = [
        {
            "event": event,
            "matcher": group.matcher,
            "command": handler.command,
            "timeout": handler.timeout,
            "if": handler.if_rule,
            "source": handler.source,
            "active": active(handler.source),
        }
        for event, groups in config.events.items()
        for group in groups
        for handler in group.handlers
    ]
    if not all(row["active"] for row in rows):
        from tau.config.trust import trust_hint

        click.echo(f"tau: untrusted workspace: its own hooks do not run — {trust_hint(trust.root)}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no hooks configured")
        return
    for row in rows:
        condition = f" if {row['if']}" if row["if"] else ""
        state = "" if row["active"] else "\t[skipped: untrusted workspace]"
        click.echo(f"{row['event']}\t{row['matcher'] or '*'}\t{row['command']}{condition}\t({row['source']}){state}")


@hooks.command(
    "test", epilog=examples("tau hooks test PreToolUse --input payload.json", "tau hooks test Stop --input -")
)
@click.argument("event")
@click.option("--input", "input_path", required=True, metavar="FILE|-", help="Payload JSON file, or - for stdin.")
@_PROJECT
@compat_option
@trust_workspace_option
def test_command(event: str, input_path: str, cwd: str | None, compat: bool, trust_workspace: bool | None) -> None:
    """Run the hooks configured for EVENT against a payload and print the combined decision as JSON (always JSON:
    the decision, blocked, reason, additional_context and one object per hook that ran). --compat: as for
    `tau hooks ls`."""
    import anyio

    from tau.hooks import EVENTS, HookContext, HookRunner, match_value

    if event not in EVENTS:
        raise ConfigError(f"unknown hook event {event!r} (known: {', '.join(EVENTS)})", source="tau hooks test")
    payload = _read_payload(input_path)
    project, (config, _) = _load(cwd, compat, trust_flag=trust_workspace)
    context = HookContext(
        session_id=str(payload.get("session_id") or "hooks-test"),
        project_dir=str(project),
        cwd=str(payload.get("cwd") or project),
        transcript_path=str(payload.get("transcript_path") or ""),
        permission_mode=str(payload.get("permission_mode") or "default"),
    )
    runner = HookRunner(config, context=context)
    fields = {key: value for key, value in payload.items() if key != "hook_event_name"}
    tool = payload.get("tool_name")
    tool_input = payload.get("tool_input")

    async def main() -> dict[str, Any]:
        outcome = await runner.run(
            event,
            fields,
            match_value=match_value(event, fields),
            tool=tool if isinstance(tool, str) else None,
            tool_input=tool_input if isinstance(tool_input, dict) else None,
        )
        return outcome.to_json()

    click.echo(json.dumps(anyio.run(main), indent=2, ensure_ascii=False))


@hooks.command("setup", epilog=examples("tau hooks setup", "tau hooks setup --maintenance --trust-workspace"))
@click.option("--maintenance", is_flag=True, help="Run with trigger `maintenance` instead of `init`.")
@_PROJECT
@trust_workspace_option
def setup_command(maintenance: bool, cwd: str | None, trust_workspace: bool | None) -> None:
    """Run the project's Setup hooks (Claude Code's `--init-only` / `--maintenance`) and print the result as JSON
    (always JSON, as `tau hooks test`); exit 1 when a hook failed or blocked."""
    import uuid

    import anyio

    from tau.config import load_job
    from tau.hooks import HookConfig, HookOptions, hook_session, load_hook_config

    project = _project(cwd)
    env = dict(os.environ)
    flags: dict[str, Any] = {"model": "test:setup"}  # no model runs; the job gives trust, hooks settings and env
    if trust_workspace:
        flags["trust_workspace"] = True
    job = load_job(job_path=None, prompt_text="(setup)", stdin_text=None, flags=flags, env=env, cwd=project)
    home = Path(job.home) if job.home else None
    config = load_hook_config(project, home=home, env=env, compat=job.hooks.compat, trusted=job.trust.trusted)
    if not job.hooks.enabled:
        config = HookConfig()
    for warning in config.warnings:
        click.echo(f"tau: warning: {warning}", err=True)
    if config.skipped:
        from tau.config.trust import trust_hint

        files = ", ".join(config.skipped)
        click.echo(f"tau: untrusted workspace: hooks in {files} do not run — {trust_hint(job.trust.root)}", err=True)
    session = hook_session(
        config,
        session_id=str(uuid.uuid4()),
        project_dir=str(project),
        env={**env, **job.env},
        options=HookOptions(cwd=str(project), permission_mode=job.permissions.mode),
    )
    trigger = "maintenance" if maintenance else "init"

    async def main() -> dict[str, Any]:
        outcome = await session.runner.run("Setup", {"trigger": trigger}, match_value=trigger)
        return outcome.to_json()

    result = anyio.run(main)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    if any(run["decision"] in ("error", "block") for run in result["hooks"]):
        raise SystemExit(1)
