"""`tau.sessions.catalog`: presets and labels as primary data in `<state>/catalog.sqlite` — versions never rewritten,
stale edits refused, two processes sharing the file, and the derived index rebuilt (reset, reindex) without touching
it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tau.sessions import FileSessionStore
from tau.sessions.catalog import Catalog, PresetConflict, catalog_path


def test_versions_are_added_never_rewritten(tmp_path: Path) -> None:
    catalog = Catalog(catalog_path(tmp_path))
    first = catalog.create_preset("review", '{"jobText": "v1"}')
    with pytest.raises(PresetConflict) as taken:
        catalog.create_preset("review", "{}")
    assert taken.value.kind == "exists"
    second = catalog.update_preset("review", '{"jobText": "v2"}', expected_version=1)
    with pytest.raises(PresetConflict) as stale:
        catalog.update_preset("review", '{"jobText": "lost"}', expected_version=1)
    assert stale.value.kind == "stale"
    with pytest.raises(PresetConflict) as missing:
        catalog.update_preset("nope", "{}")
    assert missing.value.kind == "missing"
    assert (first.version, second.version, second.first) == (1, 2, first.created)
    assert catalog.preset("review", 1) == first
    assert catalog.preset("review") == second
    assert catalog.preset("review", 3) is None
    assert [(row.name, row.version) for row in catalog.presets()] == [("review", 2)]
    assert catalog.delete_preset("review") == 2
    assert catalog.delete_preset("review") == 0
    assert catalog.presets() == []
    again = catalog.create_preset("review", "{}")  # a deleted name starts over
    assert again.version == 1


def test_labels_set_remove_and_forget(tmp_path: Path) -> None:
    catalog = Catalog(":memory:")
    catalog.set_labels("s1", {"team": "infra", "stage": "prod"})
    catalog.set_labels("s2", {"team": "web"})
    catalog.set_labels("s1", {"stage": ""})
    assert catalog.labels("s1") == {"team": "infra"}
    assert catalog.all_labels() == {"s1": {"team": "infra"}, "s2": {"team": "web"}}
    catalog.forget_session(["s1"])
    assert catalog.all_labels() == {"s2": {"team": "web"}}


def test_another_process_sees_committed_writes(tmp_path: Path) -> None:
    catalog = Catalog(catalog_path(tmp_path))
    catalog.create_preset("shared", "{}")
    script = (
        "import sys; from pathlib import Path; from tau.sessions.catalog import Catalog, catalog_path; "
        "c = Catalog(catalog_path(Path(sys.argv[1]))); c.update_preset('shared', '{\"x\": 1}', expected_version=1)"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=60)
    latest = catalog.preset("shared")
    assert latest is not None and (latest.version, latest.spec) == (2, '{"x": 1}')


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
