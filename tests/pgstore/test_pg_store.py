"""The Postgres store beyond the port: the file store's object format and ids (bundles move sessions both ways, byte
for byte), show/log/resolve/fork/rm/ls, fsck and gc, and a session's events followed over LISTEN/NOTIFY."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import psycopg
import pytest
from pydantic_ai.messages import ModelRequest, ToolCallPart, UserPromptPart
from pydantic_ai.tools import DeferredToolRequests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))

from session_helpers import CONFIG, step_messages

from tau.errors import ConfigError
from tau.sessions import BundleError, FileSessionStore, SessionFilter, SessionNotFoundError, StepRecord
from tau.sessions.postgres import PostgresSessionStore

pytestmark = pytest.mark.anyio


async def _three_steps(store: FileSessionStore | PostgresSessionStore, session_id: str = "s1") -> list[str]:
    ids = [await store.begin(session_id, CONFIG)]
    for n in (1, 2):
        ids.append(
            await store.commit(session_id, StepRecord(step=n, messages=step_messages(n), usage={"input_tokens": 10}))
        )
    pending = DeferredToolRequests(approvals=[ToolCallPart("bash", {"command": "make"}, tool_call_id="c9")])
    ids.append(await store.commit(session_id, StepRecord(step=3, messages=[], status="suspended", pending=pending)))
    await store.close(session_id)
    return ids


async def test_the_same_steps_give_the_same_objects_and_bundles_as_the_file_store(pg_url: str, tmp_path: Path) -> None:
    files = FileSessionStore(tmp_path / "state", history_cache=False)
    pg = PostgresSessionStore(pg_url)
    try:
        await _three_steps(files)
        from_files = await files.export("s1", tmp_path / "files.tar.gz")
        assert (await pg.import_bundle(from_files)).ref == "created"
        again = await pg.export("s1", tmp_path / "pg.tar.gz")
        assert again.read_bytes() == from_files.read_bytes()
        assert (await pg.import_bundle(from_files)).ref == "unchanged"
        assert await pg.show("s1") == await files.show("s1")
        assert await pg.log("s1") == await files.log("s1")
        assert await pg.list_sessions() == await files.list_sessions()
        assert await pg.fsck() == []
    finally:
        await pg.aclose()


async def test_files_to_postgres_resume_and_back_to_files(pg_url: str, tmp_path: Path) -> None:
    first = FileSessionStore(tmp_path / "a")
    await _three_steps(first)
    bundle = await first.export("s1", tmp_path / "one.tar.gz")
    pg = PostgresSessionStore(pg_url)
    try:
        await pg.import_bundle(bundle)
        resumed = await pg.resume("s1")
        assert resumed.status == "suspended" and resumed.pending is not None
        more = [ModelRequest(parts=[UserPromptPart("go on")])]
        head = await pg.commit("s1", StepRecord(step=4, messages=more, status="completed"))
        await pg.close("s1")
        back = await pg.export("s1", tmp_path / "two.tar.gz")
    finally:
        await pg.aclose()
    result = await first.import_bundle(back)
    assert (result.ref, result.head) == ("fast-forward", head)
    second = FileSessionStore(tmp_path / "b")
    assert (await second.import_bundle(back)).ref == "created"
    assert await second.history("s1") == step_messages(1) + step_messages(2) + more
    assert (await second.list_sessions())[0].status == "completed"
    assert await second.fsck() == []


async def test_a_diverged_or_damaged_bundle_is_refused(pg_url: str, tmp_path: Path) -> None:
    files = FileSessionStore(tmp_path / "state")
    await _three_steps(files)
    bundle = await files.export("s1", tmp_path / "s1.tar.gz")
    pg = PostgresSessionStore(pg_url)
    try:
        await pg.begin("s1", {**CONFIG, "prompt": "another"})
        await pg.close("s1")
        with pytest.raises(BundleError, match="different history"):
            await pg.import_bundle(bundle)
        broken = tmp_path / "broken.tar.gz"
        broken.write_bytes(bundle.read_bytes()[:-40])
        with pytest.raises(BundleError):
            await pg.import_bundle(broken)
        assert [info.title for info in await pg.list_sessions()] == ["another"]
    finally:
        await pg.aclose()


async def test_resolve_fork_rm_and_listing_filters(pg_url: str) -> None:
    pg = PostgresSessionStore(pg_url)
    try:
        ids = await _three_steps(pg, "alpha")
        assert pg.resolve("alp").session_id == "alpha"
        assert pg.resolve(ids[2][:10]).snapshot_id == ids[2]
        with pytest.raises(SessionNotFoundError, match="no session or snapshot"):
            pg.resolve("zzz")
        assert pg.snapshot_in("alpha", ids[1][:8]) == ids[1]
        root = await pg.fork(ids[2], "beta")
        assert pg.snapshot(root).parents == (ids[2],)
        with pytest.raises(ConfigError, match="already exists"):
            await pg.fork(ids[2], "beta")
        assert await pg.history("beta") == step_messages(1) + step_messages(2)
        rows = await pg.list_sessions()
        assert [row.id for row in rows] == ["beta", "alpha"]
        assert rows[0].parent == ids[2] and rows[0].status == "forked"
        assert [r.id for r in await pg.list_sessions(SessionFilter(status="suspended"))] == ["alpha"]
        assert [r.id for r in await pg.list_sessions(SessionFilter(model="SCRIPTED", limit=1))] == ["beta"]
        assert await pg.rm("beta") == root
        with pytest.raises(SessionNotFoundError):
            await pg.rm("beta")
        assert await pg.gc(grace_seconds=3600) == []
        assert await pg.gc(grace_seconds=0) == [root]
        assert await pg.fsck() == []
    finally:
        await pg.aclose()


async def test_fsck_names_a_damaged_object_and_gc_refuses(pg_url: str) -> None:
    pg = PostgresSessionStore(pg_url)
    try:
        ids = await _three_steps(pg)
        messages = pg.snapshot(ids[1]).messages
        assert messages is not None
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE tau_objects SET data = %s WHERE id = %s", (b"[]", messages))
        problems = await pg.fsck()
        assert [(str(p.path), p.object_id) for p in problems] == [(f"tau_objects/{messages}", messages)]
        assert "hash mismatch" in problems[0].problem
        with pytest.raises(Exception, match="gc refuses"):
            await pg.gc(grace_seconds=0)
    finally:
        await pg.aclose()


async def test_follow_sees_every_event_in_order_across_a_reconnect(pg_url: str) -> None:
    writer, reader = PostgresSessionStore(pg_url), PostgresSessionStore(pg_url)
    await writer.begin("s1", CONFIG)
    seen: list[int] = []
    try:
        for seq in (1, 2, 3):
            await writer.append_event("s1", seq, f"event {seq}".encode())

        async def first_follower() -> None:
            async for seq, data in reader.follow("s1", after_seq=0):
                assert data == f"event {seq}".encode()
                seen.append(seq)
                if seq == 5:
                    return

        async with anyio.create_task_group() as group:
            group.start_soon(first_follower)
            for seq in (4, 5, 6, 7):
                await writer.append_event("s1", seq, f"event {seq}".encode())
        # the follower stopped after 5 (a dropped connection); it reconnects with the last seq it saw
        async for seq, _ in reader.follow("s1", after_seq=seen[-1]):
            seen.append(seq)
            if seq == 7:
                break
        with pytest.raises(psycopg.errors.UniqueViolation):
            await writer.append_event("s1", 7, b"again")
        assert seen == [1, 2, 3, 4, 5, 6, 7]
        assert [seq for seq, _ in await reader.events_since("s1", 5)] == [6, 7]
    finally:
        await writer.aclose()
        await reader.aclose()
