"""One pydantic-ai function schema per tool signature per process: `cached_tool` (issue #19, the warm path).

Used by every tool tau builds per run: the built-in tools (tau.tools), memory, skill, ask_user and task. It sits in
the bottom layer so each of them may use it. A built-in tool is a closure made per run (it captures the run's
`ToolLimits`), so `Tool(fn)` would build its
pydantic validator and JSON schema again for every run: ~5 ms a tool, ~30 ms a run for the default set, most of
what a warm run spends before its first model request. Every closure of one `def` has the same signature, docstring
and annotations, so the schema depends only on the code object (and the defaults): `cached_tool` builds it for the
first closure, and later closures reuse its validator with their own function bound (`FunctionSchema.function`).
`tau serve --local` builds them before it forks (`warm_server._preload`), so a warm run builds none.

Invariants: the key is the code object, the tool name and the reprs of the defaults (two closures that could
differ in their schema never share one); each `Tool` gets its own deep copy of the JSON schema (nothing downstream
can change another run's tool definition through a shared dict); the cache grows with code objects only, a handful
a process.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from pydantic_ai._function_schema import FunctionSchema
from pydantic_ai.tools import Tool

__all__ = ["cached_tool"]

_SCHEMAS: dict[tuple[object, str, str, str], FunctionSchema] = {}


def cached_tool(function: Callable[..., Any], *, name: str, description: str | None = None) -> Tool[None]:
    """`Tool(function, name=name, description=description)`, with the function schema built once per signature."""
    key = (function.__code__, name, repr(function.__defaults__), repr(function.__kwdefaults__))
    known = _SCHEMAS.get(key)
    if known is None:
        tool: Tool[None] = Tool(function, name=name, description=description)
        _SCHEMAS[key] = dataclasses.replace(
            tool.function_schema, json_schema=copy.deepcopy(tool.function_schema.json_schema)
        )
        return tool
    schema = dataclasses.replace(known, function=function, json_schema=copy.deepcopy(known.json_schema))
    return Tool(function, name=name, description=description, function_schema=schema)
