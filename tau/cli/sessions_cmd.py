"""`tau sessions …`: list, show, log, diff, remove, collect, check, export and import sessions of the snapshot store.

Every command takes `--state-dir` (default: `tau.sessions.default_state_dir`, the same store `tau run` writes) or
`--store postgres://…` (also `TAU_STORE`, the user config's `[store] url`: sessions in Postgres, `tau.cli.stores`) and
reports errors as one line with tau's exit codes: an unknown id or prefix is exit 2, a damaged object exit 1
(`fsck` exits 1 when it finds damage and prints each problem with its path). Only click is imported at module level
(`tau --help` stays cheap); store, pydantic-ai and rendering are imported by the command bodies.

Transcript lines (`show`, `diff`): `user: …`, `assistant: …`, `tool → name {args}` for a call, `tool ← name: …` for
a result (`[denied]`/`[failed]` marked), `retry: …`, `system: …`; long texts are cut to one line of 200 characters
(`--full` in `show` keeps them whole).

`diff` also compares the two snapshots' workspace pins (files added / removed / changed, `--patch` for a unified diff
of the text files from the stored blobs); `log` lists, under each snapshot, the subagent sessions started from it;
`ls` hides subagent sessions (ids with `.task-`) unless `--all`.

`--json`: `ls` prints one object per line (JSON Lines); `show`, `log`, `diff` and `fsck` print one object each
(`tau.cli.sessions_json` owns those shapes). `export SESSION FILE` takes the bundle path as an argument (`-o FILE`
was its spelling before `-o` meant a run's output format everywhere: it now says so, exit 2).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tau.cli.options import examples, json_option, renamed, state_dir_option

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from tau.cli.stores import AnyStore
    from tau.runtime.features.subagents import ChildSession
    from tau.sessions import Transcript

__all__ = ["sessions_group", "transcript_lines"]

T = TypeVar("T")
_CUT = 200
_SUBAGENT_MARK = ".task-"  # subagent session ids are `<parent>.task-<n>`


_state_dir = state_dir_option


def _store(state_dir: str | None, *, write: bool = False) -> AnyStore:
    """The store, checked (`tau.cli.stores.open_any_store`: the file store, or Postgres with `--store`); readers
    accept a file store that does not exist yet."""
    from tau.cli.stores import open_any_store

    return open_any_store(state_dir, write=write)


def _run(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    import anyio

    return anyio.run(func, *args)


def _one_line(text: str, limit: int | None = _CUT) -> str:
    flat = " ".join(text.split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def transcript_lines(messages: Sequence[ModelMessage], *, limit: int | None = _CUT) -> list[str]:
    """One line per part worth showing: user, assistant, tool calls and results, retries, system prompts."""
    from tau.cli.sessions_json import entry_line, transcript_entries

    return [entry_line(entry, lambda text: _one_line(text, limit)) for entry in transcript_entries(messages)]


def _since(value: str | None) -> datetime | str | None:
    """`--since`: a duration back from now (`2h`, `3d`, `90m`) or an ISO date/time."""
    if not value:
        return None
    from tau.config.settings import parse_duration
    from tau.errors import ConfigError

    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = None
    try:
        if isinstance(seconds, float):
            return datetime.now(UTC) - timedelta(seconds=seconds)
        return datetime.fromisoformat(value)
    except (ValueError, OverflowError):  # not a date; a duration reaching before year 1 (or inf, nan)
        raise ConfigError(f"expected a duration (2h, 3d) or an ISO date, got {value!r}", source="--since") from None


@click.group(
    "sessions", epilog=examples("tau sessions ls --limit 5", "tau sessions show nightly-1", "tau sessions fsck")
)
def sessions_group() -> None:
    """Inspect and maintain the session store (every `tau run` is a session of snapshots)."""


@sessions_group.command(
    "ls", epilog=examples("tau sessions ls --limit 5", "tau sessions ls --status suspended --since 2d --json")
)
@click.option("--status", metavar="STATUS", help="Only sessions whose head has this status (completed, suspended, …).")
@click.option("--since", metavar="WHEN", help="Only sessions updated since WHEN (2h, 3d, or an ISO date).")
@click.option("--model", metavar="TEXT", help="Only sessions whose model contains TEXT.")
@click.option("--limit", type=int, metavar="N", help="At most N sessions (most recent first).")
@click.option(
    "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Only sessions with this label (repeatable)."
)
@json_option
@click.option("--all", "show_all", is_flag=True, help="Also list subagent sessions (ids containing `.task-`).")
@_state_dir
def sessions_ls(
    status: str | None,
    since: str | None,
    model: str | None,
    limit: int | None,
    labels: tuple[str, ...],
    as_json: bool,
    show_all: bool,
    state_dir: str | None,
) -> None:
    """List sessions, most recently updated first (subagent sessions only with --all).

    --json prints one object per session, one per line (JSON Lines): id, status, updated, created, turns, tokens,
    cost, model, title, parent, ...
    """
    from dataclasses import asdict

    from tau.cli.labels_cmd import label_filter
    from tau.sessions import SessionFilter

    sql_limit = limit if show_all and not labels else None
    where = SessionFilter(status=status, since=_since(since), model=model, limit=sql_limit)
    store = _store(state_dir)
    if not store.root.is_dir():
        return
    infos = _run(store.list_sessions, where)
    labelled = label_filter(state_dir, labels)  # `tau sessions label` (tau.cli.labels_cmd)
    if labelled is not None:
        infos = [info for info in infos if info.id in labelled][: limit if show_all else None]
    if not show_all:
        infos = [info for info in infos if _SUBAGENT_MARK not in info.id][:limit]
    if as_json:
        for info in infos:
            click.echo(json.dumps(asdict(info), ensure_ascii=False))
        return
    if not infos:
        return
    click.echo(
        f"{'SESSION':<36}  {'STATUS':<14}  {'UPDATED':<19}  {'TURNS':>5}  {'TOKENS':>8}  {'COST':>8}  MODEL  TITLE"
    )
    for info in infos:
        cost = f"${info.cost:.4f}" if info.cost is not None else "-"
        updated = info.updated[:19].replace("T", " ")
        click.echo(
            f"{info.id:<36}  {info.status:<14}  {updated:<19}  {info.turns:>5}  {info.tokens:>8}  {cost:>8}  "
            f"{info.model or '-'}  {_one_line(info.title, 60)}"
        )


@sessions_group.command(
    "show", epilog=examples("tau sessions show nightly-1", "tau sessions show 3f9a2c --json | jq '.pending'")
)
@click.argument("name", metavar="ID|SNAPSHOT")
@click.option("--full", is_flag=True, help="Do not shorten long texts.")
@json_option
@_state_dir
def sessions_show(name: str, full: bool, as_json: bool, state_dir: str | None) -> None:
    """The transcript at a session's head or at a snapshot (an id or a unique prefix).

    --json prints one object: session, snapshot, step, status, created, model, workspace, messages (entries with
    kind user, assistant, system, tool_call, tool_result or retry, texts whole) and pending (kind approval or
    question, call_id, tool, args).
    """
    store = _store(state_dir)
    shown = _run(store.show, name)
    if as_json:
        from tau.cli.sessions_json import show_json

        click.echo(json.dumps(show_json(shown), ensure_ascii=False))
        return
    snap = shown.snapshot
    click.echo(f"session {snap.session} · snapshot {snap.id[:12]} · step {snap.step} · {snap.status}")
    model = shown.config.get("model")
    if isinstance(model, dict):
        click.echo(f"model {model.get('provider')}:{model.get('name')} · workspace {_workspace(shown.config)}")
    click.echo("")
    for line in transcript_lines(shown.messages, limit=None if full else _CUT):
        click.echo(line)
    if shown.pending is not None:
        click.echo("")
        for call in (*shown.pending.approvals, *shown.pending.calls):
            kind = "approval" if call in shown.pending.approvals else "question"
            args = _one_line(json.dumps(call.args_as_dict(), ensure_ascii=False), 120)
            click.echo(f"pending {kind}: {call.tool_call_id} {call.tool_name} {args}")


def _workspace(config: dict[str, Any]) -> str:
    environment = config.get("environment")
    return str(environment.get("workspace", "?")) if isinstance(environment, dict) else "?"


@sessions_group.command("log", epilog=examples("tau sessions log nightly-1", "tau sessions log nightly-1 --json"))
@click.argument("session")
@json_option
@_state_dir
def sessions_log(session: str, as_json: bool, state_dir: str | None) -> None:
    """One line per snapshot of SESSION, oldest first: id, step, status, tokens, first words; under a snapshot, the
    subagent sessions started from it (`↳ ID AGENT STATUS`, their own subagents indented below).

    --json prints one object: session, snapshots (oldest first: snapshot, step, status, created, pending, tokens,
    last (the last transcript entry), subagents) and other_subagents (started from a snapshot outside the chain);
    a subagent is session, agent, status, parent_snapshot and its own subagents.
    """
    from tau.sessions.snapshot import decode_messages

    store = _store(state_dir)
    resolved = store.resolve(session)
    chain = store.chain(resolved.snapshot_id)
    children = _children_by_snapshot(store, {snap.session for _, snap in chain})
    if as_json:
        from tau.cli.sessions_json import log_json

        click.echo(json.dumps(log_json(store, chain, children), ensure_ascii=False))
        return
    for snapshot_id, snap in chain:
        words = ""
        if snap.messages is not None:
            lines = transcript_lines(
                decode_messages(store.objects.get(snap.messages), store.objects.path(snap.messages))
            )
            words = lines[-1] if lines else ""
        tokens = int(snap.usage.get("input_tokens", 0) + snap.usage.get("output_tokens", 0))
        status = snap.status + (" (pending)" if snap.pending is not None else "")
        click.echo(f"{snapshot_id[:12]}  step {snap.step:<4} {status:<24} {tokens:>7} tok  {_one_line(words, 70)}")
        for child in children.pop(snapshot_id, []):
            _echo_child(store, child, depth=1)
    for orphans in children.values():  # started from a snapshot outside this chain (or none recorded)
        for child in orphans:
            _echo_child(store, child, depth=1, note=f" (from {str(child.parent_snapshot)[:12]})")


def _children_by_snapshot(store: AnyStore, sessions: set[str]) -> dict[str | None, list[ChildSession]]:
    """The subagent sessions of `sessions`, by the parent snapshot they were started from."""
    from tau.runtime.features.subagents import child_sessions

    found: dict[str | None, list[ChildSession]] = {}
    for parent in sorted(sessions):
        for child in child_sessions(store, parent):
            found.setdefault(child.parent_snapshot, []).append(child)
    return found


def _echo_child(store: AnyStore, child: ChildSession, *, depth: int, note: str = "") -> None:
    from tau.runtime.features.subagents import child_sessions

    click.echo(f"{'  ' * depth}↳ {child.session_id} {child.agent or '-'} {child.status}{note}")
    for grandchild in child_sessions(store, child.session_id):
        _echo_child(store, grandchild, depth=depth + 1)


@sessions_group.command(
    "diff",
    epilog=examples("tau sessions diff nightly-1 nightly-1-alt", "tau sessions diff 3f9a2c 7b1e04 --patch --json"),
)
@click.argument("a")
@click.argument("b")
@click.option("--patch", is_flag=True, help="Also a unified diff of the text files that differ.")
@json_option
@_state_dir
def sessions_diff(a: str, b: str, patch: bool, as_json: bool, state_dir: str | None) -> None:
    """Messages of A and B (sessions or snapshots) after their common history; then the files that differ between
    their workspace pins (added, removed, changed; `--patch` for the text).

    --json prints one object: a and b (name, snapshot, messages), common (messages in common), only_a and only_b
    (transcript entries after the common history, as in `tau sessions show --json`) and workspace (a, b: the pins;
    changes: change, path and, with --patch, patch lines).
    """
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    store = _store(state_dir)
    left, right = _run(store.show, a), _run(store.show, b)

    def keys(messages: Sequence[ModelMessage]) -> list[bytes]:
        return [ModelMessagesTypeAdapter.dump_json([m]) for m in messages]

    lk, rk = keys(left.messages), keys(right.messages)
    common = 0
    while common < min(len(lk), len(rk)) and lk[common] == rk[common]:
        common += 1
    if as_json:
        _echo_diff_json(store, (a, left), (b, right), common, patch=patch)
        return
    click.echo(f"--- {a} ({left.snapshot.id[:12]}, {len(lk)} messages)")
    click.echo(f"+++ {b} ({right.snapshot.id[:12]}, {len(rk)} messages)")
    click.echo(f"  {common} messages in common")
    for line in transcript_lines(left.messages[common:]):
        click.echo(f"- {line}")
    for line in transcript_lines(right.messages[common:]):
        click.echo(f"+ {line}")
    _workspace_diff(store, left.snapshot.workspace, right.snapshot.workspace, patch=patch)


def _echo_diff_json(
    store: AnyStore, a: tuple[str, Transcript], b: tuple[str, Transcript], common: int, *, patch: bool
) -> None:
    from tau.cli.sessions_json import diff_side, transcript_entries, workspace_json

    (a_name, left), (b_name, right) = a, b
    document = {
        "a": diff_side(a_name, left),
        "b": diff_side(b_name, right),
        "common": common,
        "only_a": transcript_entries(left.messages[common:]),
        "only_b": transcript_entries(right.messages[common:]),
        "workspace": workspace_json(store, left.snapshot.workspace, right.snapshot.workspace, patch=patch),
    }
    click.echo(json.dumps(document, ensure_ascii=False))


def _workspace_diff(store: AnyStore, left: str | None, right: str | None, *, patch: bool) -> None:
    """The files that differ between two workspace pins (with `patch`, a unified diff of the text files)."""
    from tau.cli.stores import checkpoint_io
    from tau.sessions.workspace_diff import file_patch, pin_changes

    if left is None and right is None:
        click.echo("workspace: not pinned")
        return
    if left == right:
        click.echo(f"workspace: same ({str(left)[:12]})")
        return
    click.echo(f"workspace: {left[:12] if left else 'not pinned'} -> {right[:12] if right else 'not pinned'}")
    if left is None or right is None:
        return
    objects = checkpoint_io(store)
    changes = pin_changes(objects, left, right)
    if not changes:
        click.echo("  no file changes")
    for kind, path, _, _ in changes:
        click.echo(f"  {kind:<8} {path}")
    if patch:
        for _, path, before, after in changes:
            for line in file_patch(objects, path, before, after):
                click.echo(line)


@sessions_group.command("rm", epilog=examples("tau sessions rm old-1 old-2"))
@click.argument("sessions", nargs=-1, required=True)
@_state_dir
def sessions_rm(sessions: tuple[str, ...], state_dir: str | None) -> None:
    """Delete sessions (their refs); their objects stay until `tau sessions gc`."""
    from tau.cli.labels_cmd import forget_labels

    store = _store(state_dir, write=True)
    for name in sessions:
        resolved = store.resolve(name)
        if resolved.kind != "session" or resolved.session_id is None:
            from tau.errors import ConfigError

            raise ConfigError(f"{name!r} names a snapshot, not a session", source="tau sessions rm")
        head = _run(store.rm, resolved.session_id)
        forget_labels(state_dir, resolved.session_id)  # the catalog's labels go with it (tau.cli.labels_cmd)
        click.echo(f"removed {resolved.session_id} (head {head[:12]})")


@sessions_group.command("gc", epilog=examples("tau sessions gc", "tau sessions gc --prune-now"))
@click.option("--prune-now", is_flag=True, help="Also remove unreachable objects younger than the 1 h grace period.")
@_state_dir
def sessions_gc(prune_now: bool, state_dir: str | None) -> None:
    """Remove objects no session reaches (never a reachable one)."""
    store = _store(state_dir)
    if not store.root.is_dir():
        click.echo("removed 0 objects")
        return
    store = _store(state_dir, write=True)
    removed = _run(lambda: store.gc(grace_seconds=0.0 if prune_now else 3600.0))
    click.echo(f"removed {len(removed)} objects")


@sessions_group.command("fsck", epilog=examples("tau sessions fsck", "tau sessions fsck --json"))
@json_option
@_state_dir
def sessions_fsck(as_json: bool, state_dir: str | None) -> None:
    """Verify every object's hash and every link; exit 1 if anything is damaged. Sessions a run left unfinished
    (killed, crashed, a full disk) are listed as notes: their committed steps are intact.

    --json prints one object: store, exists, ok, problems (path, problem, object) and interrupted (session,
    snapshot, step, status); the exit code is the same.
    """
    from tau.cli.stores import interrupted_notes as interrupted

    store = _store(state_dir)
    if not store.root.is_dir():
        if as_json:
            from tau.cli.sessions_json import fsck_json

            click.echo(json.dumps(fsck_json(str(store.root), False, [], [])))
        else:
            click.echo(f"ok: no store at {store.root}")
        return
    problems = _run(store.fsck)
    if as_json:
        from tau.cli.sessions_json import fsck_json

        click.echo(json.dumps(fsck_json(str(store.root), True, problems, interrupted(store)), ensure_ascii=False))
        sys.exit(1 if problems else 0)
    for problem in problems:
        click.echo(str(problem))
    notes = interrupted(store)
    for note in notes:
        click.echo(str(note))
    if problems:
        click.echo(f"tau: {len(problems)} problem(s) in {store.root}", err=True)
        sys.exit(1)
    unfinished = f" ({len(notes)} interrupted session{'s' if len(notes) != 1 else ''})" if notes else ""
    click.echo(f"ok: {store.root}{unfinished}")


@sessions_group.command("export", epilog=examples("tau sessions export nightly-1 bundle.tar.gz"))
@click.argument("session")
@click.argument("output", metavar="FILE")
@renamed("-o", "--output", new="give the bundle as an argument: tau sessions export SESSION FILE")
@_state_dir
def sessions_export(session: str, output: str, state_dir: str | None) -> None:
    """Write a self-contained bundle of SESSION to FILE (.tar.gz); resume it elsewhere after `tau sessions import`."""
    store = _store(state_dir)
    resolved = store.resolve(session)
    if resolved.session_id is None:
        from tau.errors import ConfigError

        raise ConfigError(f"{session!r} names a snapshot, not a session", source="tau sessions export")
    path = _run(store.export, resolved.session_id, output)
    click.echo(f"exported {resolved.session_id} to {path}")


@sessions_group.command("import", epilog=examples("tau sessions import bundle.tar.gz"))
@click.argument("bundle", metavar="FILE")
@_state_dir
def sessions_import(bundle: str, state_dir: str | None) -> None:
    """Add a bundle's session to the store (verified; idempotent)."""
    store = _store(state_dir, write=True)
    result = _run(store.import_bundle, bundle)
    click.echo(
        f"imported {result.session_id} (head {result.head[:12]}, ref {result.ref}, "
        f"{result.objects_added} objects added, {result.objects_present} present)"
    )


@sessions_group.command("reindex", epilog=examples("tau sessions reindex"))
@_state_dir
def sessions_reindex(state_dir: str | None) -> None:
    """Rebuild the session index from the store's refs and objects."""
    store = _store(state_dir)
    if not store.root.is_dir():
        click.echo("indexed 0 sessions")
        return
    store = _store(state_dir, write=True)
    infos = _run(store.reindex)
    click.echo(f"indexed {len(infos)} sessions")
