"""The SessionStore port contract, run against InMemorySessionStore and FileSessionStore alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ToolCallPart, UserPromptPart
from pydantic_ai.tools import DeferredToolRequests
from session_helpers import CONFIG, step_messages

from tau.errors import ConfigError
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionNotFoundError, SessionStore, StepRecord

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "file"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield InMemorySessionStore()
        return
    file_store = FileSessionStore(tmp_path / "state")
    yield file_store
    await file_store.aclose()


async def test_begin_commit_history_in_order(store: SessionStore) -> None:
    root = await store.begin("s1", CONFIG)
    ids = [root]
    expected = []
    for n in range(1, 4):
        messages = step_messages(n)
        expected.extend(messages)
        ids.append(await store.commit("s1", StepRecord(step=n, messages=messages)))
    assert len(set(ids)) == 4
    assert all(len(i) == 64 for i in ids)
    assert await store.history("s1") == expected


async def test_begin_twice_is_a_config_error(store: SessionStore) -> None:
    await store.begin("s1", CONFIG)
    with pytest.raises(ConfigError, match="already exists"):
        await store.begin("s1", CONFIG)


async def test_commit_without_new_messages_moves_the_head(store: SessionStore) -> None:
    first = await store.begin("s1", CONFIG)
    second = await store.commit("s1", StepRecord(step=1, messages=[], status="completed"))
    assert second != first
    assert await store.history("s1") == []


async def test_resume_returns_history_and_pending_and_allows_commits(store: SessionStore) -> None:
    await store.begin("s1", CONFIG)
    await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    pending = DeferredToolRequests(approvals=[ToolCallPart("bash", {"command": "rm -rf build"}, tool_call_id="c9")])
    head = await store.commit("s1", StepRecord(step=2, messages=step_messages(2), status="suspended", pending=pending))
    await store.close("s1")
    with pytest.raises(ConfigError, match="not open"):
        await store.commit("s1", StepRecord(step=3, messages=step_messages(3)))

    resumed = await store.resume("s1", {**CONFIG, "prompt": "go on"})
    assert (resumed.snapshot_id, resumed.status) == (head, "suspended")
    assert resumed.messages == step_messages(1) + step_messages(2)
    assert resumed.pending == pending
    more = [ModelRequest(parts=[UserPromptPart("go on")])]
    await store.commit("s1", StepRecord(step=1, messages=more))
    assert await store.history("s1") == step_messages(1) + step_messages(2) + more


async def test_a_provisional_commit_is_the_head_until_the_next_commit_replaces_it(store: SessionStore) -> None:
    await store.begin("s1", CONFIG)
    await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    partial = [ModelRequest(parts=[UserPromptPart("result so far")], state="interrupted")]
    for _ in range(2):  # each provisional commit replaces the one before it
        await store.commit("s1", StepRecord(step=2, messages=partial, provisional=True))
        assert await store.history("s1") == step_messages(1) + partial
    await store.commit("s1", StepRecord(step=2, messages=step_messages(2)))
    assert await store.history("s1") == step_messages(1) + step_messages(2)  # replaced, not appended to

    last = await store.commit("s1", StepRecord(step=3, messages=partial, provisional=True))
    await store.close("s1")  # the writer is gone: the provisional head is ordinary history
    resumed = await store.resume("s1")
    assert (resumed.snapshot_id, resumed.messages) == (last, step_messages(1) + step_messages(2) + partial)
    await store.commit("s1", StepRecord(step=4, messages=step_messages(3)))
    assert await store.history("s1") == step_messages(1) + step_messages(2) + partial + step_messages(3)


async def test_unknown_sessions_are_not_found(store: SessionStore) -> None:
    with pytest.raises(SessionNotFoundError):
        await store.history("nope")
    with pytest.raises(SessionNotFoundError):
        await store.resume("nope")


async def test_sessions_are_independent(store: SessionStore) -> None:
    await store.begin("a", CONFIG)
    await store.begin("b", CONFIG)
    await store.commit("a", StepRecord(step=1, messages=step_messages(1)))
    await store.commit("b", StepRecord(step=1, messages=step_messages(2)))
    assert await store.history("a") == step_messages(1)
    assert await store.history("b") == step_messages(2)


# -- capabilities: each store either has one and it behaves, or answers None -----------------------------------------


async def test_the_memory_store_declares_no_capabilities() -> None:
    store = InMemorySessionStore()
    assert (store.archive(), store.checkpoint_objects(), store.state_dir()) == (None, None, None)


async def test_an_archive_shows_heads_views_forks_pending_calls_and_writers(store: SessionStore) -> None:
    archive = store.archive()
    if archive is None:
        pytest.skip("this store keeps no archive")
    assert archive.head("s1") is None
    await store.begin("s1", CONFIG)
    first = await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    pending = DeferredToolRequests(approvals=[ToolCallPart("bash", {"command": "ls"}, tool_call_id="c1")])
    head = await store.commit("s1", StepRecord(step=2, messages=[], status="suspended", pending=pending))
    assert archive.head("s1") == head
    assert await archive.writing("s1")
    await store.close("s1")
    assert not await archive.writing("s1")
    view = await archive.view("s1")
    assert (view.kind, view.session_id, view.snapshot_id, view.status, view.owner) == (
        "session",
        "s1",
        head,
        "suspended",
        "s1",
    )
    assert view.pending == pending and view.config == CONFIG
    older = await archive.view(head[:12])
    assert (older.kind, older.session_id, older.label) == ("snapshot", None, head[:12])
    assert (await archive.view("s1", at=first[:8])).snapshot_id == first
    with pytest.raises(SessionNotFoundError):
        await archive.view("nope")
    root = await archive.fork(head, "s2")
    assert archive.head("s2") == root and await archive.pending("s2") == pending


async def test_checkpoint_objects_are_content_addressed(store: SessionStore) -> None:
    objects = store.checkpoint_objects()
    if objects is None:
        pytest.skip("this store keeps no checkpoint objects")
    object_id = objects.put_object(b"blob")
    assert objects.get_object(object_id) == b"blob" and objects.put_object(b"blob") == object_id
