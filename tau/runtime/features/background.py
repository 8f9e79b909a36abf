"""Background agents from the `task` tool (`task(..., background=true)`): the seam between a run and the server
that hosts it.

`tau serve` sets `BACKGROUND` (a context variable) in each run's task to a function that starts a background agent
for that run's session (`rpc.agents`: the parent's job, the server's depth and concurrency limits, a report to the
parent's mailbox when it ends) and returns the child's session id. Every task the run creates inherits it. Where it
is unset — a plain `tau run`, a `tau worker` of the temporal engine — `start_background` returns a refusal the model
reads, saying that background agents need `tau serve`; it never falls back to a blocking child (the model asked for
an immediate return and would wait on a result it does not expect). Leaf module: imports nothing from tau.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

__all__ = ["BACKGROUND", "BackgroundRefused", "BackgroundSpawn", "start_background"]

BackgroundSpawn = Callable[[str, str, str], Awaitable[str]]
"""(description, prompt, agent type) -> the background agent's session id; raises `BackgroundRefused`."""

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
