"""Steering: the inbox (atomic posts, ordered exactly-once consumption, stop requests), the watcher (watchfiles
wake-ups and the polling fallback), `tau inject` / `tau stop`, a real driver steered in-process, and a run in a
second process steered through the CLI commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result
from controlsupport import make_job, user_prompts
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo

from tau.cli.main import _TauGroup
from tau.cli.steer_cmd import inject_command, stop_command
from tau.config.spec import PermissionsSpec
from tau.errors import ConfigError
from tau.protocol import Event
from tau.runtime import prepare_run
from tau.runtime.features import steering
from tau.runtime.features.steering import (
    STOPPED,
    discard_stops,
    drain_inbox,
    inbox_dir,
    inject_message,
    is_running,
    pending_requests,
    post_message,
    post_stop,
    request_stop,
    steered,
    watch_inbox,
)
from tau.sessions import FileSessionStore, SessionNotFoundError
from tau.testing import Turn, calls, reply, scripted_model

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
BYPASS = PermissionsSpec(mode="bypassPermissions")  # the scripted bash loops are not analysable shell


# -- the inbox ------------------------------------------------------------------------------------------------


def test_posts_are_atomic_and_drained_in_order(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "s"
    for text in ("one", "two", "three"):
        post_message(inbox, text)
    (inbox / ".tmp-partial").write_text("half a messa")  # a writer mid-post: never read
    got: list[str] = []
    assert drain_inbox(inbox, got.append) is None
    assert got == ["one", "two", "three"]
    assert pending_requests(inbox) == []
    assert sorted(p.name for p in inbox.iterdir()) == [".tmp-partial"]
    assert drain_inbox(inbox, got.append) is None
    assert got == ["one", "two", "three"]  # consumed once


def test_a_stop_request_leaves_later_messages_queued(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    post_message(inbox, "before")
    post_stop(inbox, "enough")
    post_message(inbox, "after")
    got: list[str] = []
    assert drain_inbox(inbox, got.append) == "stop"
    assert got == ["before"]
    assert [p.suffix for p in pending_requests(inbox)] == [".msg"]
    post_stop(inbox)
    assert discard_stops(inbox) == 1
    assert drain_inbox(inbox, got.append) is None
    assert got == ["before", "after"]


def test_two_consumers_deliver_each_message_exactly_once(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    for n in range(300):
        post_message(inbox, str(n))
    got: list[list[str]] = [[], []]
    threads = [threading.Thread(target=drain_inbox, args=(inbox, got[i].append)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = got[0] + got[1]
    assert sorted(delivered, key=int) == [str(n) for n in range(300)]
    for mine in got:
        assert mine == sorted(mine, key=int)  # each consumer saw them in order


@pytest.mark.parametrize("use_watchfiles", [True, False])
async def test_watch_delivers_queued_and_new_messages_then_stops(
    tmp_path: Path, use_watchfiles: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "in"
    post_stop(inbox)  # stale: from before this run
    post_message(inbox, "queued")
    got: list[str] = []
    stopped = asyncio.Event()
    done = asyncio.Event()
    # with watchfiles, rescans every 30 s and wakes every 60 s: only watchfiles' change events can meet the deadlines
    poll = 30.0 if use_watchfiles else 0.05
    monkeypatch.setattr(steering, "_WATCH_RESCAN_MS", 60_000)
    task = asyncio.create_task(
        watch_inbox(inbox, got.append, stopped.set, done, poll_interval=poll, use_watchfiles=use_watchfiles)
    )
    await _until(lambda: got == ["queued"])
    for n in range(100):  # the watch starts in the background: probe until it reports a change
        post_message(inbox, f"probe {n}")
        with contextlib.suppress(AssertionError):
            await _until(lambda: got[-1].startswith("probe"), timeout=0.2)
            break
    assert got[-1].startswith("probe"), "the watch never delivered a message"
    started = time.monotonic()
    post_message(inbox, "live 1")
    post_message(inbox, "live 2")
    await _until(lambda: got[-2:] == ["live 1", "live 2"])
    assert time.monotonic() - started < 5
    assert not stopped.is_set()
    post_stop(inbox, "bye")
    await asyncio.wait_for(task, 5)
    assert stopped.is_set()
    assert [m for m in got if not m.startswith("probe")] == ["queued", "live 1", "live 2"]


async def test_watch_ends_promptly_on_its_stop_event(tmp_path: Path) -> None:
    done = asyncio.Event()
    task = asyncio.create_task(watch_inbox(tmp_path / "in", print, lambda: None, done, poll_interval=60))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    done.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 3


async def _until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


# -- senders and the CLI --------------------------------------------------------------------------------------


async def open_session(state: Path, session_id: str) -> FileSessionStore:
    store = FileSessionStore(state)
    await store.begin(session_id, {"prompt": "x"})
    return store


async def test_inject_and_stop_know_whether_the_session_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    runner = await open_session(state, "sess-a")  # holds the lock: "running"
    store = FileSessionStore(state)
    assert await is_running(store, "sess-a")
    posted = await inject_message(store, "sess-", "hello")  # a unique prefix names the session
    assert (posted.session_id, posted.running) == ("sess-a", True)
    assert posted.path is not None and posted.path.read_text() == "hello"
    stop = await request_stop(store, "sess-a")
    assert stop.running and stop.path is not None and stop.path.suffix == ".stop"
    await runner.close("sess-a")
    assert not await is_running(store, "sess-a")
    queued = await inject_message(store, "sess-a", "later")
    assert not queued.running and queued.path is not None
    assert await request_stop(store, "sess-a") == type(stop)("sess-a", False, None)
    with pytest.raises(SessionNotFoundError):
        await inject_message(store, "nope", "x")
    with pytest.raises(ConfigError, match="empty"):
        await inject_message(store, "sess-a", "  ")


def cli() -> _TauGroup:
    group = _TauGroup(commands=[inject_command, stop_command])
    return group


async def invoke(runner: CliRunner, args: list[str], **options: Any) -> Result:
    """`tau inject`/`tau stop` as from a shell: in a thread of their own (each runs its own event loop)."""
    return await anyio.to_thread.run_sync(lambda: runner.invoke(cli(), args, **options))


async def test_cli_commands(tmp_path: Path) -> None:
    state = tmp_path / "state"
    runner = CliRunner()
    unknown = await invoke(runner, ["inject", "ghost", "hi", "--state-dir", str(state)])
    assert unknown.exit_code == 2
    assert "ghost" in unknown.stderr
    store = await open_session(state, "sess-b")
    await store.close("sess-b")
    queued = await invoke(runner, ["inject", "sess-b", "-", "--state-dir", str(state)], input="from stdin\n")
    assert queued.exit_code == 0, queued.stderr
    assert "not running; the message stays queued" in queued.stderr
    assert [p.read_text() for p in pending_requests(inbox_dir(state, "sess-b"))] == ["from stdin\n"]
    idle = await invoke(runner, ["stop", "sess-b", "--state-dir", str(state)])
    assert (idle.exit_code, "not running; nothing to stop" in idle.stderr) == (0, True)
    assert len(pending_requests(inbox_dir(state, "sess-b"))) == 1  # no stop request left behind

    running = await open_session(state, "sess-c")
    try:
        live = await invoke(runner, ["inject", "sess-c", "steer left", "--state-dir", str(state)])
        assert "queued for running session sess-c" in live.stderr
        waited = await invoke(runner, ["stop", "sess-c", "--wait", "0.3", "--state-dir", str(state)])
        assert waited.exit_code == 124  # nobody watches this inbox: still running after the bound
    finally:
        await running.close("sess-c")
    assert [p.suffix for p in pending_requests(inbox_dir(state, "sess-c"))] == [".msg", ".stop"]


# -- a real driver, steered in-process ------------------------------------------------------------------------


async def test_injected_text_reaches_the_next_request(tmp_path: Path) -> None:
    state, workspace = tmp_path / "state", tmp_path / "ws"
    workspace.mkdir()
    inbox = inbox_dir(state, "run-1")

    def first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        path = post_message(inbox, "also update the README")
        wait = f"for i in $(seq 200); do [ -e {path} ] || exit 0; sleep 0.05; done; exit 1"
        return calls(("bash", {"command": wait}))

    model, script = scripted_model([first, reply("done")])
    driver = await prepare_run(
        make_job(workspace, permissions=BYPASS, session_id="run-1"), model=model, store=FileSessionStore(state)
    )
    try:
        async with steered(inbox, inject=driver.inject, cancel=driver.cancel):
            completed = await driver.run()
    finally:
        await driver.close()
    assert completed.exit_code == 0
    assert user_prompts(script.requests[0]) == ["do the task"]
    assert user_prompts(script.requests[1]) == ["do the task", "also update the README"]


async def test_a_message_injected_during_the_final_answer_is_not_lost(tmp_path: Path) -> None:
    holder: dict[str, Any] = {}

    def final(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        holder["driver"].inject("one more thing")
        return reply("done")

    model, script = scripted_model([final, reply("did the one more thing")])
    driver = await prepare_run(make_job(tmp_path), model=model)
    holder["driver"] = driver
    try:
        completed = await driver.run()
    finally:
        await driver.close()
    assert completed.result == "did the one more thing"
    assert user_prompts(script.requests[1])[-1] == "one more thing"


async def test_stop_request_ends_the_run_with_exit_130(tmp_path: Path) -> None:
    state, workspace = tmp_path / "state", tmp_path / "ws"
    workspace.mkdir()
    inbox = inbox_dir(state, "run-2")

    def first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        post_stop(inbox, "operator")
        return calls(("bash", {"command": "sleep 20"}))

    model, _ = scripted_model([first, reply("never")])
    events: list[Event] = []
    store = FileSessionStore(state)
    driver = await prepare_run(
        make_job(workspace, permissions=BYPASS, session_id="run-2"), sinks=[events.append], model=model, store=store
    )
    started = time.monotonic()
    try:
        async with steered(inbox, inject=driver.inject, cancel=driver.cancel):
            completed = await driver.run()
    finally:
        await driver.close()
    assert time.monotonic() - started < 10
    assert (completed.status, completed.terminal_reason, completed.exit_code) == ("failed", "interrupted", 130)
    assert completed.error == STOPPED
    assert events[-1] == completed
    assert events[-2].type == "snapshot.created"
    assert store.refs.read("run-2") == events[-2].snapshot_id


# -- two processes ---------------------------------------------------------------------------------------------


def start_runner(tmp_path: Path, session_id: str, mode: str) -> tuple[subprocess.Popen[str], Path]:
    state, workspace = tmp_path / "state", tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "steer_runner.py"), str(state), str(workspace), session_id, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: the runner's scripted bash steps end by themselves
    assert line.strip() == "READY", proc.stderr.read() if proc.stderr else ""
    return proc, state


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_inject_from_a_second_process(tmp_path: Path) -> None:
    proc, state = start_runner(tmp_path, "two-1", "inject")
    try:
        sent = CliRunner().invoke(cli(), ["inject", "two-1", "use tabs, not spaces", "--state-dir", str(state)])
        assert sent.exit_code == 0, sent.stderr
        assert "queued for running session two-1" in sent.stderr
        result = finish(proc)
    finally:
        proc.kill()
    assert result["completed"]["exit_code"] == 0
    assert result["prompts"] == ["do the task", "use tabs, not spaces"]


def test_stop_from_a_second_process(tmp_path: Path) -> None:
    proc, state = start_runner(tmp_path, "two-2", "stop")
    try:
        started = time.monotonic()
        stopped = CliRunner().invoke(cli(), ["stop", "two-2", "--wait", "20", "--state-dir", str(state)])
        assert stopped.exit_code == 0, stopped.stderr
        assert "session two-2 stopped" in stopped.stderr
        assert time.monotonic() - started < 15  # the runner's bash step sleeps 20 s
        result = finish(proc)
    finally:
        proc.kill()
    completed = result["completed"]
    assert (completed["terminal_reason"], completed["exit_code"], completed["error"]) == ("interrupted", 130, STOPPED)
    store = FileSessionStore(state)
    assert store.refs.read("two-2") is not None
    assert not asyncio.run(is_running(store, "two-2"))
