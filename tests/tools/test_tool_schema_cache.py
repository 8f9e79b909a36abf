"""tau.tool_schemas: a tool's function schema is built once per signature, and every run's tool still calls its own
closure (its own limits) with its own copy of the JSON schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic_ai.messages import ToolReturnPart
from pydantic_ai.tools import Tool

from tau.config.spec import BUILTIN_TOOLS
from tau.tool_schemas import cached_tool
from tau.tools import TOOL_FACTORIES, ToolLimits, build_toolset

pytestmark = pytest.mark.anyio


def test_closures_share_the_validator_not_the_function_or_schema_dict() -> None:
    first = build_toolset(BUILTIN_TOOLS, limits=ToolLimits()).tools
    second = build_toolset(BUILTIN_TOOLS, limits=ToolLimits(max_output_chars=300)).tools
    for name in BUILTIN_TOOLS:
        a, b = first[name].function_schema, second[name].function_schema
        assert a.validator is b.validator  # built once
        assert a.function is not b.function  # each run calls its own closure
        assert first[name].function is a.function and second[name].function is b.function
        assert a.json_schema == b.json_schema and a.json_schema is not b.json_schema


def test_cached_definitions_equal_uncached_ones() -> None:
    for name, factory in TOOL_FACTORIES.items():
        cached = factory(ToolLimits())
        fresh = Tool(cached.function, name=name)
        assert cached.tool_def == fresh.tool_def, name
        assert cached.function_schema.json_schema == fresh.function_schema.json_schema


def test_the_key_tells_names_and_defaults_apart() -> None:
    def make(default: int) -> Callable[..., Awaitable[str]]:
        async def probe(value: int = default) -> str:
            """Echo a value.

            Args:
                value: What to echo.
            """
            return str(value)

        return probe

    one, two = make(1), make(2)
    assert cached_tool(one, name="probe").tool_def.parameters_json_schema["properties"]["value"]["default"] == 1
    assert cached_tool(two, name="probe").tool_def.parameters_json_schema["properties"]["value"]["default"] == 2
    assert cached_tool(one, name="other").tool_def.name == "other"


async def test_each_run_keeps_its_own_limits(run_one: Callable[..., Awaitable[ToolReturnPart]]) -> None:
    args: dict[str, Any] = {"command": "seq 1 5000"}
    wide = await run_one("bash", args)
    narrow = await run_one("bash", args, limits=ToolLimits(max_output_chars=300))
    again = await run_one("bash", args)
    assert len(str(narrow.content)) < 600 < len(str(wide.content))
    assert again.content == wide.content
