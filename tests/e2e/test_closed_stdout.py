"""A stdout whose reader went away (`tau sessions ls --json | head -2`): tau ends quietly with exit 141 (128 +
SIGPIPE, what a shell reports for git or coreutils in the same pipe), prints nothing on stderr — no "internal error
BrokenPipeError", no "Exception ignored" from the interpreter's last flush — and a `tau run` whose reader goes away
still runs to its end and stores its session.

The pipes are real: `tau` writes into a pipe whose read end the test closes, either before tau writes anything (so
its first write fails, whatever the timing) or after reading the first event of a run whose tool waits for the test
to say go (so the rest of the run writes into a closed pipe).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from provider_faults import Calls, FaultServer, Text
from tau_e2e import TIMEOUT, Sandbox, run_tau, tau_command

from tau.protocol import RunCompleted, SessionStarted, ToolStarted

CLOSED = 141


def kind(event: type[Any]) -> str:
    """The `type` of an event class as it appears on the wire."""
    value = event.model_fields["type"].default
    assert isinstance(value, str)
    return value


def start(sandbox: Sandbox, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        tau_command(*args),
        cwd=sandbox.work,
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def closed_reader(sandbox: Sandbox, *args: str) -> tuple[int, str]:
    """Run `tau ARGS` with its stdout reader closed before tau writes; (exit status, stderr)."""
    process = start(sandbox, *args)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the only read end: tau's first write to stdout fails with EPIPE
    try:
        stderr = process.stderr.read()
        process.wait(TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr.decode("utf-8", "replace")


def sessions(sandbox: Sandbox, state: Path) -> list[dict[str, Any]]:
    listing = run_tau("sessions", "ls", "--json", "--state-dir", str(state), sandbox=sandbox)
    assert listing.returncode == 0, listing
    return listing.lines


def add_sessions(sandbox: Sandbox, state: Path, count: int) -> None:
    for index in range(count):
        done = run_tau("run", "-p", f"hello {index}", "--model", "test:m", "--state-dir", str(state), sandbox=sandbox)
        assert done.returncode == 0, done


def test_sessions_ls_json_into_a_closed_pipe(sandbox: Sandbox) -> None:
    state = sandbox.root / "state"
    add_sessions(sandbox, state, 2)
    assert closed_reader(sandbox, "sessions", "ls", "--json", "--state-dir", str(state)) == (CLOSED, "")
    assert closed_reader(sandbox, "sessions", "ls", "--state-dir", str(state)) == (CLOSED, "")
    assert [row["status"] for row in sessions(sandbox, state)] == ["completed", "completed"]  # nothing was touched


def test_sessions_ls_json_piped_into_head(sandbox: Sandbox) -> None:
    """The colleague's command line, through a shell: head takes one line and exits; tau says nothing."""
    state = sandbox.root / "state"
    add_sessions(sandbox, state, 3)
    command = " ".join(tau_command("sessions", "ls", "--json", "--state-dir", str(state)))
    shell = subprocess.run(
        ["bash", "-c", f"{command} | head -1"],
        cwd=sandbox.work,
        env=sandbox.env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert shell.returncode == 0, shell
    assert json.loads(shell.stdout)["status"] == "completed"
    assert shell.stderr == b""  # (tau may or may not have written before head left: quiet either way)


def test_schema_events_and_help_into_a_closed_pipe(sandbox: Sandbox) -> None:
    assert closed_reader(sandbox, "schema", "events") == (CLOSED, "")
    assert closed_reader(sandbox, "--help") == (CLOSED, "")  # written while click parses
    assert closed_reader(sandbox, "run", "--help") == (CLOSED, "")


def test_a_run_whose_reader_is_gone_from_the_start_still_ends_and_stores_its_session(sandbox: Sandbox) -> None:
    state = sandbox.root / "state"
    for output in ("stream-json", "json", "text"):
        args = ("run", "-p", f"hello {output}", "--model", "test:m", "-o", output, "-q", "--state-dir", str(state))
        assert closed_reader(sandbox, *args) == (CLOSED, "")
    rows = sessions(sandbox, state)
    assert sorted((row["title"], row["status"], row["turns"]) for row in rows) == [
        ("hello json", "completed", 1),
        ("hello stream-json", "completed", 1),
        ("hello text", "completed", 1),
    ]


def test_a_run_whose_reader_leaves_mid_run_still_ends_and_stores_its_session(
    sandbox: Sandbox, faults: FaultServer
) -> None:
    """The reader takes the first event and leaves while a tool call waits; the run then finishes its tool call and
    its second model request into a closed pipe, and stores everything."""
    gate = sandbox.work / "go"
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done; echo through"
    tag = faults.script("closed-mid-run", Calls(("bash", {"command": wait})), Text("finished after the gate"))
    state = sandbox.root / "state"
    process = start(
        sandbox,
        *("run", "-p", f"{tag} wait for the gate", "--model", "openai-chat:m", "--base-url", faults.base_url),
        *("--allow", "Bash", "-o", "stream-json", "--state-dir", str(state)),
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        first = json.loads(process.stdout.readline())
        assert first["type"] == kind(SessionStarted), first
        for raw in process.stdout:  # until the gated tool call runs
            if json.loads(raw)["type"] in (kind(ToolStarted), kind(RunCompleted)):
                break
        process.stdout.close()
        gate.touch()  # only now can the tool call end: everything after it is written into the closed pipe
        stderr = process.stderr.read()
        process.wait(TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, stderr.decode()) == (CLOSED, "")
    assert faults.attempts("closed-mid-run") == [1, 1]  # the second request was made: the run went on to its end
    (row,) = sessions(sandbox, state)
    assert (row["id"], row["status"], row["turns"]) == (first["session_id"], "completed", 2)
    shown = run_tau("sessions", "show", row["id"], "--state-dir", str(state), sandbox=sandbox)
    assert shown.returncode == 0, shown
    assert "finished after the gate" in shown.stdout
