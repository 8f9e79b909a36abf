"""`tau serve` as a real subprocess: SIGTERM while a run is blocked in a tool drains it.

The subprocess cannot take a scripted model, so the run replays a cassette recorded here in-process (a scripted model
asking for `bash sleep 30`, recorded with a short timeout so that recording does not wait 30 s). The server reports its
bound port on stderr (`--port 0`). Expected: the client's stream ends with Error(terminated), Status(CANCELLED) and
Final(terminated, 143), and the process exits promptly by the SIGTERM uvicorn re-raises after draining (returncode
-15, i.e. 143 in a shell; systemd counts it as a clean stop).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.rpc.jobs import build_session_job
from tau.sessions import FileSessionStore
from tau.testing import calls, reply, scripted_model

PROMPT = "Sleep for a while."
PERMISSIONS = pb.Permissions(mode="acceptEdits", allow=["Bash(sleep *)"])
_SCRIPT = Path(sys.executable).with_name("tau")
TAU = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tau"]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def hermetic_env(root: Path) -> dict[str, str]:
    home = root / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def record_sleep_cassette(workspace: Path, env: dict[str, str], cassette: Path) -> None:
    """Record what the server's run will ask: one `bash sleep 30` call (the recording run times out in the tool)."""
    from tau.models.cassette import RecordingModel
    from tau.runtime import prepare_run

    request = pb.CreateSessionRequest(model="test:scripted", permissions=PERMISSIONS)
    session_job = build_session_job(request, env=env, cwd=workspace)
    job = session_job.for_run(PROMPT, session_id="recording")
    job = job.model_copy(update={"limits": job.limits.model_copy(update={"timeout": 0.5})})
    model, _ = scripted_model([calls(("bash", {"command": "sleep 30"}), text="Sleeping."), reply("Awake.")])
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)

    async def main() -> None:
        driver = await prepare_run(job, model=recording)
        try:
            completed = await driver.run()
        finally:
            await driver.close()
        assert completed.terminal_reason == "timeout", completed

    asyncio.run(main())


def launch_server(workspace: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`tau serve --port 0` in `workspace`; returns the process once it reports its URL."""
    process = subprocess.Popen(
        [*TAU, "serve", "--port", "0"],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url, seen = None, []
    deadline = time.monotonic() + 30
    while url is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        assert line, f"tau serve exited early with {process.wait(5)}: {''.join(seen)}"
        match = LISTENING.search(line)
        url = match.group(1) if match else None
    assert url is not None, "tau serve did not report its port"
    return process, url


@pytest.fixture
def served_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = hermetic_env(tmp_path)
    cassette = tmp_path / "sleep.json"
    record_sleep_cassette(workspace, env, cassette)
    process, url = launch_server(workspace, env)
    try:
        yield process, url, cassette
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def start_sleeping_run(
    client: RuntimeServiceClientSync, cassette: Path
) -> tuple[str, list[pb.RunResponse], list[BaseException], threading.Thread]:
    """Create a session and start its run in a thread; return once the run has called `bash sleep 30`."""
    created = client.create_session(pb.CreateSessionRequest(model=f"replay:{cassette}", permissions=PERMISSIONS))
    events: list[pb.RunResponse] = []
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            events.extend(client.run(pb.RunRequest(session_id=created.session_id, prompt=PROMPT)))
        except BaseException as error:
            failure.append(error)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not any(e.HasField("tool_call") for e in events):
        assert time.monotonic() < deadline and not failure, (failure, [e.WhichOneof("event") for e in events])
        time.sleep(0.02)
    return created.session_id, events, failure, reader


def test_sigterm_ends_the_running_stream_with_a_terminal_event_and_exits(
    served_process: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, url, cassette = served_process
    with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
        session_id, events, failure, reader = start_sleeping_run(client, cassette)
        time.sleep(0.3)  # the bash tool is now sleeping
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        reader.join(20)
        assert not reader.is_alive(), "the stream did not end after SIGTERM"
    assert not failure, failure
    code = process.wait(20)
    elapsed = time.monotonic() - signalled
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-3:] == ["error", "status", "final"], kinds
    assert events[-3].error.code == "terminated"
    assert events[-2].status.status == pb.SESSION_STATUS_CANCELLED
    final = events[-1].final
    assert (final.status, final.terminal_reason, final.exit_code) == ("failed", "terminated", 143)
    assert final.session_status == pb.SESSION_STATUS_CANCELLED
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # uvicorn re-raises the SIGTERM after the drain: the process dies of it, or (when tau's own early SIGTERM
    # handler is the one re-raised) exits 143, the terminal event's code
    assert code in (-signal.SIGTERM, 143), code
    assert elapsed < 10, f"shutdown took {elapsed:.1f}s"
    # the session persisted to the same default store as `tau run` ($HOME/.local/state/tau here), committed and closed
    store = FileSessionStore(cassette.parent / "home" / ".local" / "state" / "tau")
    log = asyncio.run(store.log(session_id))
    assert log[-1].status == "terminated" and log[-1].id == final_snapshot(events)


def test_a_killed_server_loses_no_session_and_ends_the_cut_run_on_restart(
    served_process: tuple[subprocess.Popen[str], str, Path], tmp_path: Path
) -> None:
    """SIGKILL mid-run: no drain, no terminal event. The next `tau serve` on the same state dir lists the session,
    replays the events the first server streamed, and ends the cut run with Error, Status(CANCELLED) and
    Final(interrupted) after them, with the same seq numbering."""
    process, url, cassette = served_process
    with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
        session_id, events, _, reader = start_sleeping_run(client, cassette)
        process.kill()
        process.wait(10)
        reader.join(20)
    seen = list(events)  # what the client got before the connection died
    restarted, url = launch_server(tmp_path / "ws", hermetic_env(tmp_path))
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
            listed = client.list_sessions(pb.ListSessionsRequest()).sessions
            assert [s.session_id for s in listed] == [session_id]
            state = listed[0]
            assert (state.status, state.terminal_reason, state.runs) == (
                pb.SESSION_STATUS_CANCELLED, "interrupted", 1,
            )  # fmt: skip
            replayed = list(client.stream_events(pb.StreamEventsRequest(session_id=session_id)))
    finally:
        restarted.kill()
        restarted.wait(10)
    assert [pb.RunResponse.FromString(e.SerializeToString()) for e in replayed[: len(seen)]] == seen
    assert [e.seq for e in replayed] == list(range(1, len(replayed) + 1)) and state.last_seq == replayed[-1].seq
    kinds = [e.WhichOneof("event") for e in replayed]
    assert "tool_call" in kinds and kinds[-3:] == ["error", "status", "final"], kinds
    assert "tau serve stopped before this run ended" in replayed[-3].error.message
    final = replayed[-1].final
    assert (final.terminal_reason, final.exit_code, final.session_status) == (
        "interrupted", 130, pb.SESSION_STATUS_CANCELLED,
    )  # fmt: skip
    # the store holds every step the killed server committed; the head is what GetSession reports
    store = FileSessionStore(tmp_path / "home" / ".local" / "state" / "tau")
    committed = [e.started.snapshot_id if e.HasField("started") else e.snapshot.snapshot_id for e in seen]
    assert store.head(session_id) == state.head_snapshot_id == [c for c in committed if c][-1]


def final_snapshot(events: list[pb.RunResponse]) -> str:
    return [e.snapshot.snapshot_id for e in events if e.HasField("snapshot")][-1]
