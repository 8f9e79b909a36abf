"""`--store URL`: which session store a command opens, beside `--state-dir` (the option is added with it).

`store_option` records `--store` in the click context (it is not a parameter of the commands, so every command that
takes `--state-dir` takes `--store` without a signature change); `store_choice()` resolves it with `TAU_STORE` and
the user config's `[store] url` (`tau.config.store.resolve_store`: never a repository's config). `open_any_store`
opens the `PostgresSessionStore` of the choice, with the file store's state directory for the files kept beside
sessions (hook transcripts, steering inboxes), or else the file store as `tau.cli.run.open_store` does.
`file_store_only(what)` is what a command that needs the file store's directory says when a store URL is chosen.

Only click is imported at module level (this module is loaded by `tau --help`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from tau.config.store import StoreChoice
    from tau.sessions import FileSessionStore, ObjectIO
    from tau.sessions.maintenance import Interrupted
    from tau.sessions.postgres import PostgresSessionStore

    AnyStore = FileSessionStore | PostgresSessionStore

__all__ = [
    "STORE_HELP",
    "checkpoint_io",
    "file_store_only",
    "interrupted_notes",
    "open_any_store",
    "store_choice",
    "store_option",
]

STORE_HELP = (
    "Session store URL: postgres://… keeps sessions in Postgres, shared by every machine (also TAU_STORE, or "
    "[store] url in the user config); default: files in the state dir."
)
_META = "tau.store"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:
        ctx.meta[_META] = value


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    from tau.cli.options import shared

    return shared("--store", name="store", metavar="URL", expose_value=False, callback=_remember, help=STORE_HELP)(func)


def store_choice() -> StoreChoice | None:
    """The store URL this invocation chose (`--store`, `TAU_STORE`, the user config), or None: the file store."""
    from tau.config.store import resolve_store

    ctx = click.get_current_context(silent=True)
    explicit = ctx.meta.get(_META) if ctx is not None else None
    return resolve_store(os.environ, explicit)


def file_store_only(what: str) -> None:
    """ConfigError (exit 2) when a store URL is chosen: `what` works on the file store's directory only."""
    from tau.errors import ConfigError

    choice = store_choice()
    if choice is not None:
        raise ConfigError(
            f"{what} works on the file store only, not on {choice.shown} (unset it, or pass --state-dir)",
            source=choice.source,
        )


def open_any_store(state_dir: str | None, *, write: bool = True) -> AnyStore:
    """The store this invocation uses: Postgres when a URL is chosen, else the file store (checked first)."""
    from tau.sessions import check_state_dir, default_state_dir, state_dir_source

    choice = store_choice()
    if choice is None:
        from tau.cli.run import open_store

        return open_store(state_dir, write=write)
    from tau.sessions.postgres import PostgresSessionStore

    local = default_state_dir(os.environ, Path.cwd(), state_dir)
    check_state_dir(local, source=state_dir_source(os.environ, state_dir), write=write)
    return PostgresSessionStore(choice.url, state_dir=local)


def interrupted_notes(store: AnyStore) -> list[Interrupted]:
    """The sessions a run left unfinished (`tau sessions fsck` notes), from either store."""
    return store.interrupted()


def checkpoint_io(store: AnyStore) -> ObjectIO:
    """Where either store keeps workspace checkpoint objects (`tau sessions diff` reads them)."""
    return store.checkpoint_objects()
