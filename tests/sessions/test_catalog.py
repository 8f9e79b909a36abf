"""`tau.sessions.catalog`, the SQLite catalog's own behaviour: primary data in `<state>/catalog.sqlite` that rebuilding
the derived index (reset, reindex) leaves alone. The port's contract (both backends) is test_catalog_contract.py."""

from __future__ import annotations

from pathlib import Path

import anyio

from tau.sessions import FileSessionStore
from tau.sessions.catalog import Catalog, catalog_path


def test_rebuilding_the_index_leaves_the_catalog_alone(tmp_path: Path) -> None:
    catalog = Catalog(catalog_path(tmp_path))
    catalog.create_preset("kept", "{}")
    catalog.set_labels("s", {"k": "v"})
    store = FileSessionStore(tmp_path)
    store.ensure_dirs()
    store.index.reset()
    anyio.run(store.reindex)
    reopened = Catalog(catalog_path(tmp_path))
    assert reopened.preset("kept") is not None and reopened.labels("s") == {"k": "v"}


def test_a_store_without_a_database_has_its_catalog_beside_it_or_in_memory(tmp_path: Path) -> None:
    from tau.sessions import InMemorySessionStore
    from tau.sessions.catalog_port import catalog_for

    beside = catalog_for(FileSessionStore(tmp_path))
    assert isinstance(beside, Catalog) and beside.path == catalog_path(tmp_path)
    beside.create_preset("kept", "{}")
    beside.close()
    memory = catalog_for(InMemorySessionStore())
    assert isinstance(memory, Catalog) and memory.path == ":memory:" and memory.presets() == []
