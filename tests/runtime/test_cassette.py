"""RecordingModel writes cassettes; ReplayModel serves them back, deterministically, and names any divergence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, RunContext
from pydantic_ai.exceptions import ModelConnectionError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.tools import ToolDefinition

from tau.errors import ConfigError, ReplayDivergence
from tau.models.cassette import (
    CASSETTE_FORMAT,
    CASSETTE_VERSION,
    Cassette,
    RecordingModel,
    ReplayModel,
    StepFingerprint,
    fingerprint,
    new_messages,
)

pytestmark = pytest.mark.anyio


def scripted_model(snapshots: list[dict[str, Any]] | None = None, path: Path | None = None) -> FunctionModel:
    """Calls `echo` once, then answers with what the tool returned. Optionally snapshots the cassette on each call."""

    def last_tool_result(messages: list[ModelMessage]) -> str | None:
        for part in messages[-1].parts:
            if isinstance(part, ToolReturnPart):
                return str(part.content)
        return None

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if snapshots is not None and path is not None and path.exists():
            snapshots.append(json.loads(path.read_text()))
        result = last_tool_result(messages)
        if result is None:
            return ModelResponse(parts=[ToolCallPart("echo", {"text": "hi"}, tool_call_id="call-1")])
        return ModelResponse(parts=[TextPart(f"tool said {result}")])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        result = last_tool_result(messages)
        if result is None:
            yield {0: DeltaToolCall(name="echo", json_args='{"text": "hi"}', tool_call_id="call-1")}
            return
        yield "tool said "
        yield result

    return FunctionModel(respond, stream_function=stream, model_name="scripted-v1")


def echo_agent(model: Any, suffix: str = "") -> Agent[None, str]:
    agent: Agent[None, str] = Agent(model)

    @agent.tool_plain
    def echo(text: str) -> str:
        """Echo the text back."""
        return text + "\n" + suffix

    return agent


async def drain(ctx: RunContext[None], events: Any) -> None:
    async for _event in events:
        pass


async def record(tmp_path: Path, *, streamed: bool = False) -> tuple[Path, str]:
    path = tmp_path / "cassette.json"
    result = await echo_agent(RecordingModel(scripted_model(), path)).run(
        "please echo", event_stream_handler=drain if streamed else None
    )
    return path, result.output


# --- recording ------------------------------------------------------------------------------------------------------


async def test_cassette_format(tmp_path: Path) -> None:
    path, output = await record(tmp_path)
    assert output == "tool said hi\n"
    data = json.loads(path.read_text())
    assert path.read_text().startswith('{\n  "format": "tau-cassette"')  # indented, human-readable
    assert {key: data[key] for key in ("format", "version", "model_name", "system")} == {
        "format": CASSETTE_FORMAT,
        "version": CASSETTE_VERSION,
        "model_name": "scripted-v1",
        "system": "function",
    }
    first, second = data["steps"]
    assert {k: first[k] for k in ("step", "stream", "tools", "output_tools", "output_mode")} == {
        "step": 1,
        "stream": False,
        "tools": ["echo"],
        "output_tools": [],
        "output_mode": "text",
    }
    assert [part["part_kind"] for m in first["messages"] for part in m["parts"]] == ["user-prompt"]
    assert first["response"]["parts"][0]["tool_name"] == "echo"
    # Step 2 holds only what is new since step 1: the tool result, not the whole history again.
    assert [part["part_kind"] for m in second["messages"] for part in m["parts"]] == ["tool-return"]
    assert second["messages"][0]["parts"][0]["content"] == "hi\n"
    assert second["response"]["parts"] == [
        {**second["response"]["parts"][0], "part_kind": "text", "content": "tool said hi\n"}
    ]


async def test_each_step_is_on_disk_before_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    snapshots: list[dict[str, Any]] = []
    await echo_agent(RecordingModel(scripted_model(snapshots, path), path)).run("please echo")
    assert [len(snapshot["steps"]) for snapshot in snapshots] == [1]
    assert len(json.loads(path.read_text())["steps"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cassette.json"]  # no temp files left behind


async def test_streamed_exchanges_are_recorded(tmp_path: Path) -> None:
    path, output = await record(tmp_path, streamed=True)
    assert output == "tool said hi\n"
    steps = json.loads(path.read_text())["steps"]
    assert [step["stream"] for step in steps] == [True, True]
    assert steps[1]["response"]["parts"][0]["content"] == "tool said hi\n"


async def test_failed_exchanges_record_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"

    async def broken(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "half an ans"
        raise ModelConnectionError("m", "peer closed connection")

    with pytest.raises(ModelConnectionError):
        await Agent(RecordingModel(FunctionModel(stream_function=broken), path)).run("hi", event_stream_handler=drain)
    assert not path.exists()


# --- replay ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("record_streamed", "replay_streamed"), [(False, False), (False, True), (True, False)])
async def test_replay_gives_the_same_run(tmp_path: Path, record_streamed: bool, replay_streamed: bool) -> None:
    path, output = await record(tmp_path, streamed=record_streamed)
    replay = ReplayModel.load(path)
    assert (replay.model_name, replay.system) == ("scripted-v1", "function")
    result = await echo_agent(replay).run("please echo", event_stream_handler=drain if replay_streamed else None)
    assert result.output == output
    assert result.response.model_name == "scripted-v1"
    assert replay.position == 2


async def test_replayed_stream_yields_the_recorded_parts(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    replay = ReplayModel.load(path)
    params = ModelRequestParameters(function_tools=[ToolDefinition(name="echo")])
    async with replay.request_stream([ModelRequest(parts=[UserPromptPart("please echo")])], None, params) as stream:
        events = [event async for event in stream]
    assert [type(event).__name__ for event in events] == ["PartStartEvent", "PartEndEvent"]
    assert stream.get().parts[0] == ToolCallPart("echo", {"text": "hi"}, tool_call_id="call-1")


async def test_divergent_tool_result_names_step_and_values(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    with pytest.raises(ReplayDivergence) as caught:
        await echo_agent(ReplayModel.load(path), suffix="bye").run("please echo")
    assert str(caught.value) == (
        "replay diverged at step 2: tool result for 'echo' differs (recorded 'hi\\n', got 'hi\\nbye')"
    )
    assert caught.value.exit_code == 1


async def test_divergent_prompt(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    with pytest.raises(
        ReplayDivergence,
        match=r"^replay diverged at step 1: user prompt differs \(recorded 'please echo', got 'echo please'\)$",
    ):
        await echo_agent(ReplayModel.load(path)).run("echo please")


async def test_divergent_tools_offered(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    agent = echo_agent(ReplayModel.load(path))

    @agent.tool_plain
    def extra() -> str:
        return ""

    with pytest.raises(ReplayDivergence) as caught:
        await agent.run("please echo")
    assert str(caught.value) == (
        "replay diverged at step 1: tools offered differ (recorded ['echo'], got ['echo', 'extra'])"
    )


async def test_more_requests_than_recorded(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    replay = ReplayModel.load(path)
    await echo_agent(replay).run("please echo")
    with pytest.raises(ReplayDivergence, match=r"^replay diverged at step 3: cassette has only 2 steps$"):
        await replay.request([ModelRequest(parts=[UserPromptPart("again")])], None, ModelRequestParameters())


# --- fingerprints ---------------------------------------------------------------------------------------------------


def test_new_messages_are_those_after_the_last_response() -> None:
    first = ModelRequest(parts=[UserPromptPart("a")])
    answer = ModelResponse(parts=[TextPart("b")])
    follow_up = ModelRequest(parts=[UserPromptPart("c")])
    assert new_messages([first]) == [first]
    assert new_messages([first, answer, follow_up]) == [follow_up]


def test_fingerprint_ignores_ids_and_timestamps() -> None:
    params = ModelRequestParameters(function_tools=[ToolDefinition(name="b"), ToolDefinition(name="a")])
    one = [ModelRequest(parts=[ToolReturnPart("bash", "ok", tool_call_id="x1")])]
    two = [ModelRequest(parts=[ToolReturnPart("bash", "ok", tool_call_id="y2")], run_id="other")]
    assert fingerprint(one, params) == fingerprint(two, params)
    assert fingerprint(one, params) == StepFingerprint(
        inputs=(("tool result", "bash", "ok"),), tools=("a", "b"), output_tools=(), output_mode="text"
    )


@pytest.mark.parametrize(
    ("got", "difference"),
    [
        (
            StepFingerprint((("user prompt", "", "a"),), (), (), "text"),
            "missing tool result for 'bash' (recorded 2 inputs, got 1)",
        ),
        (
            StepFingerprint(
                (("user prompt", "", "a"), ("tool result", "bash", "x"), ("user prompt", "", "z")), (), (), "text"
            ),
            "unexpected user prompt (recorded 2 inputs, got 3)",
        ),
        (
            StepFingerprint((("user prompt", "", "a"), ("tool result", "grep", "x")), (), (), "text"),
            "input 2 differs (recorded tool result for 'bash', got tool result for 'grep')",
        ),
        (
            StepFingerprint((("user prompt", "", "a"), ("tool result", "bash", "x")), (), (), "tool"),
            "output mode differs (recorded 'text', got 'tool')",
        ),
        (
            StepFingerprint((("user prompt", "", "a"), ("tool result", "bash", "x")), (), ("final_result",), "text"),
            "output tools differ (recorded [], got ['final_result'])",
        ),
    ],
)
def test_fingerprint_differences(got: StepFingerprint, difference: str) -> None:
    recorded = StepFingerprint((("user prompt", "", "a"), ("tool result", "bash", "x")), (), (), "text")
    assert recorded.difference(recorded) is None
    assert recorded.difference(got) == difference


def test_long_values_are_shortened_in_messages() -> None:
    recorded = StepFingerprint((("user prompt", "", "a" * 500),), (), (), "text")
    got = StepFingerprint((("user prompt", "", "b" * 500),), (), (), "text")
    message = recorded.difference(got)
    assert message is not None and len(message) < 200


# --- loading --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read cassette"),
        ('{"format": "vcr"}', "not a tau cassette"),
        ('{"format": "tau-cassette", "version": 99}', "unsupported cassette version 99"),
        ('{"format": "tau-cassette", "version": 1, "steps": [{"messages": []}]}', "malformed cassette step"),
    ],
)
def test_bad_cassettes_are_config_errors(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Cassette.load(path)
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(caught.value)


async def test_cassette_round_trips(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    cassette = Cassette.load(path)
    copy = tmp_path / "copy.json"
    cassette.save(copy)
    assert copy.read_text() == path.read_text()
