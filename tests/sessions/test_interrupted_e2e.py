"""Interrupted sessions through real `tau` processes (issue #13: "killed sessions stay `running` forever").

- a `tau run` SIGKILLed in the middle of a tool call: `tau sessions ls --json` shows its session `interrupted` (its
  writer is gone), not `running`; the tool process died with it; `tau resume ID -p ...` continues the session to
  completion: the model sees the committed history — every response, every finished call's real result (also one
  that finished beside the killed call in the same step) — and only the killed call answered as interrupted; no
  step is asked twice;
- a `tau run` that is alive (blocked in a tool call, holding the session's write lock) is listed `running` — also
  in its first step, whose head snapshot is still `created` —, and a `tau run` started beside it (which settles
  interrupted sessions at start-up) leaves it so.

The model is the fault server of tests/providers (its request log shows what was asked); the tool call waits for a
gate file the test creates, so "mid-tool" is a state the test controls, not a moment it guesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from provider_faults import Calls, FaultServer, Text, serve
from tau_e2e import TIMEOUT, Sandbox, run_tau, tau_command

from tau.protocol import PermissionDecided, RunCompleted, SessionStarted, ToolCompleted


def kind(event: type[Any]) -> str:
    value = event.model_fields["type"].default
    assert isinstance(value, str)
    return value


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with serve() as server:
        yield server


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def running(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if needle.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def gone(needle: str, bound: float = 10.0) -> bool:
    deadline = time.monotonic() + bound
    while running(needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class GatedRun:
    """`tau run` whose model first plays `lead` (steps of one call each, that complete), then a step of the calls
    `beside` and a bash call that waits for `gate` — a second request for that step gets `retry` instead —, then
    `after`; started and read until the gated call runs and every other call has completed."""

    def __init__(
        self,
        sandbox: Sandbox,
        faults: FaultServer,
        key: str,
        *,
        lead: tuple[Any, ...] = (),
        beside: tuple[tuple[str, dict[str, Any]], ...] = (),
        retry: Any,
        after: Any,
    ) -> None:
        self.gate = sandbox.work / f"{key}.gate"
        self.marker = f"tau-interrupted-{key}-{os.getpid()}-{time.monotonic_ns()}"
        wait = f"while [ ! -e {self.gate} ]; do sleep 0.05; done; echo {self.marker}"
        self.calls_before = len(lead) + len(beside)
        self.tag = faults.script(key, *lead, [Calls(*beside, ("bash", {"command": wait})), retry], after)
        self.state = sandbox.root / "state"
        self.process = subprocess.Popen(
            tau_command(
                *("run", "-p", f"{self.tag} run the gated command", "--model", "openai-chat:m"),
                *("--base-url", faults.base_url, "--allow", "Bash", "-o", "stream-json"),
                *("--state-dir", str(self.state)),
            ),
            cwd=sandbox.work,
            env=sandbox.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[dict[str, Any]] = []
        self._until_the_tool_runs()

    def _until_the_tool_runs(self) -> None:
        assert self.process.stdout is not None
        decided = completed = 0
        for raw in self.process.stdout:  # until every call was allowed and all but the gated one completed
            self.lines.append(json.loads(raw))
            decided += self.lines[-1]["type"] == kind(PermissionDecided)
            completed += self.lines[-1]["type"] == kind(ToolCompleted)
            if decided > self.calls_before and completed == self.calls_before:
                break
            if self.lines[-1]["type"] == kind(RunCompleted):
                break
        assert self.lines[-1]["type"] in (kind(PermissionDecided), kind(ToolCompleted)), self.lines
        assert self.lines[0]["type"] == kind(SessionStarted)
        deadline = time.monotonic() + TIMEOUT
        while not running(f"echo {self.marker}"):  # the allowed call's shell is up (its command line holds it)
            assert time.monotonic() < deadline, "the gated tool call never started"
            time.sleep(0.05)

    @property
    def session_id(self) -> str:
        value = self.lines[0]["session_id"]
        assert isinstance(value, str)
        return value

    def finish(self) -> tuple[int, list[dict[str, Any]], str]:
        self.gate.touch()
        stdout, stderr = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode, [json.loads(line) for line in stdout.splitlines()], stderr.decode()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=TIMEOUT)


def listed(sandbox: Sandbox, state: Path) -> dict[str, str]:
    listing = run_tau("sessions", "ls", "--json", "--state-dir", str(state), sandbox=sandbox)
    assert listing.returncode == 0, listing
    return {row["id"]: row["status"] for row in listing.lines}


def kill_then_resume(
    sandbox: Sandbox, faults: FaultServer, key: str, *, lead: tuple[Any, ...] = (), beside: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """A run killed while its gated call runs (after `lead`'s steps, beside `beside`'s calls), then `tau resume -p
    "carry on"`; checks what any such run must show and returns the messages of the resumed model request."""
    run = GatedRun(sandbox, faults, key, lead=lead, beside=beside, retry=Text("asked again"), after=Text("resumed"))
    try:
        assert listed(sandbox, run.state) == {run.session_id: "running"}
        run.process.send_signal(signal.SIGKILL)
        run.process.communicate(timeout=TIMEOUT)
    finally:
        run.kill()
    assert run.process.returncode == -signal.SIGKILL
    assert gone(f"echo {run.marker}"), "the tool process outlived the SIGKILLed tau"
    assert listed(sandbox, run.state) == {run.session_id: "interrupted"}

    resumed = run_tau(
        "resume", run.session_id[:8], "-p", "carry on", "--model", "openai-chat:m", "--base-url", faults.base_url,
        "-o", "json", "--state-dir", str(run.state), sandbox=sandbox,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed
    obj = resumed.json
    assert (obj["session_id"], obj["terminal_reason"], obj["result"]) == (run.session_id, "completed", "resumed")
    assert faults.attempts(key) == [1] * (len(lead) + 2)  # no step asked twice: every response was committed
    assert listed(sandbox, run.state) == {run.session_id: "completed"}
    assert not run.gate.exists()
    messages: list[dict[str, Any]] = faults.bodies(key)[-1]["messages"]
    assert messages[-1]["content"].endswith("carry on"), messages[-1]
    return messages


def results(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Each call's command -> the content of the tool message answering it."""
    commands = {
        call["id"]: json.loads(call["function"]["arguments"])["command"]
        for m in messages
        for call in m.get("tool_calls") or ()
    }
    return {commands[m["tool_call_id"]]: m["content"] for m in messages if m["role"] == "tool"}


def test_a_sigkilled_run_reads_interrupted_and_resumes_to_completion(sandbox: Sandbox, faults: FaultServer) -> None:
    messages = kill_then_resume(sandbox, faults, "killed", lead=(Calls(("bash", {"command": "echo warm-up"})),))
    roles = [m["role"] for m in messages if m["role"] != "system"]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "user"]
    assert messages[1]["content"].startswith("[[fault:killed]]")
    answered = results(messages)
    (gated,) = [command for command in answered if command.startswith("while")]
    assert "interrupted" in answered[gated].lower(), answered  # the killed call: answered as interrupted


def test_a_finished_tool_calls_result_survives_a_sigkill(sandbox: Sandbox, faults: FaultServer) -> None:
    """The finished call is in the step before the killed one (committed with the killed call's response)."""
    messages = kill_then_resume(sandbox, faults, "killed-result", lead=(Calls(("bash", {"command": "echo warm-up"})),))
    assert results(messages)["echo warm-up"].strip().splitlines() == ["exit code: 0", "stdout:", "warm-up"]


def test_a_parallel_call_that_finished_beside_the_killed_one_keeps_its_result(
    sandbox: Sandbox, faults: FaultServer
) -> None:
    """Two calls in one step: one finished (committed provisionally as it finished), one killed."""
    messages = kill_then_resume(sandbox, faults, "killed-beside", beside=(("bash", {"command": "echo beside"}),))
    roles = [m["role"] for m in messages if m["role"] != "system"]
    assert roles == ["user", "assistant", "tool", "tool", "user"]
    answered = results(messages)
    assert answered.pop("echo beside").strip().splitlines() == ["exit code: 0", "stdout:", "beside"]
    (killed,) = answered.values()
    assert "interrupted" in killed.lower(), killed


def test_a_live_run_holding_its_lock_reads_running(sandbox: Sandbox, faults: FaultServer) -> None:
    run = GatedRun(sandbox, faults, "alive", retry=Text("-"), after=Text("the gate opened"))
    try:
        assert listed(sandbox, run.state) == {run.session_id: "running"}
        beside = run_tau(
            "run", "-p", "a second run beside it", "--model", "test:m", "--state-dir", str(run.state), "-o", "json",
            sandbox=sandbox,
        )  # fmt: skip
        assert beside.returncode == 0, beside  # its start-up settled interrupted sessions: the live one is not
        statuses = listed(sandbox, run.state)
        assert statuses == {run.session_id: "running", beside.json["session_id"]: "completed"}
        code, lines, stderr = run.finish()
    finally:
        run.kill()
    assert (code, stderr) == (0, "")
    assert lines[-1]["result"] == "the gate opened"
    assert listed(sandbox, run.state)[run.session_id] == "completed"
