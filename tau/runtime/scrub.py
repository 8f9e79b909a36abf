"""Model output that tau can store and print: lone surrogates in a response replaced before anything uses it.

A provider's JSON may escape a lone UTF-16 surrogate (`"\\udcff"`); Python then holds a str no UTF-8 encoder accepts,
and the event stream, the session store and the next request would all fail on it. `scrub_response` rewrites the
response's text, thinking and tool-call arguments in place (U+FFFD), right after the model answered and before its
tool calls run, so the history, the events and the tools all see the same, encodable text.
"""

from __future__ import annotations

from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart, ToolCallPart

from tau.protocol.printable import scrub, scrub_value

__all__ = ["scrub_response"]


def scrub_response(response: ModelResponse) -> None:
    for part in response.parts:
        if isinstance(part, TextPart | ThinkingPart):
            part.content = scrub(part.content)
        elif isinstance(part, ToolCallPart):
            part.args = scrub(part.args) if isinstance(part.args, str) else scrub_value(part.args)  # type: ignore[assignment]
