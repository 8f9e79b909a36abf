"""`tau serve` over a Postgres store (RuntimeServiceImpl with a PostgresSessionStore, a real Connect server): the
runs' snapshots land in Postgres, readable by any other process that opens the same database, and a session is
forked there."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))

from rpc_helpers import TOKEN, Scripts, Served

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.server import RuntimeServer
from tau.rpc.service import RuntimeServiceImpl
from tau.sessions.postgres import PostgresSessionStore
from tau.testing import reply


def hello(job: Any) -> list[Any]:
    return [reply("hello world")]


def _start(pg_url: str, root: Path) -> tuple[Served, PostgresSessionStore]:
    """A front end over the Postgres store with its own workspace, home and state dir (another machine's)."""
    workspace, home = root / "ws", root / "home"
    workspace.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    store = PostgresSessionStore(pg_url, state_dir=root / "state")
    service = RuntimeServiceImpl(
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")},
        cwd=workspace,
        model_factory=Scripts(hello),
        store=store,
    )
    server = RuntimeServer(service, host="127.0.0.1", port=0, token=TOKEN)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    assert server.started.wait(15), "server did not start"
    return Served(server.url, service, server, TOKEN, workspace, thread), store


@pytest.fixture
def served(pg_url: str, tmp_path: Path) -> Iterator[Served]:
    handle, store = _start(pg_url, tmp_path / "one")
    yield handle
    handle.stop()
    asyncio.run(store.aclose())


def test_runs_commit_to_postgres_and_another_process_reads_them(served: Served, pg_url: str) -> None:
    with served.client() as client:
        session_id = served.create(client)
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="say hello"), headers=served.headers))
        assert events[-1].final.status == "completed"
        head = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers)
        forked = client.fork_session(pb.ForkSessionRequest(session_id=session_id), headers=served.headers)

    async def read() -> tuple[list[str], str, list[str]]:
        other = PostgresSessionStore(pg_url)  # another front end's view of the same database
        try:
            rows = await other.list_sessions()
            shown = await other.show(session_id)
            return [row.id for row in rows], shown.snapshot.id, [m.kind for m in shown.messages]
        finally:
            await other.aclose()

    ids, shown_head, kinds = asyncio.run(read())
    assert sorted(ids) == sorted([session_id, forked.session_id])
    assert shown_head == head.session.head_snapshot_id
    assert kinds == ["request", "response"]


def test_a_front_end_restarted_elsewhere_brings_back_the_sessions_and_their_events(
    served: Served, pg_url: str, tmp_path: Path
) -> None:
    with served.client() as client:
        session_id = served.create(client)
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="say hello"), headers=served.headers))
    served.stop()

    async def followed() -> list[int]:
        reader = PostgresSessionStore(pg_url)
        try:
            return [seq for seq, _ in await reader.events_since(session_id)]
        finally:
            await reader.aclose()

    assert asyncio.run(followed()) == [event.seq for event in events]  # the events are in tau_events
    second, store = _start(pg_url, tmp_path / "two")  # another machine: nothing of the first on its disk
    try:
        with second.client() as client:
            listed = client.list_sessions(pb.ListSessionsRequest(), headers=second.headers).sessions
            assert [s.session_id for s in listed] == [session_id]
            request = pb.StreamEventsRequest(session_id=session_id, after_seq=3)
            replayed = list(client.stream_events(request, headers=second.headers))
            assert [e.SerializeToString() for e in replayed] == [e.SerializeToString() for e in events[3:]]
            more = list(client.run(pb.RunRequest(session_id=session_id, prompt="again"), headers=second.headers))
            assert more[0].seq == events[-1].seq + 1 and more[-1].final.status == "completed"
    finally:
        second.stop()
        asyncio.run(store.aclose())


def test_two_front_ends_on_one_database_list_run_and_stream_each_other_s_sessions(
    served: Served, pg_url: str, tmp_path: Path
) -> None:
    other, store = _start(pg_url, tmp_path / "two")  # a second front end at the same time (rpc.ownership)
    try:
        with served.client() as a, other.client() as b:
            made = [served.create(a), other.create(b), served.create(a)]
            for client, handle in ((a, served), (b, other)):
                listed = client.list_sessions(pb.ListSessionsRequest(), headers=handle.headers).sessions
                assert [s.session_id for s in listed] == made[::-1]  # one order, newest first, on both
                page = client.list_sessions(pb.ListSessionsRequest(page_size=2), headers=handle.headers)
                rest = pb.ListSessionsRequest(page_size=2, page_token=page.next_page_token)
                more = client.list_sessions(rest, headers=handle.headers).sessions
                assert [s.session_id for s in [*page.sessions, *more]] == made[::-1]
            ran = list(b.run(pb.RunRequest(session_id=made[0], prompt="say hello"), headers=other.headers))
            assert ran[-1].final.status == "completed"
            streamed = list(a.stream_events(pb.StreamEventsRequest(session_id=made[0]), headers=served.headers))
            assert [e.SerializeToString() for e in streamed] == [e.SerializeToString() for e in ran]
            shown = a.get_session(pb.GetSessionRequest(session_id=made[0]), headers=served.headers).session
            assert (pb.SessionStatus.Name(shown.status), shown.runs, shown.last_seq) == (
                "SESSION_STATUS_COMPLETED",
                1,
                ran[-1].seq,
            )
            again = list(a.run(pb.RunRequest(session_id=made[0], prompt="again"), headers=served.headers))
            assert again[0].seq == ran[-1].seq + 1 and again[-1].final.status == "completed"
            assert again[-1].final.session_status == pb.SESSION_STATUS_COMPLETED
            update = pb.UpdateSessionRequest(session_id=made[0], labels={"team": "b"})
            b.update_session(update, headers=other.headers)
            shown = a.get_session(pb.GetSessionRequest(session_id=made[0]), headers=served.headers).session
            assert dict(shown.labels) == {"team": "b"}
            b.delete_session(pb.DeleteSessionRequest(session_id=made[1]), headers=other.headers)
            listed = a.list_sessions(pb.ListSessionsRequest(), headers=served.headers).sessions
            assert [s.session_id for s in listed] == [made[2], made[0]]
            with pytest.raises(ConnectError) as exists:
                b.create_session(pb.CreateSessionRequest(session_id=made[2]), headers=other.headers)
            assert exists.value.code == Code.ALREADY_EXISTS
    finally:
        other.stop()
        asyncio.run(store.aclose())
