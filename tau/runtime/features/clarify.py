"""Clarification: the `ask_user(question, choices)` tool and how a question reaches a human — or does not.

The policy is the run's `--on-ask` setting (the one permission asks use):

- `tty`: when stdin is a terminal, the question is written to stderr and one line is read from stdin, bounded by
  an optional timeout; the model receives the answer text (a number picks that choice). stdin that is not a TTY
  is never read: the call then answers as `deny` does.
- `deny`: the model is told no human is available and to proceed on stated assumptions (`NO_HUMAN`).
- `suspend`: the call raises pydantic-ai's `CallDeferred` with metadata `{"kind": "question", "question",
  "choices"}`; the run ends with `DeferredToolRequests` (the agent's output type must include it), the driver
  commits it as pending and emits `clarification_events(...)`; `tau resume ID --answer CALL=TEXT` returns TEXT to
  the model as the tool's result.

Fail loud, never hang: the terminal read polls with `select` and stops at the timeout, or when the run is cancelled
(the reader thread is told to stop; nothing is left blocked on stdin). Imports pydantic-ai, tau.protocol and the
standard library only.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import anyio
from pydantic_ai import CallDeferred, RunContext
from pydantic_ai.tools import DeferredToolRequests
from pydantic_ai.toolsets import FunctionToolset

from tau.protocol import ClarificationRequested
from tau.protocol.printable import printable
from tau.tool_schemas import cached_tool

ASK_TOOL = "ask_user"
QUESTION_KIND = "question"  # `kind` in a deferred call's metadata
OnAsk = Literal["deny", "tty", "suspend"]

NO_HUMAN = (
    "No human is available to answer (headless run). Proceed on stated assumptions and list them in your final answer."
)
NO_ANSWER = "The user gave no answer. Proceed on stated assumptions and list them in your final answer."
TIMED_OUT = (
    "The user did not answer within {timeout:g}s. Proceed on stated assumptions and list them in your final answer."
)
_POLL_S = 0.1
_MAX_ANSWER = 4096

ASK_INSTRUCTIONS = (
    f"When the task is ambiguous and the answer is not in the workspace, you may call `{ASK_TOOL}` with one concise "
    "question (and `choices` when the answer is one of a few options) instead of guessing. Ask only what blocks "
    "you; a human may not be available."
)


@dataclass(frozen=True)
class Terminal:
    """Where the `tty` policy asks: its input (read only when it is a TTY) and the stream questions go to."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def interactive(self) -> bool:
        try:
            return self.stdin.isatty()
        except (ValueError, OSError):  # closed or detached stream
            return False


def render_question(question: str, choices: Sequence[str] | None) -> str:
    lines = [f"\ntau: the agent asks: {printable(question.strip())}"]
    lines += [f"  {number}) {printable(choice, one_line=True)}" for number, choice in enumerate(choices or (), start=1)]
    lines.append("tau: answer (a number or text): " if choices else "tau: answer: ")
    return "\n".join(lines)


def pick_answer(line: str, choices: Sequence[str] | None) -> str:
    """The answer a typed line means: a choice's number picks that choice; anything else is taken as typed."""
    text = line.strip()
    if choices and text.isdigit() and 1 <= int(text) <= len(choices):
        return choices[int(text) - 1]
    return text


def read_line(fd: int, *, deadline: float | None, stop: threading.Event) -> str | None:
    """One line from `fd`, polling so that it never blocks past `deadline` (monotonic) or after `stop` is set.
    None when it timed out or was stopped; the text read so far at end of input."""
    chunks: list[bytes] = []
    while not stop.is_set():
        wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
        if wait <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], wait)
        if not readable or stop.is_set():  # stopped while waiting: what arrived belongs to whoever reads next
            continue
        data = os.read(fd, 1024)
        if not data:
            break
        chunks.append(data)
        if b"\n" in data or sum(map(len, chunks)) >= _MAX_ANSWER:
            break
    else:
        return None
    return b"".join(chunks).decode("utf-8", "replace").split("\n", 1)[0]


async def ask_on_terminal(
    terminal: Terminal, question: str, choices: Sequence[str] | None, *, timeout: float | None
) -> str:
    """Ask on the terminal and return what the model should read. Never reads a non-TTY stdin."""
    if not terminal.interactive():
        return NO_HUMAN
    terminal.stderr.write(render_question(question, choices))
    terminal.stderr.flush()
    deadline = None if timeout is None else time.monotonic() + timeout
    stop = threading.Event()
    fd = terminal.stdin.fileno()
    try:
        line = await anyio.to_thread.run_sync(
            lambda: read_line(fd, deadline=deadline, stop=stop), abandon_on_cancel=True
        )
    finally:
        stop.set()  # a cancelled run leaves no reader behind
    if line is None:
        terminal.stderr.write("\n")
        return TIMED_OUT.format(timeout=timeout or 0)
    answer = pick_answer(line, choices)
    return answer or NO_ANSWER


def question_metadata(question: str, choices: Sequence[str] | None) -> dict[str, Any]:
    return {"kind": QUESTION_KIND, "question": question, "choices": list(choices) if choices else None}


def clarify_toolset(
    on_ask: OnAsk, *, timeout: float | None = None, terminal: Terminal | None = None
) -> FunctionToolset[None]:
    """The `ask_user` tool under policy `on_ask` (`timeout` bounds the `tty` wait; None waits for the human)."""
    console = terminal or Terminal()

    async def ask_user(ctx: RunContext[None], question: str, choices: list[str] | None = None) -> str:
        """Ask the user a clarifying question when the task is ambiguous and the answer is not in the workspace.

        A human may not be available: then you are told so, and you should proceed on stated assumptions.

        Args:
            question: One concise, self-contained question.
            choices: Possible answers when the answer is one of a few options (the user may still answer freely).
        """
        del ctx
        if on_ask == "suspend":
            raise CallDeferred(metadata=question_metadata(question, choices))
        if on_ask == "tty":
            return await ask_on_terminal(console, question, choices, timeout=timeout)
        return NO_HUMAN

    return FunctionToolset([cached_tool(ask_user, name="ask_user")])


def clarify_instructions() -> str:
    return ASK_INSTRUCTIONS


def is_question(requests: DeferredToolRequests, call_id: str) -> bool:
    meta = requests.metadata.get(call_id) or {}
    return meta.get("kind") == QUESTION_KIND


def clarification_events(requests: DeferredToolRequests) -> list[ClarificationRequested]:
    """One `ClarificationRequested` per pending `ask_user` call of a suspended run, in call order (seq is the
    emitter's). Other deferred calls (permission approvals) are not questions and are left out."""
    events: list[ClarificationRequested] = []
    for call in requests.calls:
        meta = requests.metadata.get(call.tool_call_id) or {}
        if meta.get("kind") != QUESTION_KIND and call.tool_name != ASK_TOOL:
            continue
        args = call.args_as_dict()
        question = meta.get("question", args.get("question", ""))
        choices = meta.get("choices", args.get("choices"))
        events.append(
            ClarificationRequested(
                call_id=call.tool_call_id,
                question=str(question),
                choices=[str(c) for c in choices] if isinstance(choices, list) else None,
            )
        )
    return events
