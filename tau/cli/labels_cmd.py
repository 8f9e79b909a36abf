"""`tau sessions label ID [KEY=VALUE | KEY=]...`: a session's labels in the store's catalog (`tau.sessions.catalog`),
the same labels `tau serve`'s CreateSession / UpdateSession set and ListSessions filters on (with `--store
postgres://…`: in that database); `tau sessions ls
--label KEY=VALUE` filters by them (`label_filter`), and `tau sessions rm` drops them (`forget_labels`).

Without pairs it prints the labels (KEY=VALUE lines, or one JSON object with --json); `KEY=` removes a label. The
session must exist in the store (an unknown id is one line, exit 2). Only click is imported at module level.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import click

from tau.cli.options import examples, json_option, state_dir_option

__all__ = ["forget_labels", "label_command", "label_filter", "parse_labels"]


def parse_labels(pairs: Sequence[str], *, source: str) -> dict[str, str]:
    """`KEY=VALUE` pairs (an empty VALUE: remove) -> {KEY: VALUE}; ConfigError for anything else."""
    from tau.errors import ConfigError

    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {pair!r}", source=source)
        labels[key.strip()] = value
    return labels


def label_filter(state_dir: str | None, pairs: Sequence[str]) -> set[str] | None:
    """Ids of the sessions carrying every `KEY=VALUE` label (None: no filter given)."""
    if not pairs:
        return None
    from tau.cli.presets_cmd import catalog_of

    wanted = parse_labels(pairs, source="--label")
    every = catalog_of(state_dir).all_labels()
    return {sid for sid, labels in every.items() if all(labels.get(k) == v for k, v in wanted.items())}


def forget_labels(state_dir: str | None, session_id: str) -> None:
    """Drop a removed session's labels and mail (`tau sessions rm`): in the Postgres database of a chosen store URL,
    else in the state dir's catalog (nothing to do when there is none yet)."""
    from tau.cli.stores import store_choice
    from tau.sessions import default_state_dir
    from tau.sessions.catalog import Catalog, catalog_path

    if store_choice() is not None:
        from tau.cli.presets_cmd import catalog_of

        catalog_of(state_dir).forget_session([session_id])
        return
    path = catalog_path(default_state_dir(os.environ, Path.cwd(), state_dir))
    if path.is_file():
        Catalog(path).forget_session([session_id])


@click.command("label", epilog=examples("tau sessions label nightly-1 team=infra stage=prod", "tau sessions label x"))
@click.argument("session")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE|KEY=]...")
@json_option
@state_dir_option
def label_command(session: str, pairs: tuple[str, ...], as_json: bool, state_dir: str | None) -> None:
    """Set, remove (KEY=) or show a session's labels.

    --json prints one object: the session's labels after the change (KEY: VALUE).
    """
    from tau.cli.presets_cmd import catalog_of
    from tau.cli.stores import open_any_store
    from tau.errors import ConfigError

    labels = parse_labels(pairs, source="tau sessions label")
    store = open_any_store(state_dir, write=False)
    if store.refs.read(session) is None:
        raise ConfigError(f"no session {session!r}", source="tau sessions label")
    catalog = catalog_of(state_dir)
    if labels:
        catalog.set_labels(session, labels)
    current = catalog.labels(session)
    if as_json:
        click.echo(json.dumps(current, ensure_ascii=False))
    else:
        for key, value in current.items():
            click.echo(f"{key}={value}")
