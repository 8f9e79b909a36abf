"""`tau sandbox build|ls|exec|rm|prune`: the docker sandbox image and the containers tau manages.

Only managed containers (label `tau.managed`) are listed or removed; containers a user attached with `--container`
are never touched. Every command first reaps orphans (managed containers whose owner process is gone).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click


def _sandbox() -> Any:
    from tau.environment import sandbox

    return sandbox


def _guard(action: Any) -> Any:
    from tau.errors import PreflightError

    sandbox = _sandbox()
    try:
        return action(sandbox)
    except sandbox.SandboxError as error:
        raise PreflightError(f"docker sandbox: {error}") from error


@click.group("sandbox")
def sandbox_group() -> None:
    """The docker sandbox: build its image, list, exec into, remove and prune managed containers."""


@sandbox_group.command("build")
@click.option("--quiet", "-q", is_flag=True, help="Print only the image tag.")
def build_command(quiet: bool) -> None:
    """Build the sandbox image offline (debootstrap base + Containerfile); a no-op when the tag exists."""

    def build(sandbox: Any) -> str:
        progress = (lambda _line: None) if quiet else (lambda line: click.echo(f"tau: {line}", err=True))
        return str(sandbox.build_image(progress=progress))

    click.echo(_guard(build))


@sandbox_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls_command(as_json: bool) -> None:
    """Managed containers: name, session, status, owner."""

    def listing(sandbox: Any) -> list[Any]:
        sandbox.reap_orphans()
        return list(sandbox.list_sandboxes())

    rows = _guard(listing)
    if as_json:
        click.echo(json.dumps([_row(info) for info in rows], indent=2))
        return
    for info in rows:
        row = _row(info)
        kept = "\tkept" if row["kept"] else ""
        click.echo(f"{row['name']}\t{row['session']}\t{row['status']}\towner={row['owner_pid']}{kept}")


def _row(info: Any) -> dict[str, Any]:
    return dict(dataclasses.asdict(info))


@sandbox_group.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(name: str, argv: tuple[str, ...]) -> None:
    """Run a command in a managed container (by name, session id or id prefix); exits with its code."""
    code, output = _guard(lambda sandbox: sandbox.exec_in(name, list(argv)))
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    sys.exit(code)


@sandbox_group.command("rm")
@click.argument("names", nargs=-1, required=True)
def rm_command(names: tuple[str, ...]) -> None:
    """Remove managed containers (by name, session id or id prefix)."""
    for name in names:
        info = _guard(lambda sandbox, n=name: sandbox.remove(n))
        click.echo(f"removed {info.name}")


@sandbox_group.command("prune")
@click.option("--all", "include_running", is_flag=True, help="Also running containers whose owner is gone.")
def prune_command(include_running: bool) -> None:
    """Remove orphaned and stopped managed containers (never one whose owner process is alive)."""
    removed = _guard(lambda sandbox: sandbox.prune(include_running=include_running))
    for info in removed:
        click.echo(f"removed {info.name}")
