"""`tau run/resume/fork` and `tau sessions …` as subprocesses in a hermetic sandbox (HOME, XDG, TAU_STATE_DIR in tmp).

Runs without tools use `-m test:x`; the suspend scenario replays cassettes recorded in-process with a scripted model
(`RecordingModel`), one per run (the suspending run, then the resumed one).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anyio
import pytest
from sessions_cli_helpers import Box, make_box, make_job, resume, run_in_process

from tau.sessions import FileSessionStore
from tau.testing import calls, reply


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return make_box(tmp_path)


def stream(result: object) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]  # type: ignore[attr-defined]


def test_run_is_listed_logged_and_shown(box: Box) -> None:
    ran = box.tau("run", "-p", "Say hi.", "-m", "test:x", "--session-id", "one", "-o", "stream-json")
    assert ran.returncode == 0, ran.stderr
    first = stream(ran)[0]
    assert first["type"] == "session.started" and first["session_id"] == "one" and first["snapshot_id"]
    assert (box.state / "refs" / "sessions" / "one").is_file()

    listed = box.tau("sessions", "ls", "--json")
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["id"], row["status"], row["model"], row["title"], row["turns"]) == (
        "one",
        "completed",
        "test:x",
        "Say hi.",
        1,
    )
    assert row["tokens"] > 0
    assert "one" in box.tau("sessions", "ls").stdout
    assert box.tau("sessions", "ls", "--status", "suspended", "--json").stdout == ""

    log = box.tau("sessions", "log", "one").stdout.splitlines()
    assert len(log) == 2 and "step 0" in log[0] and "completed" in log[1] and "tok" in log[1]
    shown = box.tau("sessions", "show", "one")
    assert "user: Say hi." in shown.stdout and "assistant:" in shown.stdout
    assert box.tau("sessions", "fsck").returncode == 0


def test_existing_session_id_is_exit_2(box: Box) -> None:
    assert box.tau("run", "-p", "x", "-m", "test:x", "--session-id", "dup").returncode == 0
    again = box.tau("run", "-p", "x", "-m", "test:x", "--session-id", "dup")
    assert again.returncode == 2
    assert again.stderr.startswith("tau: ") and "already exists" in again.stderr and len(again.stderr.splitlines()) == 1


def test_resume_appends_and_fork_from_a_middle_snapshot(box: Box) -> None:
    assert box.tau("run", "-p", "First.", "-m", "test:x", "--session-id", "s").returncode == 0
    middle = box.tau("sessions", "log", "s").stdout.splitlines()[-1].split()[0]
    resumed = box.tau("resume", "s", "-p", "Second.", "-o", "stream-json")
    assert resumed.returncode == 0, resumed.stderr
    lines = stream(resumed)
    assert lines[0]["session_id"] == "s" and lines[-1]["session_id"] == "s"
    shown = box.tau("sessions", "show", "s").stdout
    assert shown.index("user: First.") < shown.index("user: Second.")
    assert len(box.tau("sessions", "log", "s").stdout.splitlines()) == 3

    nothing = box.tau("resume", "s")
    assert nothing.returncode == 2 and "not waiting" in nothing.stderr

    forked = box.tau("fork", middle, "-p", "Other path.", "--session-id", "f", "-o", "json")
    assert forked.returncode == 0, forked.stderr
    assert json.loads(forked.stdout)["session_id"] == "f"
    fork_view = box.tau("sessions", "show", "f").stdout
    assert "user: First." in fork_view and "user: Other path." in fork_view and "Second." not in fork_view
    diff = box.tau("sessions", "diff", "s", "f").stdout
    assert "- user: Second." in diff and "+ user: Other path." in diff and "workspace: not pinned" in diff
    ls = [json.loads(line) for line in box.tau("sessions", "ls", "--json").stdout.splitlines()]
    assert {row["id"]: row["parent"] for row in ls}["f"].startswith(middle)
    assert box.tau("sessions", "fsck").returncode == 0


def test_export_import_resume_elsewhere(box: Box, tmp_path: Path) -> None:
    assert box.tau("run", "-p", "Ship me.", "-m", "test:x", "--session-id", "ci").returncode == 0
    bundle = tmp_path / "bundle.tar.gz"
    assert box.tau("sessions", "export", "ci", str(bundle)).returncode == 0
    other = str(tmp_path / "laptop-state")
    imported = box.tau("sessions", "import", str(bundle), "--state-dir", other)
    assert imported.returncode == 0 and "imported ci" in imported.stdout
    again = box.tau("resume", "ci", "-p", "Continue here.", "--state-dir", other, "-o", "json")
    assert again.returncode == 0, again.stderr
    assert len(box.tau("sessions", "log", "ci", "--state-dir", other).stdout.splitlines()) == 3
    assert len(box.tau("sessions", "log", "ci").stdout.splitlines()) == 2  # the original store is untouched
    assert box.tau("sessions", "fsck", "--state-dir", other).returncode == 0


def test_concurrent_resume_gets_the_lock_error(box: Box) -> None:
    assert box.tau("run", "-p", "x", "-m", "test:x", "--session-id", "busy").returncode == 0

    async def hold_and_try() -> tuple[int, str]:
        store = FileSessionStore(box.state)
        await store.resume("busy")  # this process holds the session's write lock
        try:
            result = await anyio.to_thread.run_sync(lambda: box.tau("resume", "busy", "-p", "y"))
        finally:
            await store.close("busy")
        return result.returncode, result.stderr

    code, err = anyio.run(hold_and_try)
    assert code == 1
    assert err.startswith("tau: ") and "locked" in err and len(err.splitlines()) == 1


def test_unknown_and_damaged(box: Box) -> None:
    missing = box.tau("sessions", "show", "nope")
    assert missing.returncode == 2 and missing.stderr.startswith("tau: ")
    assert box.tau("run", "-p", "x", "-m", "test:x", "--session-id", "d").returncode == 0
    head = (box.state / "refs" / "sessions" / "d").read_text().strip()
    victim = box.state / "objects" / head[:2] / head[2:]
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-3])
    fsck = box.tau("sessions", "fsck")
    assert fsck.returncode == 1 and str(victim) in fsck.stdout
    broken = box.tau("resume", "d", "-p", "more")
    assert broken.returncode == 1 and broken.stderr.startswith("tau: ") and "Traceback" not in broken.stderr


def test_suspend_then_approve_through_the_cli(box: Box, tmp_path: Path) -> None:
    """`--on-ask suspend`: the model's write needs approval -> exit 4; `resume --approve` -> the write happens."""
    first, second = tmp_path / "suspend.json", tmp_path / "approve.json"
    scratch = tmp_path / "scratch-state"
    job = make_job(box.work, prompt="Write a.txt.", model=make_job(box.work).model)

    async def record() -> None:
        await run_in_process(
            job, [calls(("write", {"file_path": "a.txt", "content": "A"}))], scratch, session_id="r", record=first
        )
        await run_in_process(
            job,
            [reply("Wrote a.txt.")],
            scratch,
            session_id="r",
            continuation=resume(approve=("call_1_0",)),
            record=second,
        )

    anyio.run(record)
    (box.work / "a.txt").unlink()

    ran = box.tau(
        "run",
        "-p",
        "Write a.txt.",
        "--on-ask",
        "suspend",
        "-m",
        f"replay:{first}",
        "--session-id",
        "w",
        "-o",
        "stream-json",
    )
    assert ran.returncode == 4, ran.stderr
    lines = stream(ran)
    assert lines[-1]["type"] == "run.completed" and lines[-1]["status"] == "suspended"
    assert lines[-1]["terminal_reason"] == "needs_input" and lines[-1]["exit_code"] == 4
    [request] = [line for line in lines if line["type"] == "approval.requested"]
    assert (request["call_id"], request["tool"]) == ("call_1_0", "write")
    assert not (box.work / "a.txt").exists()
    assert json.loads(box.tau("sessions", "ls", "--json").stdout)["status"] == "suspended"
    assert "pending approval: call_1_0 write" in box.tau("sessions", "show", "w").stdout

    text = box.tau("run", "-p", "Write a.txt.", "--on-ask", "suspend", "-m", f"replay:{first}", "--session-id", "w2")
    assert text.returncode == 4 and "tau resume w2 --approve" in text.stderr and "call_1_0" in text.stderr

    unknown = box.tau("resume", "w", "--approve", "call_7")
    assert unknown.returncode == 2 and "call_7" in unknown.stderr

    approved = box.tau("resume", "w", "--approve", "call_1_0", "-m", f"replay:{second}", "-o", "json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["result"] == "Wrote a.txt."
    assert (box.work / "a.txt").read_text() == "A"
    assert box.tau("sessions", "fsck").returncode == 0
    shutil.rmtree(scratch)
