"""The catalog's mail table: per-session sequence numbers, pending vs delivered, survives reopening, forgotten with
its session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.sessions.catalog import Catalog, catalog_path


def test_mail_is_numbered_per_session_and_survives_reopening(tmp_path: Path) -> None:
    catalog = Catalog(catalog_path(tmp_path))
    first = catalog.post_mail("a", sender="ci", kind="message", body="one")
    catalog.post_mail("b", sender="ci", kind="message", body="other")
    second = catalog.post_mail("a", sender="child", kind="agent_completed", body="two")
    catalog.mark_delivered([first.id])
    catalog.close()
    again = Catalog(catalog_path(tmp_path))
    assert [(m.seq, m.body, bool(m.delivered)) for m in again.mail("a")] == [(1, "one", True), (2, "two", False)]
    assert [m.id for m in again.mail("a", pending_only=True)] == [second.id]
    assert again.sessions_with_pending_mail() == ["b", "a"]


def test_forget_session_deletes_its_mail_only(tmp_path: Path) -> None:
    catalog = Catalog(":memory:")
    catalog.post_mail("a", sender="x", kind="message", body="1")
    catalog.post_mail("b", sender="x", kind="message", body="2")
    catalog.forget_session(["a"])
    assert catalog.mail("a") == []
    assert [m.body for m in catalog.mail("b")] == ["2"]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        Catalog(":memory:").post_mail("a", sender="x", kind="spam", body="1")
