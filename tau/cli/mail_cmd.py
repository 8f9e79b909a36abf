"""`tau mail send ID TEXT` and `tau mail ls ID [--json]`: a session's mailbox in the store's catalog
(`tau.sessions.catalog`; with `--store postgres://…`, in that database), the same mail `tau serve`'s SendMessage /
ListMail read and write.

`send` stores one message (kind `message`, sender `--sender`, default `cli`) for a session of the store, or one
`tau serve` created on this store that has not run yet (its journal knows it; the mail then fires its first run, as
SendMessage's does); a `tau serve` on the same state dir or store database delivers it (it looks at the catalog every
`MailLimits.poll` seconds, and at every run's end), or the next server started there does. `ls` prints
`SEQ  KIND  SENDER  STATE  BODY` lines (STATE: `pending` or `delivered`), or one JSON array with --json. An
unknown session is one line, exit 2; empty text too.
`mail_options` / `service_limits`: `tau serve`'s guard-rail flags. Only click is imported at module level.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from tau.cli.options import examples, json_option, state_dir_option

if TYPE_CHECKING:
    from tau.rpc.service import ServiceLimits

__all__ = ["mail_group", "mail_options", "service_limits"]


def _check_session(state_dir: str | None, session: str, source: str) -> None:
    """ConfigError unless the store has `session`, or `tau serve`'s journal on that store does (a session created
    there that has not run yet: its journal is beside the state dir, or in the Postgres database)."""
    from tau.cli.stores import open_any_store
    from tau.errors import ConfigError
    from tau.rpc.journal import journaled
    from tau.sessions import FileSessionStore

    store = open_any_store(state_dir, write=False)
    if store.refs.read(session) is not None:
        return
    if isinstance(store, FileSessionStore):
        known = journaled(store.root, session)
    else:
        known = store.journal_tables().exists(session)
    if not known:
        raise ConfigError(f"no session {session!r}", source=source)


@click.group("mail", epilog=examples("tau mail send s1 'the build is green'", "tau mail ls s1 --json"))
def mail_group() -> None:
    """A session's mailbox (tau serve delivers it: a continuation run, or into a running run)."""


@mail_group.command("send", epilog=examples("tau mail send s1 'the build is green'", "tau mail send s1 hi --sender ci"))
@click.argument("session")
@click.argument("text")
@click.option("--sender", default="cli", show_default=True, help="Who the message is from (shown to the agent).")
@state_dir_option
def send_command(session: str, text: str, sender: str, state_dir: str | None) -> None:
    """Post TEXT to SESSION's mailbox; prints the message's number."""
    from tau.cli.presets_cmd import catalog_of
    from tau.errors import ConfigError

    if not text.strip():
        raise ConfigError("the message is empty", source="tau mail send")
    _check_session(state_dir, session, "tau mail send")
    row = catalog_of(state_dir).post_mail(session, sender=sender.strip()[:128] or "cli", kind="message", body=text)
    click.echo(str(row.seq))


@mail_group.command("ls", epilog=examples("tau mail ls s1", "tau mail ls s1 --pending --json"))
@click.argument("session")
@click.option("--pending", is_flag=True, help="Only mail not yet delivered.")
@json_option
@state_dir_option
def ls_command(session: str, pending: bool, as_json: bool, state_dir: str | None) -> None:
    """List SESSION's mail, oldest first.

    --json prints one array: each message's seq, sender, kind, body, created and delivered (empty: pending).
    """
    from tau.cli.presets_cmd import catalog_of

    _check_session(state_dir, session, "tau mail ls")
    rows = catalog_of(state_dir).mail(session, pending_only=pending)
    if as_json:
        fields = ("seq", "sender", "kind", "body", "created", "delivered")
        click.echo(json.dumps([{name: getattr(row, name) for name in fields} for row in rows], ensure_ascii=False))
        return
    for row in rows:
        state = "delivered" if row.delivered else "pending"
        first = row.body.splitlines()[0] if row.body else ""
        click.echo(f"{row.seq}\t{row.kind}\t{row.sender}\t{state}\t{first[:100]}")


def mail_options(func: Any) -> Any:
    """`tau serve`'s guard rails of the mailbox and background agents (`tau.rpc.mailbox.MailLimits`)."""
    options = (
        click.option("--mail-debounce", type=click.FloatRange(0), metavar="SECONDS", default=0.5, show_default=True,
                     help="Mail within this window after a first message is delivered as one wake-up."),
        click.option("--max-agents", type=click.IntRange(0), default=64, show_default=True,
                     help="Background agents running at once on the server."),
        click.option("--max-agents-per-session", type=click.IntRange(0), default=8, show_default=True,
                     help="Background agents running at once under one parent session."),
        click.option("--max-agent-depth", type=click.IntRange(0), default=2, show_default=True,
                     help="How deep background agents may nest (1: only top-level sessions start them)."),
        click.option("--max-auto-wakeups", type=click.IntRange(0), default=10, show_default=True,
                     help="Loop guard: wake-ups on agents' mail alone before a session's mail is held "
                     "(external mail resets it)."),
    )  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def service_limits(mail: dict[str, Any]) -> ServiceLimits:
    """The `ServiceLimits` of `tau serve`'s mail options (the `mail_options` values by name)."""
    from tau.rpc.mailbox import MailLimits
    from tau.rpc.service import ServiceLimits

    limits = MailLimits(
        debounce=float(mail["mail_debounce"]),
        max_agents=int(mail["max_agents"]),
        max_agents_per_session=int(mail["max_agents_per_session"]),
        max_depth=int(mail["max_agent_depth"]),
        max_auto_wakeups=int(mail["max_auto_wakeups"]),
    )
    return ServiceLimits(mail=limits)
