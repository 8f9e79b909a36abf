"""Helpers shared by the control tests (imported by module name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec


def make_job(workspace: Path, **overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "source": "<test>",
        "prompt": "do the task",
        "model": ModelSpec(provider="test", name="scripted"),
        "environment": EnvironmentSpec(workspace=str(workspace)),
        "permissions": PermissionsSpec(mode="acceptEdits", allow=("Bash(*)",)),
    }
    fields.update(overrides)
    return JobSpec(**fields)


def tool_returns(messages: list[ModelMessage], name: str | None = None) -> list[ToolReturnPart]:
    return [
        p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart) and (name is None or p.tool_name == name)
    ]


def user_prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        p.content
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart) and isinstance(p.content, str)
    ]
