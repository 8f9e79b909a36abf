"""`tau serve` over a Postgres store (RuntimeServiceImpl with a PostgresSessionStore, a real Connect server): the
runs' snapshots land in Postgres, readable by any other process that opens the same database, and a session is
forked there."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))

from rpc_helpers import TOKEN, Scripts, Served

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.server import RuntimeServer
from tau.rpc.service import RuntimeServiceImpl
from tau.sessions.postgres import PostgresSessionStore
from tau.testing import reply


def hello(job: Any) -> list[Any]:
    return [reply("hello world")]


@pytest.fixture
def served(pg_url: str, tmp_path: Path) -> Any:
    workspace, home = tmp_path / "ws", tmp_path / "home"
    workspace.mkdir()
    home.mkdir()
    store = PostgresSessionStore(pg_url, state_dir=tmp_path / "state")
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
    handle = Served(server.url, service, server, TOKEN, workspace, thread)
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
