"""The serve journal's ownership primitives in Postgres (`PgJournalTables`): a session's serve lock is held by one
front end at a time, freed when its connection ends, and `running()` lists only the sessions whose record shows a
run in progress and whose lock nobody holds (what the takeover sweep of rpc.ownership claims)."""

from __future__ import annotations

import asyncio
import json

from tau.sessions.postgres import PostgresSessionStore


def test_running_lists_the_running_sessions_whose_owner_is_gone(pg_url: str) -> None:
    first, second = PostgresSessionStore(pg_url), PostgresSessionStore(pg_url)
    a, b = first.journal_tables(), second.journal_tables()
    try:
        a.open()
        b.open()
        for sid, status in (
            ("r1", "SESSION_STATUS_RUNNING"),
            ("r2", "SESSION_STATUS_RUNNING"),
            ("i", "SESSION_STATUS_COMPLETED"),
        ):
            a.save(sid, json.dumps({"session_id": sid, "status": status, "last_seq": 0}).encode())
        assert a.claim("r1") and not b.claim("r1")  # one owner at a time
        assert b.holder("r1") is not None
        assert sorted(b.running()) == ["r2"]  # r1's owner is alive; i is not running
        a.close()  # the owner goes (its connection ends)
        assert sorted(b.running()) == ["r1", "r2"]
        assert b.claim("r1")
        assert sorted(b.running()) == ["r2"]
        b.release("r1")
        assert b.next_ordinal() < b.next_ordinal()
    finally:
        a.close()
        b.close()
        asyncio.run(first.aclose())
        asyncio.run(second.aclose())
