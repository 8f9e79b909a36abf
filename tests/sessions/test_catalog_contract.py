"""The catalog port's contract (tau.sessions.catalog_port): presets versioned and never rewritten, stale edits
refused, labels, per-session mail numbering, background agents, another process seeing committed writes, and
processes racing preset updates and mail posts. Each test takes `catalog_location` and opens it with `open_catalog`:
here a SQLite file; tests/pgstore/test_pg_catalog.py runs the same functions against a real Postgres database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tau.sessions.catalog import PresetConflict, catalog_path
from tau.sessions.catalog_port import open_catalog

RACER = Path(__file__).with_name("catalog_racer.py")


@pytest.fixture
def catalog_location(tmp_path: Path) -> str:
    return str(catalog_path(tmp_path))


def test_versions_are_added_never_rewritten(catalog_location: str) -> None:
    catalog = open_catalog(catalog_location)
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
    assert catalog.preset("other") is None
    catalog.create_preset("alpha", '{"a": 1}')
    assert [(row.name, row.version, row.first) for row in catalog.presets()] == [
        ("alpha", 1, catalog.presets()[0].created),
        ("review", 2, first.created),
    ]
    assert catalog.delete_preset("review") == 2
    assert catalog.delete_preset("review") == 0
    assert [row.name for row in catalog.presets()] == ["alpha"]
    again = catalog.create_preset("review", "{}")  # a deleted name starts over
    assert again.version == 1
    catalog.close()


def test_labels_set_remove_and_forget(catalog_location: str) -> None:
    catalog = open_catalog(catalog_location)
    catalog.set_labels("s1", {"team": "infra", "stage": "prod"})
    catalog.set_labels("s2", {"team": "web"})
    catalog.set_labels("s1", {"stage": "", "team": "core"})
    assert catalog.labels("s1") == {"team": "core"}
    assert catalog.labels("none") == {}
    assert catalog.all_labels() == {"s1": {"team": "core"}, "s2": {"team": "web"}}
    catalog.forget_session(["s1"])
    assert catalog.all_labels() == {"s2": {"team": "web"}}
    catalog.close()


def test_mail_is_numbered_per_session_and_survives_reopening(catalog_location: str) -> None:
    catalog = open_catalog(catalog_location)
    first = catalog.post_mail("a", sender="ci", kind="message", body="one")
    catalog.post_mail("b", sender="ci", kind="message", body="other")
    second = catalog.post_mail("a", sender="child", kind="agent_completed", body="two")
    assert catalog.mark_delivered([first.id]) == [first.id]
    assert catalog.mark_delivered([first.id]) == []  # delivered once: a second deliverer gets nothing
    catalog.close()
    again = open_catalog(catalog_location)
    assert [(m.seq, m.body, bool(m.delivered)) for m in again.mail("a")] == [(1, "one", True), (2, "two", False)]
    assert again.mail("a", pending_only=True) == [second]
    assert again.sessions_with_pending_mail() == ["b", "a"]
    again.forget_session(["a"])
    assert again.mail("a") == []
    assert [m.body for m in again.mail("b")] == ["other"]
    with pytest.raises(ValueError, match="kind"):
        again.post_mail("a", sender="x", kind="spam", body="1")
    again.close()


def test_background_agents_rows(catalog_location: str) -> None:
    catalog = open_catalog(catalog_location)
    first = catalog.add_agent("child-1", "parent", depth=1, agent="general")
    catalog.add_agent("child-2", "parent", depth=1, agent="explore")
    catalog.add_agent("grand", "child-1", depth=2, agent="general")
    catalog.set_agent_state("child-2", "reported")
    assert catalog.agent("child-1") == first
    assert catalog.agent("nobody") is None
    assert [a.session_id for a in catalog.agents(parent_session_id="parent")] == ["child-1", "child-2"]
    assert [a.session_id for a in catalog.agents(state="running")] == ["child-1", "grand"]
    assert [a.session_id for a in catalog.agents(parent_session_id="parent", state="reported")] == ["child-2"]
    catalog.forget_session(["child-1"])
    assert catalog.agent("child-1") is None
    catalog.close()


def test_another_process_sees_committed_writes(catalog_location: str) -> None:
    catalog = open_catalog(catalog_location)
    catalog.create_preset("shared", "{}")
    script = (
        "import sys; from tau.sessions.catalog_port import open_catalog; c = open_catalog(sys.argv[1]); "
        "c.update_preset('shared', '{\"x\": 1}', expected_version=1); "
        "c.post_mail('s', sender='other', kind='message', body='hi'); c.set_labels('s', {'k': 'v'})"
    )
    subprocess.run([sys.executable, "-c", script, catalog_location], check=True, timeout=60)
    latest = catalog.preset("shared")
    assert latest is not None and (latest.version, latest.spec) == (2, '{"x": 1}')
    assert [(m.seq, m.sender) for m in catalog.mail("s")] == [(1, "other")]
    assert catalog.labels("s") == {"k": "v"}
    catalog.close()


def test_processes_racing_updates_and_posts_lose_nothing(catalog_location: str, tmp_path: Path) -> None:
    """Four processes, 25 rounds each, started together: every update from a version another process already
    replaced is a `stale` conflict (never a second row with the same version, never a lost update), and the mail
    seqs are 1..100, each message marked delivered by exactly one of them."""
    catalog = open_catalog(catalog_location)
    catalog.create_preset("race", "{}")
    processes, rounds = 4, 25
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    command = [sys.executable, str(RACER), catalog_location, "race", str(rounds), str(barrier)]
    racers = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(processes)]
    while len(list(barrier.glob("ready.*"))) < processes and all(racer.poll() is None for racer in racers):
        time.sleep(0.01)
    (barrier / "go").touch()  # all four start their rounds together
    results = [json.loads(racer.communicate(timeout=240)[0]) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * processes
    updated = [tuple(pair) for result in results for pair in result["updated"]]
    assert all(got == expected + 1 for expected, got in updated)
    got = sorted(version for _, version in updated)
    latest = catalog.preset("race")
    assert latest is not None
    assert got == list(range(2, latest.version + 1))  # each version written once, by exactly one process
    assert len(updated) + sum(result["stale"] for result in results) == processes * rounds
    assert [catalog.preset("race", version) is not None for version in range(1, latest.version + 1)] == [True] * (
        latest.version
    )
    seqs = sorted(seq for result in results for seq in result["seqs"])
    assert seqs == list(range(1, processes * rounds + 1))
    mail = catalog.mail("race")
    assert [m.seq for m in mail] == seqs
    claimed = sorted(mid for result in results for mid in result["claimed"])
    assert claimed == sorted(m.id for m in mail)  # each message delivered by exactly one racer
    catalog.close()
