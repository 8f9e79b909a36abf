"""`tau watch` in-process: the backlog at start, failures in failed/ with their error, a burst of 20 dropped files
(renamed into place, or written slowly in place) each run exactly once, recovery of `processing/` leftovers, a stop
that cancels running jobs with a terminal event, and one watcher per inbox."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from watch_helpers import Box, events_of, job_text, result_of

from tau.config import JobSpec
from tau.errors import ConfigError
from tau.watch import WatchLayout


def test_backlog_is_processed_at_start_and_junk_is_ignored(box: Box) -> None:
    for name in ("a", "b", "c"):
        box.drop(f"{name}.md", job_text(f"job {name}"))
    junk = {".hidden.md": "x", ".d.md.tmp": "x", "notes.txt": "x", "e.md~": "x", "#f.md#": "x"}
    for name, text in junk.items():
        (box.inbox / name).write_text(text)
    (box.inbox / "sub.md").mkdir()

    report = box.run_once()

    done = box.entries("done")
    assert list(done) == ["a", "b", "c"]
    for name, entry in done.items():
        assert sorted(p.name for p in entry.iterdir()) == [f"{name}.md", "events.jsonl", "result.json", "session_id"]
        result = result_of(entry)
        assert (result["status"], result["exit_code"], result["result"]) == ("completed", 0, f"did: job {name}")
        events = events_of(entry)
        assert (events[0]["type"], events[-1]["type"]) == ("session.started", "run.completed")
        session_id = (entry / "session_id").read_text().strip()
        assert session_id == result["session_id"] == events[0]["session_id"] != ""
    assert sorted(box.prompts) == ["job a", "job b", "job c"]
    assert sorted(p.name for p in box.inbox.iterdir()) == sorted(
        [*junk, "sub.md", ".tau-watch.lock", "processing", "done", "failed"]
    )
    assert list((box.inbox / "processing").iterdir()) == []
    assert [job.exit_code for job in report.jobs] == [0, 0, 0]


def test_failing_jobs_land_in_failed_with_their_error(box: Box) -> None:
    box.drop("bad-config.md", job_text("x", model="nope:x"))
    box.drop("boom.md", job_text("explode"))
    box.drop("fine.md", job_text("fine"))
    factory = box.model_factory

    def exploding(job: JobSpec) -> Model | None:
        if job.prompt != "explode":
            return factory(job)

        def fail(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            raise RuntimeError("the model exploded")

        async def fail_stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
            raise RuntimeError("the model exploded")
            yield ""

        return FunctionModel(fail, stream_function=fail_stream)

    box.model_factory = exploding  # type: ignore[method-assign]
    report = box.run_once()

    assert list(box.entries("done")) == ["fine"]
    failed = box.entries("failed")
    assert list(failed) == ["bad-config", "boom"]
    config = result_of(failed["bad-config"])
    assert (config["status"], config["terminal_reason"], config["exit_code"]) == ("failed", "config_error", 2)
    error = (failed["bad-config"] / "error.txt").read_text()
    assert "unknown model provider 'nope'" in error and str(box.inbox / "bad-config.md") in error
    assert [e["type"] for e in events_of(failed["bad-config"])] == ["run.completed"]
    assert not (failed["bad-config"] / "session_id").exists()
    boom = result_of(failed["boom"])
    assert (boom["status"], boom["exit_code"]) == ("failed", 1)
    assert "the model exploded" in (failed["boom"] / "error.txt").read_text()
    assert events_of(failed["boom"])[-1]["type"] == "run.completed"
    assert sorted((job.name, job.exit_code) for job in report.failed) == [("bad-config.md", 2), ("boom.md", 1)]


def _wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_burst_of_20_dropped_files_runs_each_exactly_once(box: Box) -> None:
    watcher = box.watcher(concurrency=4, settle=0.5)
    names = [f"burst-{i:02d}.md" for i in range(20)]
    texts = {name: job_text(f"prompt of {name} " + "z" * 200) for name in names}
    slow = set(names[::4])  # 5 files written in place in 4 chunks, 0.15 s apart

    def write_all() -> None:
        writers = [
            threading.Thread(target=box.write_slowly, args=(name, texts[name])) for name in names if name in slow
        ]
        for thread in writers:
            thread.start()
        for name in names:
            if name not in slow:
                box.drop(name, texts[name])
        for thread in writers:
            thread.join()

    async def main() -> None:
        task = asyncio.create_task(watcher.run())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(write_all)
        await asyncio.to_thread(_wait, lambda: len(box.entries("done")) == 20)
        watcher.stop("SIGTERM")
        await task

    asyncio.run(main())
    done = box.entries("done")
    assert sorted(done) == sorted(name.removesuffix(".md") for name in names)
    assert sorted(box.prompts) == sorted(f"prompt of {name} " + "z" * 200 for name in names)
    for name in names:
        entry = done[name.removesuffix(".md")]
        assert (entry / name).read_text() == texts[name]
        assert [e["type"] for e in events_of(entry)].count("session.started") == 1
    assert box.entries("failed") == {}
    assert sorted(p.name for p in box.inbox.glob("*.md")) == []


def test_processing_leftovers_are_recovered_and_never_re_run(box: Box) -> None:
    layout = WatchLayout(box.inbox)
    layout.ensure()
    processing = box.inbox / "processing"
    # cut off mid-run: the job file and part of its event log
    (processing / "cut").mkdir()
    (processing / "cut" / "cut.md").write_text(job_text("cut"))
    (processing / "cut" / "events.jsonl").write_text('{"seq": 0, "type": "session.started", "session_id": "s-cut"}\n')
    # finished, not yet committed
    (processing / "ended").mkdir()
    (processing / "ended" / "ended.md").write_text(job_text("ended"))
    (processing / "ended" / "result.json").write_text('{"status": "completed", "exit_code": 0}\n')
    # a claim cut short before its rename: the job is still in the inbox
    (processing / "claimed").mkdir()
    box.drop("claimed.md", job_text("claimed"))
    # a cross-filesystem commit that got as far as the target
    (processing / "moved").mkdir()
    (box.inbox / "done" / "moved").mkdir()
    (processing / "moved" / ".commit-to").write_text(str(box.inbox / "done" / "moved"))

    report = box.run_once()

    assert sorted((r.name, r.action) for r in report.recovered) == [
        ("claimed", "removed"),
        ("cut", "interrupted"),
        ("ended", "committed"),
        ("moved", "committed"),
    ]
    assert list((box.inbox / "processing").iterdir()) == []
    cut = box.entries("failed")["cut"]
    result = result_of(cut)
    assert (result["status"], result["terminal_reason"], result["session_id"]) == ("failed", "interrupted", "s-cut")
    assert "not re-run" in (cut / "error.txt").read_text()
    assert (cut / "session_id").read_text().strip() == "s-cut"
    assert sorted(box.entries("done")) == ["claimed", "ended", "moved"]
    assert box.prompts == ["claimed"]  # only the job still in the inbox ran

    again = box.run_once()
    assert (again.recovered, again.jobs) == ([], [])
    assert box.prompts == ["claimed"]


def test_stop_cancels_running_jobs_with_a_terminal_event(box: Box) -> None:
    started = threading.Event()

    async def hang(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        started.set()
        await asyncio.sleep(60)
        yield "not cancelled"

    box.model_factory = lambda job: FunctionModel(stream_function=hang)  # type: ignore[method-assign]
    box.drop("long.md", job_text("long"))
    box.drop("later.md", job_text("later"))
    watcher = box.watcher(concurrency=1)

    async def main() -> None:
        task = asyncio.create_task(watcher.run())
        await asyncio.to_thread(_wait, started.is_set)
        watcher.stop("SIGTERM")
        await asyncio.wait_for(task, 15)

    asyncio.run(main())
    failed = box.entries("failed")
    assert len(failed) == 1
    (entry,) = failed.values()
    result = result_of(entry)
    assert (result["terminal_reason"], result["exit_code"]) == ("terminated", 143)
    assert events_of(entry)[-1]["type"] == "run.completed"
    waiting = {p.name for p in box.inbox.glob("*.md")}
    assert len(waiting) == 1 and waiting < {"long.md", "later.md"}  # never claimed: runs after a restart
    assert watcher.report.stopped_by == "SIGTERM"


def test_one_watcher_per_inbox(box: Box) -> None:
    layout = WatchLayout(box.inbox)
    with layout.locked(), pytest.raises(ConfigError, match="already watched by pid"):
        box.run_once()


def test_done_and_failed_dirs_can_live_elsewhere(box: Box, tmp_path: Path) -> None:
    box.drop("ok.md", job_text("ok"))
    box.drop("bad.md", job_text("x", model="nope:x"))
    box.run_once(done_dir=tmp_path / "out" / "done", failed_dir=tmp_path / "out" / "failed")
    assert [p.name for p in (tmp_path / "out" / "done").iterdir()] == ["ok"]
    assert [p.name for p in (tmp_path / "out" / "failed").iterdir()] == ["bad"]


def test_settle_tracker_waits_for_a_file_to_stop_changing(tmp_path: Path) -> None:
    from tau.watch.settle import SettleTracker

    now = [100.0]
    wall = [1_000_000.0]
    tracker = SettleTracker(0.5, clock=lambda: now[0], wall=lambda: wall[0])
    old, fresh = tmp_path / "old.md", tmp_path / "fresh.md"
    old.write_text("old")
    fresh.write_text("a")
    os.utime(old, (wall[0] - 60, wall[0] - 60))
    os.utime(fresh, (wall[0], wall[0]))
    assert tracker.observe([old, fresh]) == [old]  # modified a minute ago: ready at once
    assert tracker.next_ready_in() == 0.5
    now[0] += 0.4
    with fresh.open("a") as handle:
        handle.write("b")  # still growing: its clock restarts
    os.utime(fresh, (wall[0] + 0.4, wall[0] + 0.4))
    wall[0] += 0.4
    assert tracker.observe([old, fresh]) == [old]
    now[0] += 0.5
    assert tracker.observe([old, fresh]) == [old, fresh]
    assert tracker.next_ready_in() is None
    assert tracker.observe([fresh]) == [fresh]  # gone files are forgotten
