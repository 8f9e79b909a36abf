"""`--json` of `tau sessions show|log|diff|fsck` as a real subprocess on sessions that real runs stored: a run that
writes a file (replayed cassette), a run that suspends on an approval, its resume with `--deny-call` (the v2 name),
and a fork. The shapes are the ones `tau.cli.sessions_json` documents; a removed or renamed field fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tau_e2e import Sandbox, record_cassette, run_tau

from tau.testing import calls, reply

WRITE = ("-p", "Write the notes.", "--permission-mode", "acceptEdits", "--session-id", "w")
CLEAN = ("-p", "Clean up.", "--on-ask", "suspend", "--session-id", "q")


def tau_json(box: Sandbox, *args: str) -> Any:
    result = run_tau(*args, sandbox=box)
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def replayed(box: Sandbox, args: tuple[str, ...], steps: list[Any], name: str, code: int = 0) -> None:
    cassette = box.root / f"{name}.json"
    before = set(box.work.rglob("*"))
    record_cassette(box, args, steps, cassette)
    for made in set(box.work.rglob("*")) - before:  # the recording ran the tools too: the replay starts clean
        if made.is_file():
            made.unlink()
    result = run_tau("run", *args, "-m", f"replay:{cassette}", "-q", sandbox=box)
    assert result.returncode == code, result


def test_show_log_diff_of_a_run_that_wrote_a_file_and_its_fork(sandbox: Sandbox) -> None:
    write = calls(("write", {"file_path": "notes.txt", "content": "one\n"}), text="Writing.")
    add = calls(("write", {"file_path": "new.txt", "content": "n\n"}))
    replayed(sandbox, WRITE, [write, add, reply("Wrote notes.txt.")], "write")
    assert (sandbox.work / "new.txt").read_text() == "n\n"

    shown = tau_json(sandbox, "sessions", "show", "w", "--json")
    head = shown.pop("snapshot")
    assert len(head) == 64 and shown.pop("created")
    first_call, second_call = [entry["call_id"] for entry in shown["messages"] if entry["kind"] == "tool_call"]
    texts = [entry.get("text") for entry in shown["messages"]]
    assert shown == {
        "session": "w",
        "step": 3,
        "status": "completed",
        "model": shown["model"],
        "workspace": str(sandbox.work),
        "messages": [
            {"kind": "user", "text": "Write the notes."},
            {"kind": "assistant", "text": "Writing."},
            {
                "kind": "tool_call",
                "tool": "write",
                "call_id": first_call,
                "args": {"file_path": "notes.txt", "content": "one\n"},
            },
            {"kind": "tool_result", "tool": "write", "call_id": first_call, "outcome": "success", "text": texts[3]},
            {
                "kind": "tool_call",
                "tool": "write",
                "call_id": second_call,
                "args": {"file_path": "new.txt", "content": "n\n"},
            },
            {"kind": "tool_result", "tool": "write", "call_id": second_call, "outcome": "success", "text": texts[5]},
            {"kind": "assistant", "text": "Wrote notes.txt."},
        ],
        "pending": [],
    }
    assert shown["model"].startswith("replay:") and "notes.txt" in texts[3] and "new.txt" in texts[5]

    log = tau_json(sandbox, "sessions", "log", "w", "--json")
    assert log["session"] == "w" and log["other_subagents"] == []
    steps = log["snapshots"]
    assert [(s["step"], s["status"], s["pending"], s["subagents"]) for s in steps] == [
        (0, "created", False, []),
        (1, "running", False, []),
        (2, "running", False, []),
        (3, "completed", False, []),
    ]
    assert steps[-1]["snapshot"] == head and steps[-1]["last"] == {"kind": "assistant", "text": "Wrote notes.txt."}
    assert steps[0]["last"] is None and steps[-1]["tokens"] > 0

    forked = run_tau("fork", "w", "-p", "Other path.", "-m", "test:x", "--session-id", "w2", "-q", sandbox=sandbox)
    assert forked.returncode == 0, forked
    diff = tau_json(sandbox, "sessions", "diff", "w", "w2", "--json")
    assert diff["a"] == {"name": "w", "snapshot": head, "messages": 6}
    assert diff["b"]["name"] == "w2" and diff["b"]["messages"] == 8 and diff["common"] == 6
    assert diff["only_a"] == []
    assert [entry["kind"] for entry in diff["only_b"]] == ["user", "assistant"]
    assert diff["only_b"][0] == {"kind": "user", "text": "Other path."}
    assert diff["workspace"]["changes"] == []  # the fork ran no tool: the same files
    pins = tau_json(sandbox, "sessions", "diff", steps[0]["snapshot"], "w", "--json")["workspace"]
    assert pins["a"] is None and pins["b"] is not None and pins["changes"] == []  # step 0 pins nothing

    # a step is committed as its response arrives, before its call runs: step 2 pins the files the first call left
    files = tau_json(sandbox, "sessions", "diff", steps[2]["snapshot"], "w", "--patch", "--json")
    kinds = [entry["kind"] for entry in files["only_b"]]
    assert files["common"] == 4 and kinds == ["tool_result", "assistant"]
    assert files["workspace"]["changes"] == [
        {"change": "added", "path": "new.txt", "patch": ["--- /dev/null", "+++ b/new.txt", "@@ -0,0 +1 @@", "+n"]}
    ]
    no_patch = tau_json(sandbox, "sessions", "diff", steps[2]["snapshot"], "w", "--json")["workspace"]["changes"]
    assert no_patch == [{"change": "added", "path": "new.txt"}]


def test_show_pending_then_resume_with_deny_call(sandbox: Sandbox) -> None:
    rm = calls(("bash", {"command": "rm -rf build"}), text="Removing build/.")
    replayed(sandbox, CLEAN, [rm], "clean", code=4)

    shown = tau_json(sandbox, "sessions", "show", "q", "--json")
    assert shown["status"] == "suspended"
    [pending] = shown["pending"]
    call_id = pending.pop("call_id")
    assert pending == {"kind": "approval", "tool": "bash", "args": {"command": "rm -rf build"}}
    log = tau_json(sandbox, "sessions", "log", "q", "--json")
    assert log["snapshots"][-1]["pending"] is True

    # The v1 spelling `--deny CALL` is a deny rule now (as on `tau run`): it answers nothing, so the call stays
    # pending and the run suspends again (exit 4), pointing at the new flag. Nothing is run or approved.
    old = run_tau("resume", "q", "--deny", call_id, "-m", "test:x", sandbox=sandbox)
    assert old.returncode == 4 and f"waiting on approval {call_id}" in old.stderr and "--deny-call" in old.stderr
    unknown = run_tau("resume", "q", "--deny-call", "call_nosuch", "-m", "test:x", sandbox=sandbox)
    assert unknown.returncode == 2 and unknown.stderr.startswith("tau: --deny-call") and call_id in unknown.stderr
    resumed = run_tau(
        "resume", "q", "--deny-call", f"{call_id}=not today", "-m", "test:x", "-o", "json", sandbox=sandbox
    )
    assert resumed.returncode == 0, resumed
    after = tau_json(sandbox, "sessions", "show", "q", "--json")
    [result] = [entry for entry in after["messages"] if entry["kind"] == "tool_result"]
    assert result["call_id"] == call_id and result["outcome"] == "denied" and "not today" in result["text"]
    assert after["pending"] == []


def test_fsck_json_ok_then_damaged(sandbox: Sandbox) -> None:
    empty = tau_json(sandbox, "sessions", "fsck", "--json")
    assert empty["exists"] is False and empty["ok"] is True and empty["problems"] == []

    assert run_tau("run", "-p", "Hi.", "-m", "test:x", "--session-id", "h", sandbox=sandbox).returncode == 0
    ok = tau_json(sandbox, "sessions", "fsck", "--json")
    store = Path(ok["store"])
    assert ok == {"store": str(store), "exists": True, "ok": True, "problems": [], "interrupted": []}

    victim = sorted(path for path in (store / "objects").rglob("*") if path.is_file())[0]
    victim.chmod(0o644)
    victim.write_bytes(b"not what was hashed")
    damaged = run_tau("sessions", "fsck", "--json", sandbox=sandbox)
    assert damaged.returncode == 1
    report = json.loads(damaged.stdout)
    assert report["ok"] is False and report["problems"]
    assert any(problem["path"] == str(victim) for problem in report["problems"]), report["problems"]
    assert set(report["problems"][0]) == {"path", "problem", "object"}
