"""`tau.temporal.restore.restore_workspace` against a real file store and a session an inline run made: a fresh
directory gets the files the head's checkpoint holds; a stale copy (the session ran on since) is brought current,
including a file the session deleted; the holder's current copy is unchanged; no session, nothing to restore."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporal_kit import parity_kit, stateless_model

from tau.config import load_job
from tau.runtime import Continue, Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.restore import restore_workspace, restored_text
from tau.testing import calls, reply

TURNS = (
    calls(("write", {"file_path": "a.txt", "content": "A"})),
    calls(("write", {"file_path": "old.txt", "content": "old"})),
    reply("one"),
    calls(("bash", {"command": "rm old.txt && echo A2 > a.txt"})),
    reply("two"),
)
FLAGS = {"permission_mode": "bypassPermissions", "model": "test:scripted"}


def test_restore_brings_any_copy_to_the_head(tmp_path: Path) -> None:
    box = parity_kit.Box(tmp_path / "box")
    store = FileSessionStore(box.state)
    runtime = Runtime(store, env=box.env, cwd=box.work, model_factory=lambda job: stateless_model(TURNS))
    job = load_job(prompt_text="Write.", flags=FLAGS, env=box.env, cwd=box.work)
    assert asyncio.run(runtime.submit(Start(job, "s"))).result == "one"
    stale = tmp_path / "stale"
    first = asyncio.run(restore_workspace(FileSessionStore(box.state), "s", stale))
    assert first is not None and sorted(first.restored) == ["a.txt", "old.txt"]
    assert (stale / "a.txt").read_text() == "A" and (stale / "old.txt").read_text() == "old"

    assert asyncio.run(runtime.submit(Continue("s", "Change."))).result == "two"
    assert not (box.work / "old.txt").exists()
    fresh, holder = tmp_path / "fresh", box.work
    for directory in (fresh, stale):
        report = asyncio.run(restore_workspace(FileSessionStore(box.state), "s", directory))
        assert report is not None, directory
        assert (directory / "a.txt").read_text() == "A2\n" and not (directory / "old.txt").exists()
    assert "1 deleted" in restored_text(report)  # the stale copy lost old.txt
    same = asyncio.run(restore_workspace(FileSessionStore(box.state), "s", holder))
    assert same is not None and same.changed == 0 and "a.txt" in same.unchanged
    assert asyncio.run(restore_workspace(FileSessionStore(box.state), "nope", tmp_path / "none")) is None


def test_a_locality_restore_waits_for_the_session_lock(tmp_path: Path) -> None:
    """The activity restores under the session's write lock: while a live attempt holds it (a worker whose heartbeat
    timed out but which still runs the run), the restore refuses (retryable) and leaves the workspace as it is; once
    the lock is free, it restores."""
    from temporalio.exceptions import ApplicationError

    from tau.temporal.activity import RunActivity

    box = parity_kit.Box(tmp_path / "box")
    runtime = Runtime(
        FileSessionStore(box.state), env=box.env, cwd=box.work, model_factory=lambda job: stateless_model(TURNS)
    )
    job = load_job(prompt_text="Write.", flags=FLAGS, env=box.env, cwd=box.work)
    assert asyncio.run(runtime.submit(Start(job, "s"))).result == "one"
    live = tmp_path / "root" / "s"
    live.mkdir(parents=True)
    (live / "a.txt").write_text("written by the live attempt")
    attempt = RunActivity(FileSessionStore(box.state), env=box.env, workspace_root=tmp_path / "root")

    async def restore_while_held() -> None:
        holder = FileSessionStore(box.state)
        await holder.resume("s")  # the live attempt's lock
        try:
            try:
                await attempt._restore("s", live)
            except ApplicationError as error:
                assert (error.type, error.non_retryable) == ("RunError", False), error
            else:
                raise AssertionError("restored under a live writer")
        finally:
            await holder.close("s")

    asyncio.run(restore_while_held())
    assert (live / "a.txt").read_text() == "written by the live attempt"
    report = asyncio.run(attempt._restore("s", live))
    assert report is not None and "a.txt" in report.restored and (live / "a.txt").read_text() == "A"
    assert asyncio.run(attempt._restore("new", tmp_path / "root" / "new")) is None  # no session yet: nothing to lock
    assert (tmp_path / "root" / "new").is_dir()


def test_an_attempt_whose_earlier_attempt_still_runs_on_this_worker_is_retried_untouched(tmp_path: Path) -> None:
    """A retry placed on the worker whose earlier attempt still runs (its heartbeat timed out) refuses at once,
    retryably, before any query, restore or store access; the workspace stays as the live attempt left it."""
    from temporalio.exceptions import ApplicationError

    from tau.temporal.activity import RunActivity
    from tau.temporal.wire import RunInput

    box = parity_kit.Box(tmp_path / "box")
    attempt = RunActivity(FileSessionStore(box.state), env=box.env, workspace_root=tmp_path / "root")
    live = tmp_path / "root" / "s"
    live.mkdir(parents=True)
    (live / "a.txt").write_text("written by the live attempt")
    attempt.live.add("s")  # the earlier attempt, still running here
    try:
        asyncio.run(attempt._execute(RunInput(job={}, session_id="s"), 2, live))
    except ApplicationError as error:
        assert (error.type, error.non_retryable) == ("RunError", False), error
        assert "still runs on this worker" in error.message
    else:
        raise AssertionError("a second attempt ran beside the live one")
    assert (live / "a.txt").read_text() == "written by the live attempt"
