"""First-use caches of the run path, filled once in `tau serve --local`'s parent (issue #19, the warm path).

Every forked run inherits the parent's memory, so a cache the parent filled is a cache no run fills again. Profiled
in a warm run's child (the bench's 2-step openai-chat task), three libraries fill theirs on a run's first request:
- the openai SDK resolves the type hints of every TypedDict a request's parameters pass through (`_transform`,
  lru-cached): ~50-85 ms on a run's first chat request;
- genai-prices matches the model and the API URL against every provider's regexes to find a context window and a
  price (`re`'s compile cache): ~30-70 ms;
and pydantic builds on first use pydantic-ai's message adapter, tau's event models and the built-in tools' function
schemas (~0.1 s).
`fill()` walks each once with a representative request, in the parent, single-threaded, offline (no client, no
socket: the transforms and lookups are pure functions), and swallows any error: a cache left cold only costs a run
the time it costs without a server.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["fill"]

_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
            "strict": False,
        },
    }
]
_CHAT: dict[str, Any] = {
    "model": "tau-warm-up",
    "messages": [
        {"role": "system", "content": "instructions"},
        {"role": "user", "content": "prompt"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "true"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "more"}]},
    ],
    "tools": _TOOLS,
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_completion_tokens": 1024,
    "temperature": 0.0,
}


def fill() -> None:
    """Fill the caches above; never raises."""
    for step in (_schemas, _openai, _prices):
        with contextlib.suppress(Exception):
            step()


def _schemas() -> None:
    from pydantic import BaseModel
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    import tau.protocol
    from tau.tools import TOOL_FACTORIES, ToolLimits, build_toolset

    ModelMessagesTypeAdapter.validate_python([])
    build_toolset(list(TOOL_FACTORIES), limits=ToolLimits())  # tau.tool_schemas keeps their function schemas
    tau.protocol.EVENT_ADAPTER.rebuild()
    for value in vars(tau.protocol).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            value.model_rebuild()


def _openai() -> None:
    from openai._utils._transform import transform
    from openai.types.chat import completion_create_params

    transform(_CHAT, completion_create_params.CompletionCreateParamsStreaming)


def _prices() -> None:
    from pydantic_ai._genai_prices import lookup_context_window

    for provider, url in (("openai", "http://127.0.0.1/v1"), ("anthropic", "http://127.0.0.1")):
        lookup_context_window("tau-warm-up", provider_api_url=url, provider_name=provider)
