"""`task(background=true)` outside `tau serve`: nothing starts, and the model is told so (never a silent blocking
run); under a server, the spawn the server set for the run decides (tests/rpc/test_mailbox.py runs it for real)."""

from __future__ import annotations

import contextvars

import anyio

from tau.runtime.features.background import BACKGROUND, BackgroundRefused, reply_background, start_background


def test_without_a_server_the_model_is_told_it_needs_one() -> None:
    answer = anyio.run(start_background, "d", "research x", "researcher")
    assert answer.startswith("Background agents need `tau serve`")
    assert "without background" in answer


def test_a_refusal_of_the_server_is_the_answer() -> None:
    async def refuse(description: str, prompt: str, agent: str) -> str:
        raise BackgroundRefused("the server already runs 64 background agents (its limit)")

    async def spawn(description: str, prompt: str, agent: str) -> str:
        return f"lead.agent-{agent}"

    def run_with(spawner: object) -> str:
        context = contextvars.copy_context()
        context.run(BACKGROUND.set, spawner)  # type: ignore[arg-type]
        return context.run(anyio.run, start_background, "d", "p", "x")

    assert run_with(refuse) == "The background agent was not started: the server already runs 64 background agents " \
        "(its limit)"  # fmt: skip
    assert run_with(spawn).startswith("Background agent started: session lead.agent-x.")


def test_a_reply_without_a_server_answers_nothing() -> None:
    answer = anyio.run(reply_background, "lead.agent-1", "blue")
    assert answer.startswith("Background agents need `tau serve`")
