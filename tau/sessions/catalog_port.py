"""The catalog port: what front ends need of the session store's catalog (presets, labels, mail, background agents),
and which catalog a store or a location has.

Two implementations satisfy `CatalogStore`: `tau.sessions.catalog.Catalog` (SQLite, `<state>/catalog.sqlite`, or
`:memory:`) and `tau.sessions.postgres.catalog.PgCatalog` (tables `tau_presets`, `tau_labels`, `tau_mail`,
`tau_agents` in the Postgres store's database). Both keep the same invariants (tests/sessions/test_catalog_contract.py
runs against each): a preset version is never rewritten, an update from a stale `expected_version` is a
`PresetConflict` even when two processes race (one wins, one conflicts: never two equal versions), mail is numbered
1, 2, 3, ... per session without a gap or a repeat whoever posts, a message is marked delivered once (the caller
whose `mark_delivered` returns its id delivers it), and every write is one transaction.

The port is four small protocols, one per kind of row; a consumer names the one it needs (`PresetCatalog` for the
preset book, `MailCatalog` + `AgentCatalogRows` for the mailbox, ...). `CatalogStore` is their sum plus `close()`,
the type of what `catalog_for` and `open_catalog` return.

`catalog_for(store)`: the catalog of a session store — the Postgres store's database for a `PostgresSessionStore`,
else `catalog.sqlite` in the store's state directory, else an in-memory one (a server without a state dir).
`open_catalog(location)`: a Postgres URL or a catalog file path. This module is the one place that asks which store
it has (inside tau.sessions, as the port allows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tau.sessions.catalog import AgentRow, MailRow, PresetRow

if TYPE_CHECKING:
    from tau.sessions.port import SessionStore

__all__ = [
    "AgentCatalogRows",
    "CatalogStore",
    "LabelCatalog",
    "MailCatalog",
    "MailWatch",
    "PresetCatalog",
    "catalog_for",
    "open_catalog",
]


class PresetCatalog(Protocol):
    """Named, versioned presets (`PresetConflict` kinds: exists, missing, stale)."""

    def create_preset(self, name: str, spec: str) -> PresetRow: ...

    def update_preset(self, name: str, spec: str, *, expected_version: int | None = None) -> PresetRow: ...

    def preset(self, name: str, version: int | None = None) -> PresetRow | None: ...

    def presets(self) -> list[PresetRow]: ...

    def delete_preset(self, name: str) -> int: ...


class LabelCatalog(Protocol):
    """Labels of sessions; `forget_session` drops everything the catalog holds for deleted sessions."""

    def set_labels(self, session_id: str, labels: Mapping[str, str]) -> None: ...

    def labels(self, session_id: str) -> dict[str, str]: ...

    def all_labels(self) -> dict[str, dict[str, str]]: ...

    def forget_session(self, session_ids: Iterable[str]) -> None: ...


class MailCatalog(Protocol):
    """Every session's mailbox."""

    def post_mail(self, session_id: str, *, sender: str, kind: str, body: str) -> MailRow: ...

    def mail(self, session_id: str, *, pending_only: bool = False) -> list[MailRow]: ...

    def sessions_with_pending_mail(self) -> list[str]: ...

    def mark_delivered(self, ids: Iterable[int]) -> list[int]:
        """Mark pending messages delivered; the ids this call marked (a delivered one is left alone)."""
        ...


@runtime_checkable
class MailWatch(Protocol):
    """Optional: a catalog that announces mail as it is posted by any process (Postgres: LISTEN/NOTIFY). Without it a
    server finds other processes' mail by polling `sessions_with_pending_mail`."""

    def mail_posted(self) -> AsyncIterator[str]:
        """The session id of each message posted from now on; a lost connection raises (start it again)."""
        ...


class AgentCatalogRows(Protocol):
    """Background agents, one row per child session."""

    def add_agent(self, session_id: str, parent_session_id: str, *, depth: int, agent: str) -> AgentRow: ...

    def agent(self, session_id: str) -> AgentRow | None: ...

    def agents(self, *, parent_session_id: str | None = None, state: str | None = None) -> list[AgentRow]: ...

    def set_agent_state(self, session_id: str, state: str) -> None: ...


class CatalogStore(PresetCatalog, LabelCatalog, MailCatalog, AgentCatalogRows, Protocol):
    """A whole catalog (what `catalog_for` / `open_catalog` return)."""

    def close(self) -> None: ...


def open_catalog(location: Path | str) -> CatalogStore:
    """The catalog at `location`: a `postgres://` URL (the store's database), else a SQLite file (or ":memory:")."""
    from tau.sessions.postgres.schema import is_store_url

    if isinstance(location, str) and is_store_url(location):
        from tau.sessions.postgres.catalog import PgCatalog

        return PgCatalog(location)
    from tau.sessions.catalog import Catalog

    return Catalog(location)


def catalog_for(store: SessionStore) -> CatalogStore:
    """The catalog of `store` (see the module docstring)."""
    from tau.sessions.postgres.store import PostgresSessionStore

    if isinstance(store, PostgresSessionStore):
        return open_catalog(store.url)
    from tau.sessions.catalog import Catalog, catalog_path

    state = store.state_dir()
    return Catalog(catalog_path(state) if state is not None else ":memory:")
