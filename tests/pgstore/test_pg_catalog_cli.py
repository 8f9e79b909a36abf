"""The catalog's CLI verbs with `--store postgres://…` (and `TAU_STORE`) as subprocesses: `tau presets
create/ls/show/edit/rm`, `tau run --preset`, `tau sessions label` / `ls --label` / `rm`, `tau mail send/ls` — all
against the Postgres database (nothing in the state directory's catalog.sqlite), with the file store's one-line
errors (exit 2) and every row visible to another process that opens the same database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions_cli"))

from sessions_cli_helpers import make_box
from test_presets_cli import JOB, Box

from tau.sessions.catalog import catalog_path
from tau.sessions.catalog_port import open_catalog
from tau.sessions.postgres import PostgresSessionStore

pytestmark = pytest.mark.slow


def _config(pg_url: str, session_id: str) -> dict[str, object]:
    async def read() -> dict[str, object]:
        async with PostgresSessionStore(pg_url) as store:
            return (await store.show(session_id)).config

    return anyio.run(read)


def test_presets_and_run_with_a_preset_on_postgres(tmp_path: Path, pg_url: str) -> None:
    box, pg = Box(tmp_path), ("--store", pg_url)
    (box.work / "review.md").write_text(JOB)
    created = json.loads(
        box.ok("presets", "create", "review", "review.md", "--description", "Code review", "--json", *pg)
    )
    assert (created["name"], created["version"]) == ("review", 1)
    assert "already exists" in box.refused("presets", "create", "review", "review.md", *pg)
    assert json.loads(box.ok("presets", "edit", "review", "-", "--expected-version", "1", "--json", *pg,
                             stdin=JOB.replace("max_turns: 3", "max_turns: 5")))["version"] == 2  # fmt: skip
    stale = box.refused("presets", "edit", "review", "review.md", "--expected-version", "1", *pg)
    assert "version 2, not 1" in stale
    assert box.ok("presets", "show", "review@1", *pg) == JOB
    listed = [json.loads(line) for line in box.ok("presets", "ls", "--json", *pg).splitlines()]
    assert [(row["name"], row["version"], row["spec"]["description"]) for row in listed] == [
        ("review", 2, "Code review")
    ]
    assert not catalog_path(box.state).exists()  # nothing in the state dir's catalog
    assert box.ok("presets", "ls") == ""  # ... which `ls` without --store reads

    box.ok("run", "--preset", "review", "--var", "target=the diff", "--session-id", "latest", *pg)
    box.ok("run", "--preset", "review@1", "--var", "target=x", "--session-id", "pinned", *pg)
    latest, pinned = _config(pg_url, "latest"), _config(pg_url, "pinned")
    assert (latest["prompt"], latest["limits"]["max_turns"]) == ("Review the diff.", 5)  # type: ignore[index]
    assert pinned["limits"]["max_turns"] == 3  # type: ignore[index]
    assert "no preset named 'nope'" in box.refused("run", "--preset", "nope", *pg)

    elsewhere = make_box(tmp_path / "elsewhere")  # another machine choosing the store by TAU_STORE
    shown = elsewhere.tau("presets", "show", "review", env=elsewhere.env(TAU_STORE=pg_url))
    assert shown.returncode == 0 and "max_turns: 5" in shown.stdout, shown.stderr
    other = open_catalog(pg_url)  # another process on the same database
    row = other.preset("review")
    assert row is not None and row.version == 2
    other.close()
    assert box.ok("presets", "rm", "review", *pg).strip() == "removed review (2 versions)"
    assert "no preset named 'review'" in box.refused("presets", "rm", "review", *pg)


def test_labels_and_mail_on_postgres(tmp_path: Path, pg_url: str) -> None:
    box = Box(tmp_path)
    pg = ("--store", pg_url)
    box.ok("run", "-p", "task", "-m", "test:x", "--session-id", "s1", *pg)
    box.ok("run", "-p", "task", "-m", "test:x", "--session-id", "s2", *pg)
    assert json.loads(box.ok("sessions", "label", "s1", "team=infra", "stage=prod", "--json", *pg)) == {
        "stage": "prod",
        "team": "infra",
    }
    assert "no session 'nope'" in box.refused("sessions", "label", "nope", "a=b", *pg)
    found = box.ok("sessions", "ls", "--label", "team=infra", "--json", *pg).splitlines()
    assert [json.loads(line)["id"] for line in found] == ["s1"]

    assert box.ok("mail", "send", "s1", "the build is green", *pg).strip() == "1"
    assert box.ok("mail", "send", "s1", "line one\nline two", "--sender", "ci", *pg).strip() == "2"
    catalog = open_catalog(pg_url)
    catalog.mark_delivered([catalog.mail("s1")[0].id])
    assert box.ok("mail", "ls", "s1", *pg).splitlines() == [
        "1\tmessage\tcli\tdelivered\tthe build is green",
        "2\tmessage\tci\tpending\tline one",
    ]
    listed = json.loads(box.ok("mail", "ls", "s1", "--json", "--pending", *pg))
    assert [(m["seq"], m["sender"], m["body"]) for m in listed] == [(2, "ci", "line one\nline two")]
    assert "no session 'nope'" in box.refused("mail", "send", "nope", "hi", *pg)
    assert not catalog_path(box.state).exists()  # nothing went to the state dir's catalog

    box.ok("sessions", "rm", "s1", *pg)  # its labels and mail go with it
    assert catalog.labels("s1") == {} and catalog.mail("s1") == []
    catalog.close()
