"""`EventHub` (tau.sessions.postgres.hub): every follower of `tau_events` in a process shares one listening
connection, and a listening connection the server ends is made again without a follower losing an event."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from tau.sessions.postgres import PostgresSessionStore, events
from tau.sessions.postgres.hub import EventHub


def _listeners(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'tau follow' AND datname = current_database()"
        return [int(pid) for (pid,) in conn.execute(sql).fetchall()]  # type: ignore[call-overload]


async def _take(stream: Any, count: int) -> list[int]:
    return [seq async for seq, _ in _first(stream, count)]


async def _first(stream: Any, count: int) -> Any:
    async for item in stream:
        yield item
        count -= 1
        if count == 0:
            return


def test_many_followers_share_one_listening_connection_that_survives_being_cut(pg_url: str) -> None:
    store = PostgresSessionStore(pg_url)

    def append(session_id: str, seq: int) -> None:
        store.query(events.append, session_id, seq, f"{session_id}:{seq}".encode())

    async def scenario() -> None:
        hub = EventHub(pg_url, lambda sid, after: store.query(events.since, sid, after))
        append("a", 1)
        followers = [asyncio.create_task(_take(hub.follow(sid, 0), 4)) for sid in ("a", "a", "b", "c", "c")]
        while len(_listeners(pg_url)) != 1:  # the hub listens once, for all five
            await asyncio.sleep(0.05)
        for seq in (2, 3):
            for sid in ("a", "b", "c"):
                append(sid, seq if sid == "a" else seq - 1)
        [pid] = _listeners(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for sid in ("a", "b", "c"):  # committed while no connection listens (most likely)
            append(sid, 4 if sid == "a" else 3)
        while _listeners(pg_url) in ([], [pid]):  # the hub listens again, on a new connection
            await asyncio.sleep(0.05)
        append("b", 4)
        append("c", 4)
        got = await asyncio.wait_for(asyncio.gather(*followers), 60)
        assert got == [[1, 2, 3, 4]] * 5
        assert len(_listeners(pg_url)) == 1
        hub.close()

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(store.aclose())
