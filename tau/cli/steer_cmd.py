"""`tau inject SESSION TEXT` and `tau stop SESSION`: steer a running session from another shell.

Both write one request file into the session's inbox (`<state dir>/inbox/<session>/`, atomically: temp file +
rename); the running `tau run`/`tau resume` process watches it (runtime.features.steering). `inject` queues the message
even when the session is not running (it is delivered when the session next runs) and says which it was; `stop`
writes nothing for a session that is not running and says so (exit 0: the session is stopped either way), and with
`--wait` waits, bounded, until the run has ended (exit 124 if it has not). An unknown session is exit 2.

Registered by main.py (`cli.add_command(inject_command)`, `cli.add_command(stop_command)`); only click is imported at
module level.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from tau.cli.options import examples, state_dir_option

if TYPE_CHECKING:
    from tau.cli.stores import AnyStore

_WAIT_POLL_S = 0.1


def _store(state_dir: str | None) -> AnyStore:
    """The file store, or the Postgres store `--store` chooses (its inboxes stay in this machine's state dir)."""
    from tau.cli.stores import open_any_store

    return open_any_store(state_dir)


@click.command(
    "inject", epilog=examples('tau inject nightly-1 "also check the tests"', "tau inject nightly-1 - < note.md")
)
@click.argument("session")
@click.argument("text", metavar="TEXT|-")
@state_dir_option
def inject_command(session: str, text: str, state_dir: str | None) -> None:
    """Send TEXT (`-` reads stdin) to SESSION's model: a running session sees it at its next step; a session that
    is not running gets it when it next runs."""
    import asyncio

    from tau.runtime.features.steering import inject_message

    message = sys.stdin.read() if text == "-" else text
    posted = asyncio.run(inject_message(_store(state_dir), session, message))
    if posted.running:
        click.echo(f"tau: message queued for running session {posted.session_id} (seen at its next step)", err=True)
    else:
        click.echo(
            f"tau: session {posted.session_id} is not running; the message stays queued and is delivered when it "
            f"next runs (tau resume {posted.session_id})",
            err=True,
        )


@click.command(
    "stop", epilog=examples("tau stop nightly-1", 'tau stop nightly-1 --wait 30 --reason "deploy window closed"')
)
@click.argument("session")
@click.option("--reason", default="", metavar="TEXT", help="Why the run is stopped (recorded with the request).")
@click.option("--wait", type=float, metavar="SECONDS", help="Wait up to SECONDS for the run to end (exit 124 if not).")
@state_dir_option
def stop_command(session: str, reason: str, wait: float | None, state_dir: str | None) -> None:
    """Stop SESSION's running `tau run`/`tau resume`: it ends gracefully (terminal event, committed snapshot,
    exit 130). Nothing is sent to a session that is not running."""
    import asyncio

    from tau.runtime.features.steering import is_running, request_stop

    store = _store(state_dir)
    posted = asyncio.run(request_stop(store, session, reason))
    if not posted.running:
        click.echo(f"tau: session {posted.session_id} is not running; nothing to stop", err=True)
        return
    click.echo(f"tau: stop requested for session {posted.session_id}", err=True)
    if wait is None:
        return
    deadline = time.monotonic() + max(wait, 0.0)
    while asyncio.run(is_running(store, posted.session_id)):
        if time.monotonic() >= deadline:
            click.echo(f"tau: session {posted.session_id} still running after {wait:g}s", err=True)
            sys.exit(124)
        time.sleep(_WAIT_POLL_S)
    click.echo(f"tau: session {posted.session_id} stopped", err=True)
