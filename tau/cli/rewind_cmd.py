"""`tau rewind SNAPSHOT`: restore the workspace files to what they were at a snapshot (and say what changed).

Registered by main.py (`cli.add_command(rewind_command)`); only click is imported at module level.
"""

from __future__ import annotations

import click


@click.command("rewind")
@click.argument("snapshot")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="The snapshot store (default: see docs).")
@click.option(
    "--cwd",
    "workspace",
    type=click.Path(file_okay=False, exists=True),
    help="Workspace to rewind (default: the one recorded in the snapshot's config).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def rewind_command(snapshot: str, dry_run: bool, state_dir: str | None, workspace: str | None, as_json: bool) -> None:
    """Restore the workspace files to SNAPSHOT (a snapshot id or unique prefix, or a session id = its head).

    Files tau captured are written back, files created after the snapshot are deleted, files it did not capture
    (ignored, or beyond the checkpoint limits) are left as they are and listed.
    """
    import asyncio
    import json

    from tau.checkpoints.rewind import rewind_snapshot
    from tau.cli.run import open_store

    store = open_store(state_dir, write=not dry_run)
    target, report = asyncio.run(rewind_snapshot(store, snapshot, root=workspace, dry_run=dry_run))
    if as_json:
        payload = {"snapshot": target.snapshot_id, "session": target.session_id, "step": target.step}
        click.echo(json.dumps({**payload, **report.to_json()}))
        return
    where = workspace or target.root
    click.echo(
        f"rewind {where} to snapshot {target.snapshot_id[:12]} (session {target.session_id}, step {target.step})"
    )
    for line in report.lines():
        click.echo(line)
    if report.errors:
        raise SystemExit(1)
