"""`tau trust` and `tau doctor`: workspace trust, and what a run in a directory would load from where.

- `tau trust [DIR]` trusts DIR's repository root (the nearest directory up with `.git` or `.tau/`): its own files
  (hooks, MCP servers, allow rules, model endpoints...) then apply in full. The content of every trust-relevant file
  is pinned; a later change (a `git pull` that edits hooks) makes the root untrusted again until `tau trust` runs
  again. It prints what it trusts. `--revoke` forgets the root; `--check` prints the verdict only (`--status` was
  its name: it now says so, as `tau sessions ls --status` filters by a session's status); `--json` prints one object.
- `tau doctor [--cwd DIR] [--json]`: per source file, what a run started there loads, skips and why: config and
  settings files (keys kept, keys skipped for lack of trust or because they would loosen, keys tau does not
  implement), hooks, project MCP servers, memory files. Nothing is executed.

Exit codes: 0; 2 for a malformed file (one line naming it), as for `tau run`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tau.cli.options import cwd_option, examples, json_option, renamed, trust_workspace_option

__all__ = ["doctor_command", "trust_command"]


def _directory(value: str | None) -> Path:
    from tau.errors import ConfigError

    path = Path(os.path.realpath(value or os.getcwd()))
    if not path.is_dir():
        raise ConfigError("not a directory", source=value or ".")
    return path


@click.command("trust", epilog=examples("tau trust ~/src/myproject", "tau trust --check --json"))
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--revoke", is_flag=True, help="Forget the trust given to DIR's repository.")
@click.option("--check", "status", is_flag=True, help="Only print whether DIR's repository is trusted, and why.")
@renamed("--status", new="--check", is_flag=True)
@json_option
def trust_command(directory: str | None, revoke: bool, status: bool, as_json: bool) -> None:
    """Trust DIR's repository (default: the current one), so its own hooks, MCP servers and settings apply.
    In CI, for a job that checks out its own repository, prefer `tau run --trust-workspace` or
    `TAU_TRUST_WORKSPACE=1`.

    --json prints one object: root, trusted and verdict (after the command), pinned (the files this command
    pinned) and revoked (whether --revoke forgot a trust).
    """
    from tau.config.trust import TrustStore, project_root, trust_files, trust_for

    env = dict(os.environ)
    workspace = _directory(directory)
    home = Path(env["HOME"]) if env.get("HOME") else None
    root = project_root(workspace, home)
    store = TrustStore.for_env(env)
    done, files = False, dict[str, str]()
    if revoke and not status:
        done = store.revoke(root)
    elif not status:
        files = trust_files(root, workspace)
        store.trust(root, files)
    if as_json:
        verdict = trust_for(workspace, env)
        document = {"root": str(root), "trusted": verdict.trusted, "verdict": verdict.describe()}
        click.echo(json.dumps({**document, "pinned": sorted(files), "revoked": done}, indent=2, ensure_ascii=False))
        return
    if status:
        click.echo(f"{root}: {trust_for(workspace, env).describe()}")
        return
    if revoke:
        click.echo(f"{root}: {'trust revoked' if done else 'was not trusted by `tau trust`'}")
        return
    click.echo(f"trusted {root}")
    for name in sorted(files):
        click.echo(f"  pinned {name}")
    if not files:
        click.echo("  (no settings, hooks or MCP files yet: a file added later asks for `tau trust` again)")


@click.command("doctor", epilog=examples("tau doctor", "tau doctor --cwd ~/src/cloned-repo --json"))
@cwd_option()
@trust_workspace_option
@json_option
def doctor_command(cwd: str | None, trust_workspace: bool | None, as_json: bool) -> None:
    """Show, per source file, what a run in the working directory would load, what it would skip and why (with
    --trust-workspace: what a run given it would load).

    --json prints one object: workspace, trust (root, trusted, verdict, hint) and sources (one object per file:
    path, kind, loads, skips, ignores).
    """
    from tau.cli.doctor_report import gather

    report = gather(_directory(cwd), dict(os.environ), trust_flag=bool(trust_workspace))
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
    trust = report["trust"]
    click.echo(f"workspace {report['workspace']}")
    click.echo(f"repository root {trust['root']}: {trust['verdict']}")
    if not trust["trusted"]:
        click.echo(f"  {trust['hint']}")
    for source in report["sources"]:
        click.echo(f"\n{source['path']}  [{source['kind']}]")
        for label in ("loads", "skips", "ignores"):
            for line in source.get(label, []):
                click.echo(f"  {label[:-1]:<6} {line}")
