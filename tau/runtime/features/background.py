"""Background agents from the `task` tool (`task(..., background=true)`): the seam between a run and the server
that hosts it.

`tau serve` sets `BACKGROUND` (a context variable) in each run's task to a function that starts a background agent
for that run's session (`rpc.agents`: the parent's job, the server's depth and concurrency limits, a report to the
parent's mailbox when it ends) and returns the child's session id. Every task the run creates inherits it. Where it
is unset — a plain `tau run`, a `tau worker` of the temporal engine — `start_background` returns a refusal the model
reads, saying that background agents need `tau serve`; it never falls back to a blocking child (the model asked for
an immediate return and would wait on a result it does not expect).

The same object answers a background agent's question (`task(reply_to=SESSION, prompt=ANSWER)`, `reply_background`):
the server checks that SESSION is a background agent of this run's session waiting on a question and answers it
through the Respond operation a client would use (`rpc.agents`). Leaf module: imports nothing from tau.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

__all__ = ["BACKGROUND", "BackgroundRefused", "BackgroundSpawn", "reply_background", "start_background"]


class BackgroundSpawn(Protocol):
    """The hosting server's background agents for one run's session."""

    async def __call__(self, description: str, prompt: str, agent: str) -> str:
        """Start one: its session id; raises `BackgroundRefused`."""
        ...

    async def reply(self, session_id: str, text: str) -> str:
        """Answer the questions of a background agent of this session: what was answered; `BackgroundRefused`."""
        ...


BACKGROUND: ContextVar[BackgroundSpawn | None] = ContextVar("tau_background_spawn", default=None)


class BackgroundRefused(Exception):
    """The server would not start the agent (a limit, a draining server): the message is for the model."""


async def start_background(description: str, prompt: str, agent: str) -> str:
    """The `task` tool's answer to a `background` call: the child's id, or why there is none."""
    spawn = BACKGROUND.get()
    if spawn is None:
        return (
            "Background agents need `tau serve` (this run is not served): nothing was started. Call task again "
            "without background to run the subagent now and get its answer."
        )
    try:
        child = await spawn(description, prompt, agent)
    except BackgroundRefused as refused:
        return f"The background agent was not started: {refused}"
    return (
        f"Background agent started: session {child}. It runs on its own; its result will arrive in your mailbox "
        "as a new message after this run ends. Do not wait for it."
    )


async def reply_background(session_id: str, text: str) -> str:
    """The `task` tool's answer to a `reply_to` call: the agent's questions answered, or why they were not."""
    spawn = BACKGROUND.get()
    if spawn is None:
        return "Background agents need `tau serve` (this run is not served): there is no agent to answer."
    try:
        done = await spawn.reply(session_id, text)
    except BackgroundRefused as refused:
        return f"The answer was not delivered: {refused}"
    return f"Answered {done} of background agent {session_id}; it continues, and its result will arrive as mail."
