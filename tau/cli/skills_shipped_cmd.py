"""`tau skills shipped`: the skills that ship with tau (the `tau` usage skill), listed or installed where agents look.

A run never offers them by itself (see `tau.skills.shipped`); `--install DIR` copies them to `DIR/<name>/`, e.g.
`~/.claude/skills` for Claude Code and tau, or a project's `.tau/skills`. Registered on the `tau skills` group by
`tau.cli.skills_cmd`. Imports only click at module level.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tau.cli.options import examples, json_option

__all__ = ["skills_shipped"]


@click.command("shipped", epilog=examples("tau skills shipped", "tau skills shipped --install ~/.claude/skills"))
@click.option(
    "--install",
    "install_dir",
    metavar="DIR",
    help="Copy the shipped skills to DIR/<name>/ (e.g. ~/.claude/skills or .tau/skills).",
)
@click.option("--force", is_flag=True, help="With --install: replace a skill directory that is already there.")
@json_option
def skills_shipped(install_dir: str | None, force: bool, as_json: bool) -> None:
    """List the skills that ship with tau, or install copies of them (`--install ~/.claude/skills`: then Claude
    Code, and tau runs, offer the `tau` skill).

    --json prints one object: root (where they ship), skills (name, description, path, files) and installed (the
    directories written).
    """
    from tau.errors import ConfigError
    from tau.skills.shipped import install_shipped, shipped_root, shipped_skills

    if force and install_dir is None:
        raise ConfigError("--force needs --install DIR")
    skills = shipped_skills()
    installed: list[Path] = []
    if install_dir is not None:
        installed = install_shipped(Path(os.path.expanduser(install_dir)).absolute(), force=force)
    if as_json:
        document: dict[str, Any] = {
            "root": str(shipped_root()),
            "skills": [
                {"name": s.name, "description": s.meta.description, "path": str(s.directory), "files": list(s.files)}
                for s in skills
            ],
            "installed": [str(path) for path in installed],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for skill in skills:
        click.echo(f"{skill.name}  {skill.directory / 'SKILL.md'}")
        click.echo(f"    {skill.meta.description}")
    for path in installed:
        click.echo(f"installed: {path}")
