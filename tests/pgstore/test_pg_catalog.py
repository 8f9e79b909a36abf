"""The catalog port's contract (tests/sessions/test_catalog_contract.py), run against `PgCatalog` on a real Postgres
database: the same test functions (presets, labels, mail, agents, another process, four processes racing), with this
module's `catalog_location` (the database's URL). Plus what only Postgres has: the tables beside the store's, made
by whichever opens the database first."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))

from test_catalog_contract import (
    test_another_process_sees_committed_writes,
    test_background_agents_rows,
    test_labels_set_remove_and_forget,
    test_mail_is_numbered_per_session_and_survives_reopening,
    test_processes_racing_updates_and_posts_lose_nothing,
    test_versions_are_added_never_rewritten,
)

from tau.sessions.catalog_port import catalog_for, open_catalog
from tau.sessions.postgres import PostgresSessionStore
from tau.sessions.postgres.catalog import PgCatalog

__all__ = [
    "test_another_process_sees_committed_writes",
    "test_background_agents_rows",
    "test_labels_set_remove_and_forget",
    "test_mail_is_numbered_per_session_and_survives_reopening",
    "test_processes_racing_updates_and_posts_lose_nothing",
    "test_versions_are_added_never_rewritten",
]


@pytest.fixture
def catalog_location(pg_url: str) -> str:
    return pg_url


def test_a_postgres_store_has_its_catalog_in_its_database(pg_url: str, tmp_path: Path) -> None:
    store = PostgresSessionStore(pg_url, state_dir=tmp_path / "local")
    catalog = catalog_for(store)
    assert isinstance(catalog, PgCatalog)
    catalog.create_preset("shared", "{}")
    catalog.close()
    anyio.run(store.aclose)
    assert not (tmp_path / "local").exists()  # nothing of the catalog on this machine
    other = open_catalog(pg_url)
    assert [row.name for row in other.presets()] == ["shared"]
    other.close()


def _drop_catalog_connections(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tau catalog'")


def test_a_lost_connection_is_made_again(pg_url: str) -> None:
    from tau.sessions.postgres.schema import PgStoreWriteError

    catalog = PgCatalog(pg_url)
    catalog.create_preset("p", "{}")
    _drop_catalog_connections(pg_url)
    with pytest.raises(PgStoreWriteError):  # a write on the dead connection fails, as a store write does (never
        catalog.set_labels("s", {"k": "v"})  # retried: it may have committed)
    assert catalog.labels("s") == {}  # ... and the next call connects again
    _drop_catalog_connections(pg_url)
    assert catalog.preset("p") is not None  # a read on a dead connection is made once more on a new one
    _drop_catalog_connections(pg_url)
    assert catalog.sessions_with_pending_mail() == []
    catalog.close()
