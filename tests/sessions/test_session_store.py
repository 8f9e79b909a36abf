"""FileSessionStore: on-disk layout, structural sharing, fork/resolve/rm, index and reindex, gc, bundles, location."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessagesTypeAdapter, ToolCallPart
from pydantic_ai.tools import DeferredToolRequests
from session_helpers import CONFIG, step_messages

from tau.errors import ConfigError
from tau.sessions import (
    BundleError,
    FileSessionStore,
    SessionFilter,
    SessionLockedError,
    SessionNotFoundError,
    StepRecord,
    default_state_dir,
)
from tau.sessions.objects import digest

pytestmark = pytest.mark.anyio


def _files(root: Path) -> set[Path]:
    return {p for p in (root / "objects").rglob("*") if p.is_file()}


async def _session(store: FileSessionStore, session_id: str, steps: int, config: dict[str, object] = CONFIG) -> None:
    await store.begin(session_id, config)
    for n in range(1, steps + 1):
        usage = {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01}
        await store.commit(session_id, StepRecord(step=n, messages=step_messages(n), usage=usage))
    await store.close(session_id)


async def test_layout_is_plain_inspectable_files(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.begin("s1", CONFIG)
    head = await store.commit("s1", StepRecord(step=1, messages=step_messages(1), usage={"input_tokens": 7}))

    assert (tmp_path / "refs" / "sessions" / "s1").read_text() == f"{head}\n"
    snapshot_path = tmp_path / "objects" / head[:2] / head[2:]
    snapshot = json.loads(snapshot_path.read_bytes())
    assert digest(snapshot_path.read_bytes()) == head
    assert snapshot["type"] == "tau.snapshot" and snapshot["status"] == "running" and snapshot["step"] == 1
    assert snapshot["workspace"] is None and snapshot["pending"] is None
    assert snapshot["usage"] == {"input_tokens": 7}
    assert snapshot["totals"] == {"input_tokens": 7, "messages": 2, "turns": 1}
    messages = (tmp_path / "objects" / snapshot["messages"][:2] / snapshot["messages"][2:]).read_bytes()
    assert ModelMessagesTypeAdapter.validate_json(messages) == step_messages(1)
    config = json.loads((tmp_path / "objects" / snapshot["config"][:2] / snapshot["config"][2:]).read_bytes())
    assert config == {"type": "tau.config", "config": CONFIG}
    assert (tmp_path / "locks" / "s1.lock").read_text().strip().isdigit()
    await store.aclose()


async def test_a_commit_writes_only_what_the_step_added(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path, history_cache=False)
    await store.begin("s1", CONFIG)
    before = _files(tmp_path)
    for n in range(1, 30):
        await store.commit("s1", StepRecord(step=n, messages=step_messages(n)))
        after = _files(tmp_path)
        added = after - before
        assert len(added) == 2  # one messages object, one snapshot object; the config object is shared
        assert sum(p.stat().st_size for p in added) < 2000
        before = after
    await store.aclose()


async def test_compressed_objects_hash_their_plain_bytes_and_mix_with_plain_ones(tmp_path: Path) -> None:
    plain = FileSessionStore(tmp_path)
    await _session(plain, "plain", 2)
    packed = FileSessionStore(tmp_path, compress=True)
    await _session(packed, "packed", 3)
    head = packed.head("packed")
    raw = (tmp_path / "objects" / head[:2] / head[2:]).read_bytes()
    assert digest(zlib.decompress(raw)) == head
    reader = FileSessionStore(tmp_path)
    assert await reader.history("packed") == [m for n in (1, 2, 3) for m in step_messages(n)]
    assert await reader.history("plain") == step_messages(1) + step_messages(2)
    assert await reader.fsck() == []


async def test_log_show_and_pending(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.begin("s1", CONFIG)
    await store.commit("s1", StepRecord(step=1, messages=step_messages(1)))
    pending = DeferredToolRequests(approvals=[ToolCallPart("bash", {"command": "make"}, tool_call_id="c1")])
    await store.commit("s1", StepRecord(step=2, messages=[], status="suspended", pending=pending))
    log = await store.log("s1")
    assert [(s.step, s.status, s.message_count, s.pending) for s in log] == [
        (0, "created", 0, False),
        (1, "running", 2, False),
        (2, "suspended", 0, True),
    ]
    assert log[1].parents == (log[0].id,)
    assert await store.pending("s1") == pending
    shown = await store.show(log[1].id[:10])
    assert shown.resolved.kind == "snapshot" and shown.messages == step_messages(1) and shown.pending is None
    whole = await store.show("s1")
    assert whole.resolved.session_id == "s1" and whole.pending == pending and whole.config == CONFIG
    await store.aclose()


async def test_resolve_is_unique_prefix_like_git(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await _session(store, "alpha-1", 1)
    await _session(store, "alpha-2", 1)
    await _session(store, "beta", 1)
    assert store.resolve("beta").session_id == "beta"
    assert store.resolve("be").session_id == "beta"
    assert store.resolve("alpha-1").kind == "session"
    with pytest.raises(SessionNotFoundError, match="ambiguous: session alpha-1, session alpha-2"):
        store.resolve("alpha")
    head = store.head("beta")
    assert store.resolve(head[:8]) == store.resolve(head)
    assert store.resolve(head[:8]).kind == "snapshot"
    with pytest.raises(SessionNotFoundError, match="no session or snapshot"):
        store.resolve("zzz")
    messages_id = (await store.log("beta"))[-1]
    assert messages_id.message_count == 2


async def test_fork_starts_a_new_session_at_a_snapshot(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await _session(store, "main", 3)
    at_step_2 = (await store.log("main"))[2]
    root = await store.fork(at_step_2.id[:12], "branch")
    snap = store.snapshot(root)
    assert snap.parents == (at_step_2.id,) and snap.session == "branch" and snap.status == "forked"
    assert await store.history("branch") == step_messages(1) + step_messages(2)
    resumed = await store.resume("branch")
    await store.commit("branch", StepRecord(step=1, messages=step_messages(9)))
    assert await store.history("branch") == step_messages(1) + step_messages(2) + step_messages(9)
    assert await store.history("main") == [m for n in (1, 2, 3) for m in step_messages(n)]
    assert resumed.snapshot_id == root
    await store.aclose()  # the writer is gone: its unfinished sessions read `interrupted`
    listed = await store.list_sessions(SessionFilter(status="interrupted", model="scripted"))
    assert sorted(s.id for s in listed) == ["branch", "main"]
    [branch] = [s for s in listed if s.id == "branch"]
    assert (branch.id, branch.parent, branch.turns) == ("branch", at_step_2.id, 1)
    with pytest.raises(ConfigError, match="already exists"):
        await store.fork("main", "branch")


async def test_second_writer_in_the_same_process_is_locked_out(tmp_path: Path) -> None:
    first = FileSessionStore(tmp_path)
    await first.begin("s1", CONFIG)
    second = FileSessionStore(tmp_path)
    with pytest.raises(SessionLockedError, match=r"session s1 is locked by pid \d+") as caught:
        await second.resume("s1")
    assert caught.value.exit_code == 1
    with pytest.raises(SessionLockedError):
        await second.rm("s1")
    await first.close("s1")
    resumed = await second.resume("s1")
    assert resumed.messages == []
    await second.aclose()


async def test_index_follows_commits_and_reindex_rebuilds_the_same_rows(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await _session(store, "one", 2)
    await _session(
        store, "two", 3, {**CONFIG, "prompt": "\n\nSecond job\nbody", "model": {"provider": "x", "name": "y"}}
    )
    await store.fork("two", "three")
    incremental = await store.list_sessions()
    assert [(s.id, s.title, s.model, s.turns, s.tokens) for s in sorted(incremental, key=lambda s: s.id)] == [
        ("one", "Fix the flaky test", "test:scripted", 2, 30),
        ("three", "Second job", "x:y", 0, 0),
        ("two", "Second job", "x:y", 3, 45),
    ]
    two = next(s for s in incremental if s.id == "two")
    assert two.cost == pytest.approx(0.03) and two.status == "interrupted" and two.head == store.head("two")
    rebuilt = await store.reindex()
    assert sorted(rebuilt, key=lambda s: s.id) == sorted(incremental, key=lambda s: s.id)
    assert sorted(await store.list_sessions(), key=lambda s: s.id) == sorted(incremental, key=lambda s: s.id)
    assert [s.id for s in await store.list_sessions(SessionFilter(model="x:"))] in (["two", "three"], ["three", "two"])
    assert await store.list_sessions(SessionFilter(since="2999-01-01")) == []
    assert len(await store.list_sessions(SessionFilter(limit=1))) == 1


async def test_ls_repairs_an_index_that_lags_or_is_damaged(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await _session(store, "one", 2)
    truth = await store.reindex()
    await store.index.upsert(replace(truth[0], head="0" * 64, turns=0))  # as if a crash hit before the index update
    assert await store.list_sessions() == truth
    (tmp_path / "index.sqlite").write_bytes(b"garbage" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"index.sqlite{suffix}").unlink(missing_ok=True)
    assert await FileSessionStore(tmp_path).list_sessions() == truth


async def test_rm_removes_the_ref_and_gc_only_unreachable_objects(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await _session(store, "keep", 2)
    await _session(store, "drop", 3)
    await store.fork("drop", "child")  # shares drop's objects
    keep_files = {store.objects.path(i) for i in _reachable(store, "keep")}
    assert await store.gc(grace_seconds=0) == []
    await store.rm("drop")
    assert await store.gc(grace_seconds=0) == []  # child still reaches them
    assert await store.history("child") == [m for n in (1, 2, 3) for m in step_messages(n)]
    await store.rm("child")
    with pytest.raises(SessionNotFoundError):
        await store.rm("child")
    removed = await store.gc(grace_seconds=0)
    # drop's steps 1-2 added the same messages as keep's (deduplicated, so kept): its step-3 messages object, its root
    # and 3 step snapshots, and child's root snapshot go
    assert len(removed) == 1 + 1 + 3 + 1
    assert _files(tmp_path) == keep_files
    assert [s.id for s in await store.list_sessions()] == ["keep"]
    assert await store.history("keep") == step_messages(1) + step_messages(2)
    assert await store.fsck() == []


async def test_gc_grace_period_spares_young_unreachable_objects(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    store.ensure_dirs()
    orphan = store.objects.put(b'{"orphan":true}')
    assert await store.gc() == []
    assert await store.gc(grace_seconds=0) == [orphan]


def _reachable(store: FileSessionStore, session_id: str) -> set[str]:
    found: set[str] = set()
    for snapshot_id, snap in store.chain(store.head(session_id)):
        found.add(snapshot_id)
        found.update(object_id for _, object_id in snap.links())
    return found


async def test_export_import_roundtrip_is_verified_and_idempotent(tmp_path: Path) -> None:
    source = FileSessionStore(tmp_path / "ci")
    await _session(source, "base", 2)
    await source.fork("base", "job")
    await source.resume("job")
    pending = DeferredToolRequests(calls=[ToolCallPart("deploy", {}, tool_call_id="d1")])
    await source.commit("job", StepRecord(step=1, messages=step_messages(5), status="suspended", pending=pending))
    await source.aclose()
    bundle = await source.export("job", tmp_path / "out" / "job.tar.gz")
    assert (await source.export("job", tmp_path / "again.tar.gz")).read_bytes() == bundle.read_bytes()

    laptop = FileSessionStore(tmp_path / "laptop")
    first = await laptop.import_bundle(bundle)
    assert (first.session_id, first.ref, first.objects_present) == ("job", "created", 0)
    assert await laptop.history("job") == await source.history("job")
    assert await laptop.pending("job") == pending
    assert await laptop.fsck() == []
    again = await laptop.import_bundle(bundle)
    assert (again.ref, again.objects_added, again.objects_present) == ("unchanged", 0, first.objects_added)
    [row] = await laptop.list_sessions()
    assert (row.id, row.status, row.head) == ("job", "suspended", source.head("job"))

    resumed = await laptop.resume("job")
    await laptop.commit("job", StepRecord(step=1, messages=step_messages(6)))
    await laptop.close("job")
    assert (await laptop.import_bundle(bundle)).ref == "kept-local"
    assert resumed.pending == pending
    newer = await laptop.export("job", tmp_path / "newer.tar.gz")
    assert (await source.import_bundle(newer)).ref == "fast-forward"
    assert await source.history("job") == await laptop.history("job")


async def test_import_refuses_damaged_or_diverged_bundles(tmp_path: Path) -> None:
    import io
    import tarfile

    source = FileSessionStore(tmp_path / "a")
    await _session(source, "s", 2)
    bundle = await source.export("s", tmp_path / "s.tar.gz")
    with tarfile.open(bundle) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(damaged, "w:gz") as archive:
        for member, data in members:
            flipped = data.replace(b"step", b"stop", 1) if data.startswith(b"[") else data
            archive.addfile(member, io.BytesIO(flipped))
    fresh = FileSessionStore(tmp_path / "b")
    with pytest.raises(BundleError, match="does not match its hash"):
        await fresh.import_bundle(damaged)
    assert list(fresh.refs.sessions()) == []
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(BundleError, match="not a readable tau bundle"):
        await fresh.import_bundle(tmp_path / "junk.tar.gz")

    other = FileSessionStore(tmp_path / "c")
    await _session(other, "s", 1, {**CONFIG, "prompt": "something else"})
    with pytest.raises(BundleError, match="different history"):
        await other.import_bundle(bundle)


def test_default_state_dir_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = home / "work" / "proj"
    (project / "sub").mkdir(parents=True)
    (home / ".tau").mkdir()  # ~/.tau is never a project
    env = {"HOME": str(home)}
    assert default_state_dir(env, project / "sub") == home / ".local" / "state" / "tau"
    assert default_state_dir({**env, "XDG_STATE_HOME": "/xdg"}, project) == Path("/xdg/tau")
    (project / ".tau" / "plans").mkdir(parents=True)  # a bare .tau/ (plans, memory) is not a project
    assert default_state_dir({**env, "XDG_STATE_HOME": "/xdg"}, project / "sub") == Path("/xdg/tau")
    for marker in ("config.toml", "settings.json"):
        (project / ".tau" / marker).write_text("")
        assert default_state_dir({**env, "XDG_STATE_HOME": "/xdg"}, project / "sub") == project / ".tau" / "state"
        (project / ".tau" / marker).unlink()
    (project / ".tau" / "state").mkdir()
    assert default_state_dir({**env, "XDG_STATE_HOME": "/xdg"}, project / "sub") == project / ".tau" / "state"
    assert default_state_dir({**env, "TAU_STATE_DIR": "rel"}, project) == project / "rel"
    assert default_state_dir({**env, "TAU_STATE_DIR": "/t"}, project, explicit="/flag") == Path("/flag")


async def test_invalid_session_ids_are_config_errors(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    for bad in ("../escape", "", ".hidden", "a/b"):
        with pytest.raises(ConfigError, match="invalid session id"):
            await store.begin(bad, CONFIG)
