"""pydantic-ai messages as the viewer shows them: plain JSON objects, one per message, one per part worth showing.

    request   {"role": "request", "time", "parts": [user | system | instructions | tool_return | retry | other]}
    response  {"role": "response", "time", "model", "usage", "parts": [text | thinking | tool_call | other]}
    part      {"kind", "text"?, "tool"?, "call_id"?, "args"?, "outcome"?, "time"?, "cut"?}

Invariants: every string here is data for the page to show as text (the page never parses it as HTML); a text longer
than `TEXT_CAP` characters is cut to it and says its full length in `cut`; tool arguments whose JSON is longer than
`TEXT_CAP` become `{"_truncated": <the start of that JSON>}`. Pure; reads nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    UserPromptPart,
)

__all__ = ["TEXT_CAP", "message_view", "messages_view"]

TEXT_CAP = 100_000
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _time(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _text(kind: str, text: str, **fields: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"kind": kind, **fields}
    if len(text) > TEXT_CAP:
        shown["text"] = text[:TEXT_CAP]
        shown["cut"] = len(text)
    else:
        shown["text"] = text
    return shown


def _args(part: BaseToolCallPart) -> dict[str, Any]:
    try:
        args = part.args_as_dict()
    except (ValueError, TypeError):  # invalid JSON from the model
        args = {"_raw": str(part.args)}
    encoded = json.dumps(args, ensure_ascii=False, default=str)
    return args if len(encoded) <= TEXT_CAP else {"_truncated": encoded[:TEXT_CAP]}


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item if isinstance(item, str) else f"[{type(item).__name__}]" for item in part.content)


def _request_part(part: object) -> dict[str, Any]:
    if isinstance(part, UserPromptPart):
        return _text("user", _user_text(part), time=_time(part.timestamp))
    if isinstance(part, SystemPromptPart):
        return _text("system", part.content)
    if isinstance(part, BaseToolReturnPart):
        outcome = str(getattr(part, "outcome", "success") or "success")
        fields = {"tool": part.tool_name, "call_id": part.tool_call_id, "outcome": outcome}
        return _text("tool_return", part.model_response_str(), time=_time(part.timestamp), **fields)
    if isinstance(part, RetryPromptPart):
        return _text("retry", part.model_response(), tool=part.tool_name, call_id=part.tool_call_id)
    return _other(part)


def _response_part(part: object) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return _text("text", part.content)
    if isinstance(part, ThinkingPart):
        return _text("thinking", part.content)
    if isinstance(part, BaseToolCallPart):
        return {"kind": "tool_call", "tool": part.tool_name, "call_id": part.tool_call_id, "args": _args(part)}
    return _other(part)


def _other(part: object) -> dict[str, Any]:
    """A part kind the viewer has no special rendering for: its kind and, if it has one, its text content."""
    kind = str(getattr(part, "part_kind", type(part).__name__))
    content = getattr(part, "content", None)
    return _text("other", content if isinstance(content, str) else "", part_kind=kind)


def _usage(message: ModelResponse) -> dict[str, int]:
    usage = message.usage
    return {key: int(getattr(usage, key, 0) or 0) for key in _USAGE_KEYS if getattr(usage, key, 0)}


def message_view(message: ModelMessage) -> dict[str, Any]:
    """One message as the viewer's JSON (see the module docstring)."""
    if isinstance(message, ModelRequest):
        return {
            "role": "request",
            "time": _time(getattr(message, "timestamp", None)),
            "parts": [_request_part(part) for part in message.parts],
        }
    response: ModelResponse = message
    return {
        "role": "response",
        "time": _time(response.timestamp),
        "model": response.model_name,
        "usage": _usage(response),
        "parts": [_response_part(part) for part in response.parts],
    }


def messages_view(messages: Sequence[ModelMessage]) -> list[dict[str, Any]]:
    return [message_view(message) for message in messages]
