"""Compaction on a real pydantic-ai Agent with a scripted model and a tiny context window: the event is emitted, the
model sees the compacted view, instructions survive, and the full history stays in `all_messages()` and the store."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tau.environment import HostBackend
from tau.errors import ConfigError
from tau.protocol import EVENT_ADAPTER, CompactionApplied
from tau.runtime.features.compaction import CompactionCapability, build_strategy, compaction_capability
from tau.sessions import FileSessionStore, StepRecord
from tau.testing.scripted import ScriptedModel, calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio

BOOT = "BOOTSTRAP: always answer in English (from AGENTS.md)"
STEPS = 8
WINDOW = 1_000


def long_script() -> list[Any]:
    """STEPS bash calls each printing ~1,200 characters (~300 tokens), then a final answer."""
    command = "for i in $(seq 1 60); do echo line-$i-xxxxxxxxxx; done"
    return [calls(("bash", {"command": command})) for _ in range(STEPS)] + [reply("done")]


def agent_with(capability: CompactionCapability[Any], steps: list[Any]) -> tuple[Agent[None, str], ScriptedModel]:
    model, script = scripted_model(steps)
    agent: Agent[None, str] = Agent(
        model,
        instructions=BOOT,
        toolsets=[build_toolset(("bash",), limits=ToolLimits())],
        capabilities=[capability],
    )
    return agent, script


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


async def test_sliding_window_compacts_the_view_not_the_history(tmp_path: Path) -> None:
    events: list[CompactionApplied] = []
    capability = compaction_capability("sliding_window", 0.5, WINDOW, events.append, keep_last=2)
    agent, script = agent_with(capability, long_script())
    result = await agent.run("start the job", workspace=HostBackend(tmp_path))
    assert result.output == "done"
    assert events, "no compaction happened"
    for event in events:
        assert event.type == "compaction.applied" and event.strategy == "sliding_window"
        assert event.tokens_after < event.tokens_before and event.messages_after < event.messages_before
        assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event
    full = result.all_messages()
    assert len(full) == 2 + 2 * STEPS  # nothing lost: prompt, 8 x (call, result), final answer
    assert len(tool_returns(full)) == STEPS
    last_sent = script.requests[-1]
    assert len(last_sent) < len(full) - 1
    first_prompt = [
        p for m in last_sent if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, UserPromptPart)
    ]
    assert first_prompt and first_prompt[0].content == "start the job"  # the first user prompt is kept
    assert all(info.instructions is not None and BOOT in info.instructions for info in script.infos)


async def test_compaction_runs_once_per_threshold_crossing(tmp_path: Path) -> None:
    events: list[CompactionApplied] = []
    capability = compaction_capability("sliding_window", 0.5, WINDOW, events.append, keep_last=2)
    agent, script = agent_with(capability, long_script())
    await agent.run("go", workspace=HostBackend(tmp_path))
    sizes = [len(sent) for sent in script.requests]
    assert len(events) < len(script.requests) - 1  # not on every request past the threshold
    assert any(later > earlier for earlier, later in itertools.pairwise(sizes))  # the view regrows


async def test_clear_tool_results_blanks_old_results_in_the_view_only(tmp_path: Path) -> None:
    events: list[CompactionApplied] = []
    capability = compaction_capability("clear_tool_results", 0.5, WINDOW, events.append, keep_last=1)
    agent, script = agent_with(capability, long_script())
    result = await agent.run("go", workspace=HostBackend(tmp_path))
    assert events and events[0].strategy == "clear_tool_results"
    sent = tool_returns(script.requests[-1])
    assert any(part.content == "[tool result cleared]" for part in sent)
    assert all("line-60" in str(part.content) for part in tool_returns(result.all_messages()))


def summarizer() -> tuple[FunctionModel, list[int]]:
    calls_made: list[int] = []

    def summarize(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        del info
        calls_made.append(len(messages))
        return ModelResponse(parts=[TextPart("SUMMARY: ran the listing 8 times, all fine")])

    return FunctionModel(summarize, model_name="summarizer"), calls_made


@pytest.mark.parametrize("strategy", ["summarize", "tiered"])
async def test_summarizing_strategies_put_a_summary_in_the_view(tmp_path: Path, strategy: str) -> None:
    events: list[CompactionApplied] = []
    summary_model, made = summarizer()
    capability = compaction_capability(strategy, 0.5, WINDOW, events.append, keep_last=2, summary_model=summary_model)
    agent, script = agent_with(capability, long_script())
    result = await agent.run("go", workspace=HostBackend(tmp_path))
    assert events and made
    assert "SUMMARY" in str(script.requests[-1]) and "SUMMARY" not in str(result.all_messages())
    assert all(BOOT in (info.instructions or "") for info in script.infos)


async def test_driver_style_commits_keep_every_message_in_the_store(tmp_path: Path) -> None:
    """Commit `run.all_messages()[committed:]` before every model request, as the driver does."""
    events: list[CompactionApplied] = []
    capability = compaction_capability("sliding_window", 0.5, WINDOW, events.append, keep_last=2)
    agent, _ = agent_with(capability, long_script())
    store = FileSessionStore(tmp_path / "state", durable=False)
    await store.begin("s", {"job": "compaction"})
    committed = 0
    async with agent.iter("go", workspace=HostBackend(tmp_path)) as run:
        async for node in run:
            if Agent.is_model_request_node(node):
                messages = run.all_messages()
                await store.commit("s", StepRecord(step=0, messages=messages[committed:]))
                committed = len(messages)
    messages = run.all_messages()
    await store.commit("s", StepRecord(step=0, messages=messages[committed:], status="completed"))
    stored = await store.history("s")
    await store.close("s")
    assert events and len(stored) == len(messages) == 2 + 2 * STEPS
    assert len(tool_returns(stored)) == STEPS


async def test_below_the_threshold_nothing_changes(tmp_path: Path) -> None:
    events: list[CompactionApplied] = []
    capability = compaction_capability("sliding_window", 0.8, 1_000_000, events.append)
    agent, script = agent_with(capability, long_script())
    result = await agent.run("go", workspace=HostBackend(tmp_path))
    assert events == []
    assert len(script.requests[-1]) == len(result.all_messages()) - 1


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="unknown compaction strategy"):
        build_strategy("nope", threshold=0.8, context_window=1000)
    with pytest.raises(ConfigError, match="threshold"):
        compaction_capability("sliding_window", 1.5, 1000, None)
    strategy = build_strategy("sliding_window", threshold=0.8, context_window=1000)
    assert compaction_capability(strategy, 0.8, 1000, None).strategy_name == "SlidingWindowCompaction"


async def test_a_blocking_pre_compact_hook_skips_compaction(tmp_path: Path) -> None:
    class Outcome:
        blocked = True

    asked: list[str] = []

    async def pre_compact() -> Outcome:
        asked.append("auto")
        return Outcome()

    events: list[CompactionApplied] = []
    capability = compaction_capability("sliding_window", 0.5, WINDOW, events.append, pre_compact=pre_compact)
    agent, script = agent_with(capability, long_script())
    result = await agent.run("go", workspace=HostBackend(tmp_path))
    assert asked and events == []
    assert len(script.requests[-1]) == len(result.all_messages()) - 1
