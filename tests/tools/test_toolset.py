"""build_toolset: names, schemas the model sees (Claude Code argument names), limits from the job spec."""

from __future__ import annotations

import pytest
from pydantic_ai import RunContext
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from tau.config.spec import BUILTIN_TOOLS, LimitsSpec
from tau.errors import ConfigError
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio


async def _definitions(names: tuple[str, ...]) -> dict[str, dict[str, object]]:
    toolset = build_toolset(names, limits=ToolLimits())
    ctx = RunContext[None](deps=None, model=TestModel(), usage=RunUsage())
    tools = await toolset.get_tools(ctx)
    return {
        name: {"description": tool.tool_def.description, **tool.tool_def.parameters_json_schema}
        for name, tool in tools.items()
    }


async def test_schemas_use_claude_code_argument_names() -> None:
    definitions = await _definitions(BUILTIN_TOOLS)
    assert list(definitions) == list(BUILTIN_TOOLS)
    properties = {name: list(definition["properties"]) for name, definition in definitions.items()}  # type: ignore[call-overload]
    assert properties == {
        "read": ["file_path", "offset", "limit"],
        "write": ["file_path", "content"],
        "edit": ["file_path", "old_string", "new_string", "replace_all"],
        "bash": ["command", "timeout", "description"],
        "glob": ["pattern", "path"],
        "grep": ["pattern", "path", "glob", "output_mode", "-i", "-n", "-A", "-B", "-C", "head_limit"],
    }
    required = {name: definition.get("required") for name, definition in definitions.items()}
    assert required == {
        "read": ["file_path"],
        "write": ["file_path", "content"],
        "edit": ["file_path", "old_string", "new_string"],
        "bash": ["command"],
        "glob": ["pattern"],
        "grep": ["pattern"],
    }
    for definition in definitions.values():
        description = str(definition["description"])
        assert 40 < len(description) < 800
        assert "Args:" not in description  # parameter docs went into the schema


async def test_subset_order_and_duplicates() -> None:
    assert list(await _definitions(("grep", "read", "grep"))) == ["grep", "read"]


def test_unknown_tool_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown built-in tool\(s\): sudo \(known: read, write"):
        build_toolset(["read", "sudo"], limits=ToolLimits())


def test_limits_from_spec_and_validation() -> None:
    limits = ToolLimits.from_spec(LimitsSpec(tool_timeout=30, tool_output_chars=5000))
    assert (limits.bash_timeout, limits.bash_max_timeout, limits.max_output_chars) == (30, 600, 5000)
    assert ToolLimits.from_spec(LimitsSpec(tool_timeout=900)).bash_max_timeout == 900
    with pytest.raises(ValueError, match="bash_timeout"):
        ToolLimits(bash_timeout=0)
