"""`tau sandbox build|ls|exec|rm|prune`: the docker sandbox image and the containers tau manages; `tau sandbox check`:
what the host sandbox can do on this machine.

Only managed containers (label `tau.managed`) are listed or removed; containers a user attached with `--container`
are never touched. Every command first reaps orphans (managed containers whose owner process is gone).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

import click

from tau.cli.options import examples, json_option, quiet_option


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


@click.group("sandbox", epilog=examples("tau sandbox check", "tau sandbox build", "tau sandbox ls"))
def sandbox_group() -> None:
    """The host sandbox (check) and the docker sandbox: build its image, list, exec into, remove and prune managed
    containers."""


@sandbox_group.command("check", epilog=examples("tau sandbox check", "tau sandbox check --json"))
@json_option
def check_command(as_json: bool) -> None:
    """Which host sandbox mechanisms work here; exits 0 when a sandboxed run is possible, 3 when not.

    --json prints one object: bwrap, user_namespaces, seccomp, landlock, network_namespace (each with its reason),
    sandbox_possible, and default_policy (what `tau run` here would use).
    """
    from tau.environment.hostcheck import host_check

    report = host_check().as_dict()
    report["default_policy"] = _default_policy()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for line in _check_lines(report):
            click.echo(line)
    sys.exit(0 if report["sandbox_possible"] else 3)


def _default_policy() -> dict[str, str]:
    """The policy `tau run` would use here with no flags (from the configs of the current directory)."""
    from pathlib import Path

    from tau.config import load_job
    from tau.errors import ConfigError
    from tau.runtime.workspace import host_policy

    try:
        # A placeholder model: only the sandbox and permission settings of the configs matter here.
        flags = {"model": "test:check"}
        job = load_job(prompt_text="(tau sandbox check)", flags=flags, env=dict(os.environ), cwd=Path.cwd())
    except ConfigError as error:
        return {"policy": "workspace-write", "environment": "host", "note": f"config not loadable: {error}"}
    return {
        "policy": host_policy(job),
        "environment": job.environment.kind,
        "permission_mode": job.permissions.mode,
        "network": job.environment.sandbox.network,
    }


def _yes(flag: object) -> str:
    return "yes" if flag else "no"


def _check_lines(report: dict[str, Any]) -> list[str]:
    bwrap, userns = report["bwrap"], report["user_namespaces"]
    seccomp, landlock, net = report["seccomp"], report["landlock"], report["network_namespace"]
    default = report["default_policy"]
    if bwrap["found"]:
        lines = [f"bwrap:              {bwrap['path']} ({bwrap['source']}, {bwrap['version']})"]
    else:
        lines = [f"bwrap:              none working ({'; '.join(bwrap['problems']) or 'not found'})"]
    details = ""
    if "network" in default:
        details = f" (permission mode {default['permission_mode']}, network {default['network']})"
    elif "note" in default:
        details = f" ({default['note']})"
    lines += [
        f"user namespaces:    {_yes(userns['available'])} ({userns['reason']})",
        f"seccomp filter:     {_yes(seccomp['active'])} ({seccomp.get('arch', '?')}: {seccomp['reason']})",
        f"landlock:           {'ABI ' + str(landlock['abi']) if landlock['abi'] else 'no'} ({landlock['reason']})",
        f"network namespace:  {_yes(net['available'])} ({net['reason']})",
        f"default run:        {default['policy']} on {default['environment']}{details}",
    ]
    if report["sandbox_possible"]:
        lines.append("sandboxed runs:     possible")
    else:
        lines.append("sandboxed runs:     NOT possible: `tau run` stops with exit 3 unless --sandbox-policy full")
        from tau.environment.hostsandbox import in_container

        if in_container():
            lines.append(
                "in a container:     run it with `--security-opt seccomp=unconfined --security-opt "
                "systempaths=unconfined`, or let the container be the wall: TAU_SANDBOX_POLICY=full"
            )
    return lines


@sandbox_group.command("build", epilog=examples("tau sandbox build", "tau sandbox build -q"))
@quiet_option
def build_command(quiet: bool) -> None:
    """Build the sandbox image offline (debootstrap base + Containerfile); a no-op when the tag exists. Prints the
    image tag on stdout (progress on stderr)."""

    def build(sandbox: Any) -> str:
        progress = (lambda _line: None) if quiet else (lambda line: click.echo(f"tau: {line}", err=True))
        return str(sandbox.build_image(progress=progress))

    click.echo(_guard(build))


@sandbox_group.command("ls", epilog=examples("tau sandbox ls", "tau sandbox ls --json"))
@json_option
def ls_command(as_json: bool) -> None:
    """Managed containers: name, session, status, owner.

    --json prints an array, one object per container (name, session, status, owner_pid, kept, ...).
    """

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


@sandbox_group.command(
    "exec",
    context_settings={"ignore_unknown_options": True},
    epilog=examples("tau sandbox exec nightly-1 ls -la /workspace"),
)
@click.argument("name")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(name: str, argv: tuple[str, ...]) -> None:
    """Run a command in a managed container (by name, session id or id prefix); exits with its code."""
    code, output = _guard(lambda sandbox: sandbox.exec_in(name, list(argv)))
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    sys.exit(code)


@sandbox_group.command("rm", epilog=examples("tau sandbox rm nightly-1"))
@click.argument("names", nargs=-1, required=True)
def rm_command(names: tuple[str, ...]) -> None:
    """Remove managed containers (by name, session id or id prefix)."""
    for name in names:
        info = _guard(lambda sandbox, n=name: sandbox.remove(n))
        click.echo(f"removed {info.name}")


@sandbox_group.command("prune", epilog=examples("tau sandbox prune", "tau sandbox prune --all"))
@click.option("--all", "include_running", is_flag=True, help="Also remove running containers whose owner is gone.")
def prune_command(include_running: bool) -> None:
    """Remove orphaned and stopped managed containers (never one whose owner process is alive)."""
    removed = _guard(lambda sandbox: sandbox.prune(include_running=include_running))
    for info in removed:
        click.echo(f"removed {info.name}")
