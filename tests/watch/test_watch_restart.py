"""`tau watch` as a subprocess killed with SIGKILL mid-way, then started again.

The long job replays a cassette recorded here in-process (a scripted model asking for `bash sleep 30`; recorded with a
short timeout), so it is reliably mid-tool when the watcher dies. Quick jobs use pydantic-ai's TestModel (`test:x`).
After the restart (`--once`): finished jobs are not re-run (their done/ entries are untouched, no duplicates), the
half-run job goes to failed/ as `interrupted` (the documented at-most-once choice), and a job dropped while the
watcher was down runs. A graceful SIGTERM is covered too: running jobs end with `terminated` and the watcher exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watch_helpers import Box, events_of, job_text, result_of

from tau.config import load_job
from tau.testing import calls, reply, scripted_model

# `tau watch` once the lead registers it in tau/cli/main.py; the command object itself until then.
WATCH = [sys.executable, "-c", "from tau.cli.watch_cmd import watch_command; watch_command()"]
SLOW_EXTRA = "permissions:\n  allow:\n    - Bash(sleep *)\n"


def slow_job(cassette: Path) -> str:
    return job_text("Sleep for a while.", model=f"replay:{cassette}", extra=SLOW_EXTRA)


def record_sleep(box: Box, job_file: Path, cassette: Path) -> None:
    from tau.models.cassette import RecordingModel
    from tau.runtime import prepare_run

    job = load_job(job_path=str(job_file), flags={"model": "test:scripted"}, env=box.env, cwd=box.workspace)
    job = job.model_copy(update={"limits": job.limits.model_copy(update={"timeout": 0.5})})
    model, _ = scripted_model([calls(("bash", {"command": "sleep 30"})), reply("Awake.")])
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)

    async def main() -> None:
        driver = await prepare_run(job, model=recording)
        try:
            assert (await driver.run()).terminal_reason == "timeout"
        finally:
            await driver.close()

    asyncio.run(main())


@pytest.fixture
def cassette(box: Box) -> Path:
    path = box.root / "sleep.json"
    scratch = box.root / "slow.md"
    scratch.write_text(slow_job(path))
    record_sleep(box, scratch, path)
    scratch.unlink()
    return path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def start_watch(box: Box, processes: list[subprocess.Popen[bytes]], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*WATCH, str(box.inbox), "--settle", "0.2", *args],
        cwd=box.workspace,
        env=box.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches the sleeping tool too
    )
    processes.append(process)
    return process


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sleeping(entry: Path) -> bool:
    try:
        return any(e["type"] == "tool.started" for e in events_of(entry))
    except (OSError, ValueError):
        return False


def test_restart_after_sigkill_never_re_runs_a_finished_job(
    box: Box, cassette: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    for name in ("q1", "q2", "q3"):
        box.drop(f"{name}.md", job_text(f"quick {name}"))
    box.drop("slow.md", slow_job(cassette))
    first = start_watch(box, processes, "--concurrency", "4")
    wait_until(
        lambda: sorted(box.entries("done")) == ["q1", "q2", "q3"] and sleeping(box.inbox / "processing" / "slow")
    )
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    finished = {name: (entry / "events.jsonl").read_bytes() for name, entry in box.entries("done").items()}

    box.drop("q4.md", job_text("quick q4"))
    second = start_watch(box, processes, "--once")
    assert second.wait(60) == 1, second.stderr.read() if second.stderr else ""  # a job failed (interrupted)
    stderr = second.stderr.read().decode() if second.stderr else ""

    done = box.entries("done")
    assert sorted(done) == ["q1", "q2", "q3", "q4"]
    assert {name: (done[name] / "events.jsonl").read_bytes() for name in finished} == finished
    assert result_of(done["q4"])["result"] == "success (no tool calls)"
    failed = box.entries("failed")
    assert list(failed) == ["slow"]
    result = result_of(failed["slow"])
    assert (result["status"], result["terminal_reason"]) == ("failed", "interrupted")
    assert result["session_id"] == events_of(failed["slow"])[0]["session_id"] != ""
    assert "not re-run" in (failed["slow"] / "error.txt").read_text()
    assert "recovered slow: interrupted" in stderr
    assert list((box.inbox / "processing").iterdir()) == []


def test_sigterm_cancels_running_jobs_and_exits_zero(
    box: Box, cassette: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    box.drop("slow.md", slow_job(cassette))
    watcher = start_watch(box, processes)
    wait_until(lambda: sleeping(box.inbox / "processing" / "slow"))
    signalled = time.monotonic()
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(20) == 0
    assert time.monotonic() - signalled < 10
    entry = box.entries("failed")["slow"]
    result = result_of(entry)
    assert (result["terminal_reason"], result["exit_code"]) == ("terminated", 143)
    events = events_of(entry)
    assert events[-1]["type"] == "run.completed" and events[-1]["terminal_reason"] == "terminated"
