"""`tau skills ls`: the skills a run started in a directory would offer, in precedence order, with what discovery
skipped (warnings), what it shadowed (name clashes) and what the listing budget leaves out; per skill its
`argument-hint`, whether it runs in a subagent (`context: fork`, `agent`) and its `allowed-tools`. `--json` prints one
JSON object. Registered by `tau.cli.main`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tau.cli.options import cwd_option, examples, json_option
from tau.cli.skills_shipped_cmd import skills_shipped

if TYPE_CHECKING:
    from tau.skills import Skill, SkillCatalog

__all__ = ["skills_group"]


@click.group("skills", epilog=examples("tau skills ls", "tau skills shipped --install ~/.claude/skills"))
def skills_group() -> None:
    """Inspect the skills a run offers (.tau/skills, .claude/skills, .agents/skills and user-level ones)."""


skills_group.add_command(skills_shipped)


@skills_group.command("ls", epilog=examples("tau skills ls", "tau skills ls --cwd ~/src/project --json"))
@cwd_option()
@click.option(
    "--context-window",
    type=int,
    default=128_000,
    show_default=True,
    metavar="TOKENS",
    help="The model's context window, for the listing budget (2%).",
)
@json_option
def skills_ls(cwd: str | None, context_window: int, as_json: bool) -> None:
    """List discovered skills.

    --json prints one object: skills (one object per skill: name, description, path, scope, allowed_tools,
    in_listing...), shadowed, listing_budget_chars, omitted (names left out of the listing) and warnings.
    """
    from tau.config.trust import trust_for
    from tau.errors import ConfigError
    from tau.memory import find_project_root
    from tau.skills import discover_skills, listing_budget, listing_warning

    directory = os.path.realpath(cwd or os.getcwd())
    if not os.path.isdir(directory):
        raise ConfigError(f"--cwd {cwd}: not a directory")
    home = str(Path.home())
    trusted = trust_for(Path(directory), os.environ).trusted
    catalog = discover_skills(
        cwd=directory,
        home=home,
        project_root=find_project_root(directory, home=home),
        workspace_root=directory,
        confined=not trusted,
    )
    budget = listing_budget(context_window)
    _, omitted = catalog.render_listing(budget)
    warnings = list(catalog.warnings)
    omission = listing_warning(omitted, budget)
    if omission:
        warnings.append(omission)
    if as_json:
        click.echo(json.dumps(_as_json(catalog, omitted, warnings, budget), indent=2, ensure_ascii=False))
        return
    for skill in catalog.skills:
        _echo_skill(skill, omitted)
    if not catalog.skills:
        click.echo("(no skills)")
    for shadow in catalog.shadowed:
        click.echo(f"shadowed: {shadow.name} at {shadow.path} (by {shadow.shadowed_by})")
    for warning in warnings:
        click.echo(f"warning: {warning}")


def _echo_skill(skill: Skill, omitted: list[str]) -> None:
    flags: list[str] = [skill.scope]
    if not skill.meta.model_invocable:
        flags.append("not model-invocable")
    if skill.name in omitted:
        flags.append("omitted from listing")
    if skill.workspace_dir is None:
        flags.append("outside workspace")
    click.echo(f"{skill.name}  ({', '.join(flags)})  {skill.path}")
    click.echo(f"    {skill.description}")
    if skill.meta.argument_hint:
        click.echo(f"    arguments: {skill.meta.argument_hint}")
    if skill.meta.fork:
        click.echo(f"    runs in a subagent: {skill.meta.agent or 'general-purpose'} (context: fork)")
    if skill.meta.allowed_tools:
        click.echo(f"    allowed-tools: {', '.join(skill.meta.allowed_tools)}")


def _as_json(catalog: SkillCatalog, omitted: list[str], warnings: list[str], budget: int) -> dict[str, Any]:
    return {
        "skills": [
            {
                "name": skill.name,
                "description": skill.description,
                "path": skill.path,
                "scope": skill.scope,
                "library": skill.library,
                "workspace_dir": skill.workspace_dir,
                "model_invocable": skill.meta.model_invocable,
                "user_invocable": skill.meta.user_invocable,
                "license": skill.meta.license,
                "compatibility": skill.meta.compatibility,
                "metadata": skill.meta.metadata,
                "allowed_tools": list(skill.meta.allowed_tools),
                "argument_hint": skill.meta.argument_hint,
                "context": "fork" if skill.meta.fork else None,
                "agent": skill.meta.agent,
                "in_listing": skill.meta.model_invocable and skill.name not in omitted,
            }
            for skill in catalog.skills
        ],
        "shadowed": [
            {"name": shadow.name, "path": shadow.path, "shadowed_by": shadow.shadowed_by} for shadow in catalog.shadowed
        ],
        "listing_budget_chars": budget,
        "omitted": omitted,
        "warnings": warnings,
    }
