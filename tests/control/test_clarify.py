"""Clarification: the `ask_user` tool under each `--on-ask` policy with a real Agent and a scripted model — deny,
suspend (through the driver: exit 4, then resume with an answer the model receives), and tty (in-process on a pty,
and in a subprocess whose stdin is a pty; never blocking when stdin is not a TTY)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from controlsupport import make_job, tool_returns
from pydantic_ai import Agent
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults

from tau.config.spec import PermissionsSpec
from tau.environment import HostBackend
from tau.protocol import ClarificationRequested, Event
from tau.runtime import Answers, Continuation
from tau.runtime.driver import RunDriver, RunSetup, ToolGate
from tau.runtime.emitter import Emitter
from tau.runtime.features.clarify import (
    ASK_TOOL,
    NO_ANSWER,
    NO_HUMAN,
    TIMED_OUT,
    Terminal,
    ask_on_terminal,
    clarification_events,
    clarify_toolset,
    pick_answer,
    render_question,
)
from tau.sessions import InMemorySessionStore
from tau.testing import calls, reply, scripted_model

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
ASK = (ASK_TOOL, {"question": "Which colour?", "choices": ["red", "blue"]})


def ask_agent(policy: Any, steps: list[Any], **options: Any) -> tuple[Agent[None, Any], Any]:
    model, script = scripted_model(steps)
    agent: Agent[None, Any] = Agent(
        model, toolsets=[clarify_toolset(policy, **options)], output_type=[str, DeferredToolRequests]
    )
    return agent, script


async def test_deny_tells_the_model_no_human_is_available() -> None:
    agent, script = ask_agent("deny", [calls(ASK), reply("assumed red")])
    result = await agent.run("go")
    assert result.output == "assumed red"
    assert [r.content for r in tool_returns(script.requests[1], ASK_TOOL)] == [NO_HUMAN]
    assert NO_HUMAN == (
        "No human is available to answer (headless run). Proceed on stated assumptions and list them in your "
        "final answer."
    )


async def test_suspend_defers_the_call_with_the_question() -> None:
    agent, script = ask_agent("suspend", [calls(ASK, ("ask_user", {"question": "Size?"}))])
    result = await agent.run("go")
    requests = result.output
    assert isinstance(requests, DeferredToolRequests)
    assert [c.tool_call_id for c in requests.calls] == ["call_1_0", "call_1_1"]
    assert requests.metadata["call_1_0"] == {
        "kind": "question",
        "question": "Which colour?",
        "choices": ["red", "blue"],
    }
    assert clarification_events(requests) == [
        ClarificationRequested(call_id="call_1_0", question="Which colour?", choices=["red", "blue"]),
        ClarificationRequested(call_id="call_1_1", question="Size?", choices=None),
    ]
    follow, script = ask_agent("suspend", [reply("blue it is")])
    answered = await follow.run(
        message_history=result.all_messages(),
        deferred_tool_results=DeferredToolResults(calls={"call_1_0": "blue", "call_1_1": "large"}),
    )
    assert answered.output == "blue it is"
    assert [r.content for r in tool_returns(script.requests[0], ASK_TOOL)] == ["blue", "large"]


def test_clarification_events_skip_permission_approvals() -> None:
    from pydantic_ai.messages import ToolCallPart

    requests = DeferredToolRequests(
        calls=[ToolCallPart("other", {}, tool_call_id="x")],
        approvals=[ToolCallPart("bash", {"command": "rm -rf /"}, tool_call_id="y")],
        metadata={"x": {"kind": "something-else"}},
    )
    assert clarification_events(requests) == []


async def run_driver(
    tmp_path: Path, steps: list[Any], store: InMemorySessionStore, continuation: Continuation | None = None
) -> tuple[Any, list[Event], Any]:
    job = make_job(tmp_path, permissions=PermissionsSpec(mode="acceptEdits", on_ask="suspend"))
    agent, script = ask_agent("suspend", steps)
    setup = RunSetup(
        agent=agent, workspace=HostBackend(tmp_path), gate=ToolGate(), tool_names=[ASK_TOOL], model_ref="test:x"
    )
    events: list[Event] = []
    driver = RunDriver(
        job, setup, store=store, emitter=Emitter(events.append), session_id="ask-1", continuation=continuation
    )
    result = await driver.run()
    return result, events, script


async def test_suspend_exit_4_then_resume_with_the_answer(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    result, events, _ = await run_driver(tmp_path, [calls(ASK)], store)
    assert (result.status, result.exit_code) == ("suspended", 4)
    assert [e for e in events if e.type == "approval.requested"] == []  # a question is not an approval
    [asked] = [e for e in events if isinstance(e, ClarificationRequested)]
    assert (asked.call_id, asked.question, asked.choices) == ("call_1_0", "Which colour?", ["red", "blue"])
    assert [e.type for e in events[-3:]] == ["snapshot.created", "clarification.requested", "run.completed"]
    pending = (await store.resume("ask-1")).pending
    await store.close("ask-1")
    assert pending is not None
    assert clarification_events(pending) == [
        ClarificationRequested(call_id="call_1_0", question="Which colour?", choices=["red", "blue"])
    ]
    answers = Continuation(None, Answers(answer={"call_1_0": "blue"}))
    resumed, _, script = await run_driver(tmp_path, [reply("painting it blue")], store, answers)
    assert (resumed.exit_code, resumed.result) == (0, "painting it blue")
    assert [r.content for r in tool_returns(script.requests[0], ASK_TOOL)] == ["blue"]


# -- the tty policy -------------------------------------------------------------------------------------------


def test_question_rendering_and_choice_numbers() -> None:
    assert (
        render_question("Which?", ["a", "b"])
        == "\ntau: the agent asks: Which?\n  1) a\n  2) b\ntau: answer (a number or text): "
    )
    assert render_question("Free?", None).endswith("tau: answer: ")
    assert pick_answer(" 2 \n", ["a", "b"]) == "b"
    assert pick_answer("3", ["a", "b"]) == "3"
    assert pick_answer("something else", ["a", "b"]) == "something else"


class PtyTerminal:
    """A pty: the tool's stdin is the slave side; the test types on the master side."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        self.stdin: TextIO = os.fdopen(slave, "r")
        self.err = _Buffer()

    def terminal(self) -> Terminal:
        return Terminal(stdin=self.stdin, stderr=self.err)  # type: ignore[arg-type]

    def close(self) -> None:
        self.stdin.close()
        os.close(self.master)


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
def tty() -> Any:
    terminal = PtyTerminal()
    yield terminal
    terminal.close()


async def test_tty_answer_by_number(tty: PtyTerminal) -> None:
    async def type_later() -> None:
        await anyio.sleep(0.1)
        os.write(tty.master, b"2\n")

    async with anyio.create_task_group() as group:
        group.start_soon(type_later)
        answer = await ask_on_terminal(tty.terminal(), "Which colour?", ["red", "blue"], timeout=10)
    assert answer == "blue"
    assert "tau: the agent asks: Which colour?" in tty.err.text


async def test_tty_empty_answer(tty: PtyTerminal) -> None:
    os.write(tty.master, b"\n")
    assert await ask_on_terminal(tty.terminal(), "Free?", None, timeout=10) == NO_ANSWER


async def test_tty_timeout_is_bounded(tty: PtyTerminal) -> None:
    started = time.monotonic()
    answer = await ask_on_terminal(tty.terminal(), "Free?", None, timeout=0.3)
    assert answer == TIMED_OUT.format(timeout=0.3)
    assert time.monotonic() - started < 2


async def test_tty_cancelled_run_leaves_no_reader(tty: PtyTerminal) -> None:
    started = time.monotonic()
    with anyio.move_on_after(0.2):
        await ask_on_terminal(tty.terminal(), "Free?", None, timeout=None)
    assert time.monotonic() - started < 1
    os.write(tty.master, b"late\n")  # the abandoned reader thread may still be in its select: it must not read this
    readable, _, _ = select.select([tty.stdin.fileno()], [], [], 2)
    assert readable
    await anyio.sleep(0.3)  # a reader that wrongly took the line would have taken it by now
    assert os.read(tty.stdin.fileno(), 100) == b"late\n"  # nobody else consumed it


async def test_tty_policy_with_a_pipe_never_reads() -> None:
    read, write = os.pipe()
    try:
        with os.fdopen(read, "r", closefd=False) as stdin:
            err = _Buffer()
            started = time.monotonic()
            answer = await ask_on_terminal(Terminal(stdin=stdin, stderr=err), "Q?", None, timeout=None)  # type: ignore[arg-type]
        assert answer == NO_HUMAN
        assert err.text == ""
        assert time.monotonic() - started < 1
    finally:
        os.close(read)
        os.close(write)


def _run_script(stdin: Any, stderr: Any, timeout_arg: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "ask_tty.py"), timeout_arg], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr
    )


def _read_until(fd: int, marker: bytes, deadline_s: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + deadline_s
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} on the terminal; saw {seen!r}"
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            seen += os.read(fd, 1024)
    return seen


def test_tty_policy_in_a_subprocess_under_a_pty() -> None:
    master, slave = pty.openpty()
    try:
        proc = _run_script(slave, slave, "30")
        os.close(slave)
        shown = _read_until(master, b"tau: answer (a number or text): ", 30)
        assert b"Which colour?" in shown and b"2) blue" in shown
        os.write(master, b"2\n")
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert json.loads(out) == ["blue"]


def test_tty_policy_in_a_subprocess_without_a_tty_never_blocks() -> None:
    read, write = os.pipe()  # stdin stays open and empty while the run goes on: a read would hang
    try:
        proc = _run_script(read, subprocess.PIPE, "none")
        os.close(read)
        try:
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    finally:
        os.close(write)
    assert proc.returncode == 0, err
    assert json.loads(out) == [NO_HUMAN]
    assert b"Which colour?" not in err
