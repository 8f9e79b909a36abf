"""Record and replay of model exchanges: `--record FILE` writes a cassette, provider `replay` serves it back offline.

Owns the cassette file format, `RecordingModel` (a `WrapperModel` that appends one step per completed model exchange)
and `ReplayModel` (a `Model` that serves recorded responses in order, with no network).

Cassette format (JSON, indented, version 1)::

    {
      "format": "tau-cassette",
      "version": 1,
      "model_name": "gpt-4o-mini",          # what the recorded model reported; ReplayModel reports it too
      "system": "openai",
      "steps": [
        {
          "step": 1,
          "stream": true,                  # recorded through request_stream (informative; replay serves both)
          "tools": ["bash", "read"],       # function tools offered, sorted
          "output_tools": ["final_result"],
          "output_mode": "text",
          "messages": [...],               # the messages new since the previous step (ModelMessagesTypeAdapter)
          "response": {...}                # the ModelResponse (ModelMessagesTypeAdapter, one-element list unwrapped)
        }
      ]
    }

Invariants:
- Messages and responses are serialized only through pydantic-ai's `ModelMessagesTypeAdapter`; tau never writes a
  message schema of its own.
- A step is stored only once its exchange completed (a failed request or broken stream records nothing), and the
  file is rewritten atomically (temp file + fsync + rename) after every step, so a crash keeps every completed step.
- Only the messages new since the previous model response are stored per step (the trailing requests), so a cassette
  grows linearly with the run, and the divergence check compares exactly what changed between steps.
- Replay is deterministic: step N answers request N. Before answering, the incoming request's fingerprint (user prompt
  text, tool results by tool name, retry feedback, tools offered, output mode — never timestamps, ids or system prompts,
  which carry paths and dates) must equal the recorded one, else `ReplayDivergence` names the step and the difference.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError
from pydantic_ai.messages import (
    BaseToolReturnPart,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    UserPromptPart,
)
from pydantic_ai.models import CompletedStreamedResponse, Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from tau.errors import ConfigError, ReplayDivergence

if TYPE_CHECKING:
    from pydantic_ai._run_context import RunContext

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_VERSION",
    "Cassette",
    "CassetteStep",
    "RecordingModel",
    "ReplayModel",
    "StepFingerprint",
    "fingerprint",
    "new_messages",
]

CASSETTE_FORMAT = "tau-cassette"
CASSETTE_VERSION = 1
_SHOWN = 60  # characters of a differing value quoted in a divergence message


WORKSPACE_TOKEN = "<workspace>"


@dataclass(frozen=True)
class StepFingerprint:
    """What must match between a recorded and a replayed request. `inputs` are (kind, tool name, text) triples."""

    inputs: tuple[tuple[str, str, str], ...]
    tools: tuple[str, ...]
    output_tools: tuple[str, ...]
    output_mode: str

    def difference(self, got: StepFingerprint) -> str | None:
        """One phrase saying how `got` differs from this recorded fingerprint, or None when they match."""
        for index, (recorded, actual) in enumerate(zip(self.inputs, got.inputs, strict=False)):
            if recorded != actual:
                return _input_difference(recorded, actual, index)
        if len(self.inputs) != len(got.inputs):
            extra = (got.inputs if len(got.inputs) > len(self.inputs) else self.inputs)[
                min(len(self.inputs), len(got.inputs))
            ]
            verb = "unexpected" if len(got.inputs) > len(self.inputs) else "missing"
            return f"{verb} {_label(extra)} (recorded {len(self.inputs)} inputs, got {len(got.inputs)})"
        if self.tools != got.tools:
            return f"tools offered differ (recorded {list(self.tools)}, got {list(got.tools)})"
        if self.output_tools != got.output_tools:
            return f"output tools differ (recorded {list(self.output_tools)}, got {list(got.output_tools)})"
        if self.output_mode != got.output_mode:
            return f"output mode differs (recorded {self.output_mode!r}, got {got.output_mode!r})"
        return None

    def relative_to(self, workspace: str | None) -> StepFingerprint:
        """The same fingerprint with the workspace path spelled `<workspace>`, so a cassette replays in any checkout."""
        if not workspace:
            return self
        inputs = tuple((kind, name, text.replace(workspace, WORKSPACE_TOKEN)) for kind, name, text in self.inputs)
        return StepFingerprint(inputs, self.tools, self.output_tools, self.output_mode)


def _label(item: tuple[str, str, str]) -> str:
    kind, name, _ = item
    return f"{kind} for {name!r}" if name else kind


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def _input_difference(recorded: tuple[str, str, str], got: tuple[str, str, str], index: int) -> str:
    if recorded[:2] != got[:2]:
        return f"input {index + 1} differs (recorded {_label(recorded)}, got {_label(got)})"
    return f"{_label(recorded)} differs (recorded {_shown(recorded[2])}, got {_shown(got[2])})"


def new_messages(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """The messages after the last model response: what this request adds to the conversation."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], ModelResponse):
            return list(messages[index + 1 :])
    return list(messages)


def fingerprint(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> StepFingerprint:
    """The normalized fingerprint of one request, from its new messages and the tools and output mode it offers."""
    inputs: list[tuple[str, str, str]] = []
    for message in new_messages(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                inputs.append(("user prompt", "", _user_text(part)))
            elif isinstance(part, BaseToolReturnPart):
                inputs.append(("tool result", part.tool_name, part.model_response_str()))
            elif isinstance(part, RetryFeedbackPart):
                inputs.append(("retry feedback", "", part.model_response()))
    return StepFingerprint(
        inputs=tuple(inputs),
        tools=tuple(sorted(tool.name for tool in params.function_tools)),
        output_tools=tuple(sorted(tool.name for tool in params.output_tools)),
        output_mode=str(params.output_mode),
    )


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    pieces = [item if isinstance(item, str) else f"<{type(item).__name__}>" for item in part.content]
    return "\n".join(pieces)


@dataclass(frozen=True)
class CassetteStep:
    """One recorded exchange: what the request added, what it offered, and the response."""

    messages: list[ModelMessage]
    response: ModelResponse
    tools: tuple[str, ...]
    output_tools: tuple[str, ...]
    output_mode: str
    stream: bool

    @property
    def fingerprint(self) -> StepFingerprint:
        recorded = fingerprint(self.messages, ModelRequestParameters())
        return StepFingerprint(recorded.inputs, self.tools, self.output_tools, self.output_mode)

    def to_json(self, number: int) -> dict[str, Any]:
        return {
            "step": number,
            "stream": self.stream,
            "tools": list(self.tools),
            "output_tools": list(self.output_tools),
            "output_mode": self.output_mode,
            "messages": ModelMessagesTypeAdapter.dump_python(self.messages, mode="json"),
            "response": ModelMessagesTypeAdapter.dump_python([self.response], mode="json")[0],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CassetteStep:
        response = ModelMessagesTypeAdapter.validate_python([data["response"]])[0]
        if not isinstance(response, ModelResponse):
            raise ValueError("a step's response is not a model response")
        return cls(
            messages=ModelMessagesTypeAdapter.validate_python(data["messages"]),
            response=response,
            tools=tuple(data.get("tools", ())),
            output_tools=tuple(data.get("output_tools", ())),
            output_mode=str(data.get("output_mode", "text")),
            stream=bool(data.get("stream", False)),
        )


@dataclass
class Cassette:
    """The recorded steps of one run, with the model that produced them."""

    model_name: str
    system: str
    steps: list[CassetteStep]
    workspace: str | None = None  # the workspace root at record time; tool results are compared relative to it

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CASSETTE_FORMAT,
            "version": CASSETTE_VERSION,
            "model_name": self.model_name,
            "system": self.system,
            "workspace": self.workspace,
            "steps": [step.to_json(number) for number, step in enumerate(self.steps, start=1)],
        }

    def save(self, path: Path) -> None:
        """Write atomically: a temp file in the same directory, fsync'd, renamed over `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette; an unreadable or foreign file is a `ConfigError` naming the file."""
        source = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("cassette not found", source=source) from None
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read cassette: {err}", source=source) from err
        if not isinstance(data, dict) or data.get("format") != CASSETTE_FORMAT:
            raise ConfigError(f"not a tau cassette (expected format {CASSETTE_FORMAT!r})", source=source)
        data = cast(dict[str, Any], data)
        if data.get("version") != CASSETTE_VERSION:
            raise ConfigError(
                f"unsupported cassette version {data.get('version')!r} (this tau reads {CASSETTE_VERSION})",
                source=source,
            )
        try:
            steps = [CassetteStep.from_json(step) for step in data.get("steps", [])]
        except (KeyError, TypeError, ValueError, ValidationError) as err:
            raise ConfigError(f"malformed cassette step: {' '.join(str(err).split())[:200]}", source=source) from err
        workspace = data.get("workspace")
        return cls(
            model_name=str(data.get("model_name", "replay")),
            system=str(data.get("system", "replay")),
            steps=steps,
            workspace=workspace if isinstance(workspace, str) else None,
        )


def _step(
    messages: list[ModelMessage], params: ModelRequestParameters, response: ModelResponse, *, stream: bool
) -> CassetteStep:
    recorded = fingerprint(messages, params)
    return CassetteStep(
        messages=new_messages(messages),
        response=response,
        tools=recorded.tools,
        output_tools=recorded.output_tools,
        output_mode=recorded.output_mode,
        stream=stream,
    )


class RecordingModel(WrapperModel):
    """Passes every request through to the wrapped model and appends each completed exchange to a cassette file.

    Wrap it outside `RetryingModel` so only the attempt that succeeded is recorded.
    """

    def __init__(self, wrapped: Model, path: str | Path, *, workspace: str | None = None) -> None:
        super().__init__(wrapped)
        self.path = Path(path)
        self.cassette = Cassette(model_name=wrapped.model_name, system=wrapped.system, steps=[], workspace=workspace)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        self._record(_step(messages, model_request_parameters, response, stream=False))
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        # Reached only when the consumer finished without an error: a broken stream records nothing.
        self._record(_step(messages, model_request_parameters, stream.get(), stream=True))

    def _record(self, step: CassetteStep) -> None:
        if self.cassette.model_name != step.response.model_name and step.response.model_name:
            self.cassette.model_name = step.response.model_name
        self.cassette.steps.append(step)
        self.cassette.save(self.path)


class ReplayModel(Model):
    """Serves a cassette's responses in order, checking each request against the recorded one. No network."""

    def __init__(self, cassette: Cassette, *, source: str = "<cassette>", workspace: str | None = None) -> None:
        super().__init__()
        self.cassette = cassette
        self.source = source
        self.workspace = workspace  # this run's workspace root, matched against the cassette's
        self.position = 0

    @classmethod
    def load(cls, path: str | Path, *, workspace: str | None = None) -> ReplayModel:
        return cls(Cassette.load(path), source=str(path), workspace=workspace)

    @property
    def model_name(self) -> str:
        return self.cassette.model_name

    @property
    def system(self) -> str:
        return self.cassette.system

    def _next(self, messages: list[ModelMessage], params: ModelRequestParameters) -> ModelResponse:
        number = self.position + 1
        if self.position >= len(self.cassette.steps):
            raise ReplayDivergence(
                f"replay diverged at step {number}: cassette has only {len(self.cassette.steps)} steps"
            )
        step = self.cassette.steps[self.position]
        recorded = step.fingerprint.relative_to(self.cassette.workspace)
        difference = recorded.difference(fingerprint(messages, params).relative_to(self.workspace))
        if difference is not None:
            raise ReplayDivergence(f"replay diverged at step {number}: {difference}")
        self.position += 1
        return step.response

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = self._next(messages, model_request_parameters)
        self.prepare_request(model_settings, model_request_parameters)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        response = self._next(messages, model_request_parameters)
        _, params = self.prepare_request(model_settings, model_request_parameters)
        # pydantic-ai's own machinery: one PartStartEvent per recorded part, PartEnd/FinalResult added by the base.
        yield CompletedStreamedResponse(response, model_request_parameters=params, replay_events=True)
