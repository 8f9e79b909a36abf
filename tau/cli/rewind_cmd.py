"""`tau rewind SNAPSHOT`: restore the workspace files to what they were at a snapshot (and say what changed).

Registered by main.py (`cli.add_command(rewind_command)`); only click is imported at module level.
"""

from __future__ import annotations

import click

from tau.cli.options import cwd_option, examples, json_option, state_dir_option


@click.command("rewind", epilog=examples("tau rewind 3f9a2c --dry-run", "tau rewind nightly-1 --json"))
@click.argument("snapshot")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@state_dir_option
@cwd_option(default="the workspace recorded in the snapshot")
@json_option
def rewind_command(snapshot: str, dry_run: bool, state_dir: str | None, cwd: str | None, as_json: bool) -> None:
    """Restore the workspace files to SNAPSHOT (a snapshot id or unique prefix, or a session id = its head).

    Files tau captured are written back, files created after the snapshot are deleted, files it did not capture
    (ignored, or beyond the checkpoint limits) are left as they are and listed; exit 1 if a file could not be
    restored.

    --json prints one object: snapshot, session, step, target, dry_run, restored and deleted (paths), unchanged (a
    count), not_captured and errors (path and reason/error), notes.
    """
    import asyncio
    import json
    import os

    from tau.checkpoints.rewind import rewind_snapshot
    from tau.cli.run import open_store
    from tau.errors import ConfigError

    if cwd is not None and not os.path.isdir(cwd):
        raise ConfigError("not a directory", source=f"--cwd {cwd}")
    workspace = cwd

    store = open_store(state_dir, write=not dry_run)
    target, report = asyncio.run(rewind_snapshot(store, snapshot, root=workspace, dry_run=dry_run))
    if as_json:
        payload = {"snapshot": target.snapshot_id, "session": target.session_id, "step": target.step}
        click.echo(json.dumps({**payload, **report.to_json()}))
    else:
        where = workspace or target.root
        click.echo(
            f"rewind {where} to snapshot {target.snapshot_id[:12]} (session {target.session_id}, step {target.step})"
        )
        for line in report.lines():
            click.echo(line)
    if report.errors:
        raise SystemExit(1)
