"""Per-session write locks of the Postgres store across processes: one writer at a time, the holder's pid named, a
SIGKILLed writer's lock freed by the server (its connection ends), and its session listed `interrupted`; a writer
whose connection the server ended cannot move the head."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))

from session_helpers import CONFIG, step_messages

from tau.sessions import SessionFilter, SessionLockedError, StepRecord
from tau.sessions.postgres import PostgresSessionStore

pytestmark = pytest.mark.anyio
WRITER = Path(__file__).with_name("pg_writer.py")


def _writer(url: str, session_id: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, session_id, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


async def _until_free(store: PostgresSessionStore, session_id: str) -> str:
    """Resume `session_id` once the dead holder's connection is gone (the server notices a closed socket at once;
    bounded at 30 s so a lock that is never freed fails the test instead of hanging it)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return (await store.resume(session_id)).snapshot_id
        except SessionLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


async def test_a_second_process_is_refused_naming_the_holder(
    pg_url: str, processes: list[subprocess.Popen[str]]
) -> None:
    holder = _writer(pg_url, "s1", "--steps", "2", "--hold")
    processes.append(holder)
    assert holder.stdout is not None
    lines = [holder.stdout.readline().strip() for _ in range(4)]
    assert lines[0] == "ready" and lines[3] == "holding"
    second = _writer(pg_url, "s1")
    processes.append(second)
    out, _ = second.communicate(timeout=60)
    assert (second.returncode, out.strip()) == (1, f"locked {holder.pid}")
    store = PostgresSessionStore(pg_url)
    try:
        with pytest.raises(SessionLockedError, match=f"locked by pid {holder.pid}"):
            await store.resume("s1")
        [info] = await store.list_sessions()
        assert (info.id, info.status, info.turns) == ("s1", "running", 2)
    finally:
        await store.aclose()


async def test_two_writers_racing_for_one_new_session_one_wins(
    pg_url: str, processes: list[subprocess.Popen[str]]
) -> None:
    racers = [_writer(pg_url, "race", "--steps", "3") for _ in range(4)]
    processes.extend(racers)
    outputs = [racer.communicate(timeout=60)[0].splitlines() for racer in racers]
    store = PostgresSessionStore(pg_url)
    try:
        history = await store.history("race")
        log = await store.log("race")
    finally:
        await store.aclose()
    winners = [out for out in outputs if out and out[0] == "ready"]
    # each writer either began or resumed the session, one at a time, or found it locked: no step is lost or forked
    assert winners
    assert all(out[0].startswith(("locked ", "refused ")) or out[0] == "ready" for out in outputs)
    assert len(history) == 2 * 3 * len(winners)
    assert [entry.step for entry in log] == list(range(len(log)))
    assert all(len(entry.parents) == (1 if entry.step else 0) for entry in log)


async def test_a_sigkilled_writer_frees_its_lock_and_reads_interrupted(
    pg_url: str, processes: list[subprocess.Popen[str]]
) -> None:
    holder = _writer(pg_url, "killed", "--steps", "2", "--hold")
    processes.append(holder)
    assert holder.stdout is not None
    committed = [holder.stdout.readline().split() for _ in range(4)][1:3]
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    store = PostgresSessionStore(pg_url)
    try:
        head = await _until_free(store, "killed")
        assert head == committed[-1][2]
        await store.close("killed")
        [info] = await store.list_sessions()
        assert (info.status, info.head) == ("interrupted", head)
        assert await store.list_sessions(SessionFilter(status="interrupted")) == [info]
        assert await store.settle_interrupted() == ["killed"]
        assert [str(note).split(":")[0] for note in store.interrupted()] == ["session killed"]
        await store.resume("killed")
        await store.commit("killed", StepRecord(step=3, messages=[], status="completed"))
        await store.close("killed")
        [info] = await store.list_sessions()
        assert info.status == "completed"
    finally:
        await store.aclose()


async def test_a_writer_that_lost_its_connection_cannot_move_the_head(pg_url: str) -> None:
    import psycopg

    from tau.sessions import StoreWriteError

    writer, other = PostgresSessionStore(pg_url), PostgresSessionStore(pg_url)
    try:
        await writer.begin("s", CONFIG)
        head = await writer.commit("s", StepRecord(step=1, messages=step_messages(1)))
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the server ends the writer's connection
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'tau pid %'"
            )
        with pytest.raises(StoreWriteError, match=r"cannot write session store postgresql://\*\*\*@127\.0\.0\.1"):
            await writer.commit("s", StepRecord(step=2, messages=step_messages(2)))
        assert (await _until_free(other, "s")) == head  # nothing of the failed step is visible; the lock is free
        assert await other.history("s") == step_messages(1)
    finally:
        await writer.aclose()
        await other.aclose()
