"""`tau agents ls`: the subagent types a run started in a directory would offer to its `task` tool, in precedence
order, with what discovery skipped (warnings) and shadowed (name clashes, naming the winner), and per agent the
`tools:` entries tau does not have (never granted). `--json` prints one JSON object.
Registered by `tau.cli.main` (the lead adds it to the command groups).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tau.cli.options import cwd_option, examples, json_option

if TYPE_CHECKING:
    from tau.runtime.features.agent_defs import AgentDefinition

__all__ = ["agents_group"]


@click.group("agents", epilog=examples("tau agents ls"))
def agents_group() -> None:
    """Inspect subagent definitions (.tau/agents, .claude/agents and user-level ones)."""


@agents_group.command("ls", epilog=examples("tau agents ls", "tau agents ls --cwd ~/src/project --json"))
@cwd_option()
@json_option
def agents_ls(cwd: str | None, as_json: bool) -> None:
    """List discovered subagent definitions.

    --json prints one object: agents (one object per definition, in precedence order), shadowed (name, path,
    shadowed_by) and warnings (strings).
    """
    from tau.errors import ConfigError
    from tau.memory import find_project_root
    from tau.runtime.features.agent_defs import discover_agents

    directory = os.path.realpath(cwd or os.getcwd())
    if not os.path.isdir(directory):
        raise ConfigError(f"--cwd {cwd}: not a directory")
    home = str(Path.home())
    config_home = os.environ.get("XDG_CONFIG_HOME") or None
    catalog = discover_agents(
        directory, home=home, project_root=find_project_root(directory, home=home), config_home=config_home
    )
    if as_json:
        payload = {
            "agents": [definition.as_json() for definition in catalog.definitions],
            "shadowed": [{"name": s.name, "path": s.path, "shadowed_by": s.shadowed_by} for s in catalog.shadowed],
            "warnings": list(catalog.warnings),
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for definition in catalog.definitions:
        _echo_definition(definition)
    if not catalog.definitions:
        click.echo("(no subagents)")
    for shadow in catalog.shadowed:
        click.echo(f"shadowed: {shadow.name} at {shadow.path} (by {shadow.shadowed_by})")
    for warning in catalog.warnings:
        click.echo(f"warning: {warning}")


def _echo_definition(definition: AgentDefinition) -> None:
    from tau.runtime.features.agent_defs import missing_reason

    tools = "all (inherited)" if definition.tools is None else ", ".join(definition.tools) or "none"
    click.echo(f"{definition.name}  ({definition.scope})  {definition.path}")
    for line in definition.description.splitlines() or [""]:
        click.echo(f"    {line}".rstrip())
    click.echo(f"    tools: {tools}")
    for name in definition.missing_tools:
        click.echo(f"    missing tool: {name} ({missing_reason(name)}); not granted")
    if definition.disallowed_tools or definition.deny_rules:
        click.echo(f"    disallowed: {', '.join((*definition.disallowed_tools, *definition.deny_rules))}")
    if definition.skills:
        click.echo(f"    skills (preloaded): {', '.join(definition.skills)}")
    extras = [
        f"model {definition.model}" if definition.model else "",
        f"maxTurns {definition.max_turns}" if definition.max_turns else "",
        f"permissionMode {definition.permission_mode}" if definition.permission_mode else "",
    ]
    if any(extras):
        click.echo(f"    {', '.join(e for e in extras if e)}")
