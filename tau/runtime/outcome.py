"""How a run's end becomes its terminal reason: exceptions out of the loop as tau's typed errors, and answers cut off
at the model's output token limit.

Owns `failure(caught, messages)` (an exception the loop raised -> the `TauError` the terminal event reports),
`truncation(messages)` (a normal end whose last answer has `finish_reason: length` -> `OutputTruncated`, exit 5) and
`truncation_notice(response)` (the notice emitted for every response cut off that way).

Invariants: every message is one line with no SDK dump in it (provider errors go through
`models.as_provider_error`, whose `retryable` is whether the failure was transient); only failures nobody foresaw
become `InternalError`. Secrets are masked by the emitter, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.exceptions import IncompleteToolCall, ModelAPIError, UnexpectedModelBehavior, UsageLimitExceeded
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart

from tau.errors import InternalError, ModelBehaviorError, OutputTruncated, TauError
from tau.models.build import as_provider_error, is_malformed

__all__ = ["failure", "truncation", "truncation_notice"]

_CAP = 240
_CUT = "was cut off at the model's output token limit (finish_reason: length)"
_ADVICE = "raise the model's max_tokens setting or ask for a shorter answer"


def failure(caught: Exception, messages: Sequence[ModelMessage]) -> TauError:
    """The terminal error for an exception the loop raised (not a `TauError`, a timeout or a cancellation)."""
    if isinstance(caught, ModelAPIError) or is_malformed(caught):
        return as_provider_error(caught)
    if isinstance(caught, IncompleteToolCall) or (isinstance(caught, UnexpectedModelBehavior) and _cut_off(messages)):
        what = "a tool call" if isinstance(caught, IncompleteToolCall) else "the response"
        return OutputTruncated(f"{what} {_CUT}; {_ADVICE}")
    if isinstance(caught, UnexpectedModelBehavior | UsageLimitExceeded):
        return ModelBehaviorError(f"model error: {_line(caught.message)}")
    error = InternalError(f"internal error: {type(caught).__name__}: {_line(str(caught))}")
    error.__cause__ = caught
    return error


def truncation(messages: Sequence[ModelMessage]) -> OutputTruncated | None:
    """`OutputTruncated` when the run's final answer (text, no tool call) ended with `finish_reason: length`."""
    response = _last_response(messages)
    if response is None or response.finish_reason != "length" or response.tool_calls:
        return None
    if not any(isinstance(part, TextPart) for part in response.parts):
        return None
    return OutputTruncated(f"the answer {_CUT}; {_ADVICE}")


def truncation_notice(response: ModelResponse, turn: int) -> str | None:
    """The notice for a response cut off at the output token limit, None for any other."""
    if response.finish_reason != "length":
        return None
    return f"model response {turn} was cut off at the output token limit (finish_reason: length)"


def _cut_off(messages: Sequence[ModelMessage]) -> bool:
    response = _last_response(messages)
    return response is not None and response.finish_reason == "length"


def _last_response(messages: Sequence[ModelMessage]) -> ModelResponse | None:
    return next((message for message in reversed(messages) if isinstance(message, ModelResponse)), None)


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CAP else text[: _CAP - 1] + "…"
