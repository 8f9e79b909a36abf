"""Scripted models: a list of turns played by pydantic-ai's `FunctionModel`, streaming and non-streaming alike.

    model = scripted_model([calls(("bash", {"command": "echo hi"})), reply("done")])

Each turn answers one model request, in order; a turn may also be a callable that receives the request messages
(to assert on what the model was sent, or to branch). Requests past the end of the script fail loudly.
`ScriptedModel.requests` keeps every request's messages for assertions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel


@dataclass(frozen=True)
class Turn:
    """One scripted model response: optional text, then tool calls (name, args) in order."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    chunk: int = 0  # stream text in chunks of this many characters (0 = one chunk)


def reply(text: str, *, chunk: int = 0) -> Turn:
    return Turn(text=text, chunk=chunk)


def calls(*tool_calls: tuple[str, dict[str, Any] | str], text: str = "") -> Turn:
    """Tool calls; args may be a dict or a raw string (to script invalid JSON)."""
    return Turn(text=text, tool_calls=tuple(tool_calls))


ScriptStep = Turn | Callable[[list[ModelMessage], AgentInfo], Turn]


@dataclass
class ScriptedModel:
    steps: Sequence[ScriptStep]
    requests: list[list[ModelMessage]] = field(default_factory=list)
    infos: list[AgentInfo] = field(default_factory=list)
    model_name: str = "scripted"

    def _next(self, messages: list[ModelMessage], info: AgentInfo) -> Turn:
        index = len(self.requests)
        self.requests.append(list(messages))
        self.infos.append(info)
        if index >= len(self.steps):
            raise AssertionError(f"scripted model: no step {index + 1} (script has {len(self.steps)})")
        step = self.steps[index]
        return step if isinstance(step, Turn) else step(messages, info)

    def _ids(self, turn: Turn) -> list[str]:
        n = len(self.requests)
        return [f"call_{n}_{i}" for i in range(len(turn.tool_calls))]

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        turn = self._next(messages, info)
        parts: list[Any] = [TextPart(turn.text)] if turn.text else []
        for call_id, (name, args) in zip(self._ids(turn), turn.tool_calls, strict=True):
            parts.append(ToolCallPart(name, args if isinstance(args, str) else dict(args), tool_call_id=call_id))
        return ModelResponse(parts=parts, model_name=self.model_name)

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        turn = self._next(messages, info)
        if turn.text:
            size = turn.chunk or len(turn.text)
            for start in range(0, len(turn.text), size):
                yield turn.text[start : start + size]
        for index, (call_id, (name, args)) in enumerate(zip(self._ids(turn), turn.tool_calls, strict=True)):
            raw = args if isinstance(args, str) else json.dumps(args)
            yield {index: DeltaToolCall(name=name, json_args=raw, tool_call_id=call_id)}

    def model(self) -> FunctionModel:
        return FunctionModel(self.respond, stream_function=self.stream, model_name=self.model_name)


def scripted_model(steps: Sequence[ScriptStep], *, model_name: str = "scripted") -> tuple[FunctionModel, ScriptedModel]:
    """A `FunctionModel` playing `steps`, and the script object that records what it was sent."""
    script = ScriptedModel(list(steps), model_name=model_name)
    return script.model(), script
