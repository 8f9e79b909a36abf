"""Fault tests of the snapshot store: kill -9 mid-write, corrupt objects, two writers, disk full."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from session_helpers import CONFIG, step_messages

from tau.sessions import CorruptObjectError, FileSessionStore, SessionLockedError, StepRecord, StoreWriteError

pytestmark = pytest.mark.anyio
WRITER = Path(__file__).parent / "writer.py"


def _spawn(state: Path, session_id: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(state), session_id, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _ForkServer:
    """writer.py --fork-server: forks pre-imported writer processes on request (thread-safe)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), "--fork-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lock = threading.Lock()

    def spawn(self, state: Path, session_id: str, out_file: Path) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write(f"{state} {session_id} {out_file}\n")
            self.proc.stdin.flush()
            return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _kill_rounds(server: _ForkServer, state: Path, session_id: str, rounds: int, seed: int) -> list[str]:
    """Run a writer `rounds` times on one session, each killed with SIGKILL after a random delay; return the last
    snapshot each round acknowledged."""
    rng = random.Random(seed)
    acked: list[str] = []
    for round_ in range(rounds):
        out = state / f"{session_id}-{round_}.out"
        pid = server.spawn(state, session_id, out)
        _wait_for(lambda: out.exists() and out.read_text().startswith(("ready", "locked")))  # noqa: B023
        assert out.read_text().startswith("ready")
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: _gone(pid))  # noqa: B023
        lines = [line.split() for line in out.read_text().splitlines() if line.startswith("committed")]
        acked.append(lines[-1][2] if lines else "")
    return acked


async def test_kill_9_at_random_points_leaves_a_consistent_store(tmp_path: Path) -> None:
    sessions, rounds = 6, 5  # 30 killed writers, six sessions in parallel sharing one store
    server = _ForkServer()
    try:
        with ThreadPoolExecutor(sessions) as pool:
            futures = [pool.submit(_kill_rounds, server, tmp_path, f"s{i}", rounds, i) for i in range(sessions)]
            acked = {f"s{i}": future.result(timeout=50) for i, future in enumerate(futures)}
    finally:
        server.close()

    assert sum(map(bool, (a for acks in acked.values() for a in acks))) >= 10  # most kills hit a writing process
    store = FileSessionStore(tmp_path)
    assert await store.fsck() == []
    for session_id, acks in acked.items():
        head = store.head(session_id)
        chain = [snapshot_id for snapshot_id, _ in store.chain(head)]
        for ack in filter(None, acks):
            assert ack in chain  # every acknowledged commit survived
        resumed = await store.resume(session_id)
        steps = len(resumed.messages) // 2
        assert resumed.messages == [m for n in range(1, steps + 1) for m in step_messages(n, 3000)]
        assert store.snapshot(head).totals.get("messages", 0) == len(resumed.messages)
        await store.commit(session_id, StepRecord(step=steps + 1, messages=step_messages(steps + 1, 3000)))
        assert len(await store.history(session_id)) == len(resumed.messages) + 2
        await store.close(session_id)
    assert await store.fsck() == []
    assert sorted(await store.reindex(), key=lambda s: s.id) == sorted(await store.list_sessions(), key=lambda s: s.id)


async def _damaged_store(tmp_path: Path) -> tuple[FileSessionStore, list[str]]:
    store = FileSessionStore(tmp_path, history_cache=False)
    await store.begin("s1", CONFIG)
    heads = [await store.commit("s1", StepRecord(step=n, messages=step_messages(n))) for n in (1, 2, 3)]
    await store.close("s1")
    return store, heads


async def test_truncated_object_is_reported_with_its_path(tmp_path: Path) -> None:
    store, heads = await _damaged_store(tmp_path)
    messages_id = store.snapshot(heads[1]).messages
    assert messages_id is not None
    path = store.objects.path(messages_id)
    path.write_bytes(path.read_bytes()[:40])

    [problem] = await store.fsck()
    assert problem.path == path and "hash mismatch" in problem.problem
    fresh = FileSessionStore(tmp_path, history_cache=False)
    with pytest.raises(CorruptObjectError) as caught:
        await fresh.history("s1")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 1
    with pytest.raises(CorruptObjectError, match=str(path)):
        await fresh.resume("s1")
    assert await fresh.gc(grace_seconds=0) == []  # damaged but reachable: never collected
    assert path.exists()


async def test_bit_flipped_snapshot_is_reported_with_its_path(tmp_path: Path) -> None:
    store, heads = await _damaged_store(tmp_path)
    path = store.objects.path(heads[0])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    problems = await store.fsck()
    assert [p.path for p in problems] == [path]
    assert "truncated or bit-flipped" in str(problems[0])
    with pytest.raises(CorruptObjectError, match=str(path)):
        await FileSessionStore(tmp_path).history("s1")


async def test_missing_object_and_bad_ref_are_reported(tmp_path: Path) -> None:
    store, heads = await _damaged_store(tmp_path)
    config_path = store.objects.path(store.snapshot(heads[2]).config)
    config_path.unlink()
    (tmp_path / "refs" / "sessions" / "broken").write_text("not-a-hash\n")
    problems = {str(p.path): p.problem for p in await FileSessionStore(tmp_path).fsck()}
    assert "missing" in problems[str(config_path)]
    assert "ref does not hold a snapshot id" in problems[str(tmp_path / "refs" / "sessions" / "broken")]


def test_two_processes_appending_to_one_session_exactly_one_wins(tmp_path: Path) -> None:
    procs = [_spawn(tmp_path, "shared", "--steps", "20", "--hold", "1.5") for _ in range(2)]
    outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    codes = [proc.returncode for proc in procs]
    assert sorted(codes) == [0, 1], outputs
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    assert outputs[loser].strip() == f"locked {procs[winner].pid}"
    assert outputs[winner].count("committed") == 20


async def test_a_live_writer_process_locks_out_this_one(tmp_path: Path) -> None:
    proc = _spawn(tmp_path, "s", "--steps", "2", "--hold", "30")
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.stdout.readline()
        proc.stdout.readline()
        store = FileSessionStore(tmp_path)
        with pytest.raises(SessionLockedError, match=f"locked by pid {proc.pid}"):
            await store.resume("s")
        assert len(await store.history("s")) == 4  # readers are never locked out
    finally:
        proc.kill()
        proc.wait()
    resumed = await FileSessionStore(tmp_path).resume("s")  # the kernel dropped the dead writer's lock
    assert len(resumed.messages) == 4


@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
async def test_disk_full_mid_object_leaves_nothing_partial_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: str
) -> None:
    store = FileSessionStore(tmp_path)
    await store.begin("s1", CONFIG)
    head = await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    real = getattr(os, failing_call)

    def full(*args: object, **kwargs: object) -> object:
        if failing_call == "write":  # write half, then fail: a partial file exists until cleanup
            real(args[0], bytes(args[1])[: len(args[1]) // 2])  # type: ignore[call-overload, arg-type]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing_call, full)
    with pytest.raises(StoreWriteError, match="No space left on device") as caught:
        await store.commit("s1", StepRecord(step=2, messages=step_messages(2, 5000)))
    monkeypatch.undo()

    assert caught.value.exit_code == 1
    assert store.head("s1") == head
    assert list((tmp_path / "tmp").iterdir()) == []
    assert await store.fsck() == []
    assert await store.history("s1") == step_messages(1)
    await store.commit("s1", StepRecord(step=2, messages=step_messages(2)))  # space is back
    assert await store.history("s1") == step_messages(1) + step_messages(2)
    await store.aclose()


async def test_disk_full_on_the_ref_keeps_the_old_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileSessionStore(tmp_path)
    await store.begin("s1", CONFIG)
    head = await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    real_write = store.refs.write

    def full(session_id: str, snapshot_id: str) -> None:
        raise StoreWriteError(store.refs.path(session_id), OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(store.refs, "write", full)
    with pytest.raises(StoreWriteError):
        await store.commit("s1", StepRecord(step=2, messages=step_messages(2)))
    monkeypatch.setattr(store.refs, "write", real_write)
    assert FileSessionStore(tmp_path).head("s1") == head
    assert await FileSessionStore(tmp_path).fsck() == []
    assert len(await FileSessionStore(tmp_path).gc(grace_seconds=0)) == 2  # the orphaned messages + snapshot
    await store.aclose()


async def test_disk_full_on_a_real_tiny_tmpfs(tmp_path: Path) -> None:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        store = FileSessionStore(mount_point / "state", history_cache=False)
        await store.begin("s1", CONFIG)
        committed = 0
        with pytest.raises(StoreWriteError, match="No space left"):
            for n in range(1, 1000):
                await store.commit("s1", StepRecord(step=n, messages=step_messages(n, 3000)))
                committed = n
        assert committed > 0
        fresh = FileSessionStore(mount_point / "state", history_cache=False)
        assert await fresh.fsck() == []
        assert await fresh.history("s1") == [m for n in range(1, committed + 1) for m in step_messages(n, 3000)]
        await store.aclose()
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
