"""Shared helpers for the session store tests: step messages and a job config shaped like JobSpec.model_dump()."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONFIG: dict[str, Any] = {
    "prompt": "Fix the flaky test\nand explain why",
    "model": {"provider": "test", "name": "scripted"},
    "tools": ["read", "bash"],
}


def step_messages(n: int, size: int = 200) -> list[ModelMessage]:
    call_id = f"call-{n}"
    return [
        ModelResponse(
            parts=[TextPart(f"step {n}"), ToolCallPart("read", {"file_path": f"f{n}.py"}, tool_call_id=call_id)],
            timestamp=AT,
        ),
        ModelRequest(
            parts=[ToolReturnPart("read", "x" * size + str(n), tool_call_id=call_id, timestamp=AT)], timestamp=AT
        ),
    ]
