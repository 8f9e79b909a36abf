"""`tau sessions label` and `tau sessions ls --label` as subprocesses: labels live in the store's catalog (the same
table `tau serve`'s CreateSession / UpdateSession write), `KEY=` removes one, an unknown session is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_presets_cli import Box

from tau.sessions.catalog import Catalog, catalog_path


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def test_label_sessions_and_filter_by_labels(box: Box) -> None:
    for name in ("a", "b", "c"):
        box.ok("run", "-p", f"task {name}", "-m", "test:x", "--session-id", name)
    assert box.ok("sessions", "label", "a", "team=infra", "stage=prod").splitlines() == ["stage=prod", "team=infra"]
    box.ok("sessions", "label", "b", "team=infra")
    assert json.loads(box.ok("sessions", "label", "b", "--json")) == {"team": "infra"}

    def ids(*labels: str) -> list[str]:
        args = [part for label in labels for part in ("--label", label)]
        return sorted(json.loads(line)["id"] for line in box.ok("sessions", "ls", "--json", *args).splitlines())

    assert ids() == ["a", "b", "c"]
    assert ids("team=infra") == ["a", "b"]
    assert ids("team=infra", "stage=prod") == ["a"]
    assert ids("team=web") == []
    box.ok("sessions", "label", "a", "stage=")
    assert ids("stage=prod") == []
    assert Catalog(catalog_path(box.state)).labels("a") == {"team": "infra"}

    assert "no session 'nope'" in box.refused("sessions", "label", "nope", "x=y")
    assert "expected KEY=VALUE" in box.refused("sessions", "label", "a", "novalue")
    assert "expected KEY=VALUE" in box.refused("sessions", "ls", "--label", "=x")
    box.ok("sessions", "rm", "a")
    assert Catalog(catalog_path(box.state)).labels("a") == {}
    assert ids("team=infra") == ["b"]
