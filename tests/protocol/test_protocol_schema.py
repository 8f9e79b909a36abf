"""The v2 event vocabulary: every definition and field documented, one naming rule, one field name per concept."""

from __future__ import annotations

import json
import re
import typing
from typing import Any

from click.testing import CliRunner
from pydantic import BaseModel

from tau.cli.main import cli
from tau.protocol import EVENT_ADAPTER, SCHEMA_VERSION, Event, event_json_schema
from tau.protocol.upgrade import V1_FIELDS, V1_TYPES

TYPE_NAME = re.compile(r"[a-z]+\.(?:[a-z]+ed|ran|delta)")  # <subject>.<past tense>, or <subject>.delta


def _event_classes() -> list[type[BaseModel]]:
    union = typing.get_args(Event)[0]
    return list(typing.get_args(union))


def _undocumented(schema: dict[str, Any]) -> list[str]:
    missing = [] if schema.get("description") else ["<root>"]
    for name, definition in schema["$defs"].items():
        if not str(definition.get("description", "")).strip():
            missing.append(name)
        for field, prop in definition.get("properties", {}).items():
            if not str(prop.get("description", "")).strip():
                missing.append(f"{name}.{field}")
    return missing


def test_every_definition_and_every_field_has_a_description() -> None:
    schema = event_json_schema()
    assert len(schema["$defs"]) == len(_event_classes()) + 4  # + EnvironmentInfo, McpServerInfo, UsageTotals, denial
    assert _undocumented(schema) == []


def test_the_check_catches_an_undocumented_field() -> None:
    schema = event_json_schema()
    del schema["$defs"]["ToolStarted"]["properties"]["tool"]["description"]
    schema["$defs"]["UsageTotals"]["description"] = " "
    assert _undocumented(schema) == ["ToolStarted.tool", "UsageTotals"]


def test_tau_schema_events_prints_the_documented_v2_schema() -> None:
    result = CliRunner().invoke(cli, ["schema", "events"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == event_json_schema()
    assert printed["$id"].endswith("/events/2.0.json")
    assert printed["$defs"]["RetryScheduled"]["properties"]["type"]["description"] == (
        "The event type, always `retry.scheduled`."
    )


def test_schema_version_is_major_two() -> None:
    assert SCHEMA_VERSION == "2.0"
    assert event_json_schema()["$defs"]["SessionStarted"]["properties"]["schema_version"]["default"] == "2.0"


def test_every_type_is_subject_dot_past_tense_and_unique() -> None:
    types = [cls.model_fields["type"].default for cls in _event_classes()]
    assert len(types) == len(set(types)) == 23
    assert [t for t in types if not TYPE_NAME.fullmatch(t)] == []
    assert set(V1_TYPES.values()) <= set(types)
    assert not set(V1_TYPES) & set(types)  # no v1-only name survives in v2


def test_one_field_name_per_concept() -> None:
    fields = {name for cls in _event_classes() for name in cls.model_fields}
    retired = {old for renames in V1_FIELDS.values() for old in renames} - {"session_id"}
    assert retired & fields == set()  # name, tool_calls, model_name, event, before_tokens, after_tokens: gone
    assert "delay_s" not in fields
    not_a_tool = ("SubagentStarted", "SubagentCompleted", "ClarificationRequested")  # their call is `task`/`ask_user`
    for cls in _event_classes():
        names = cls.model_fields
        if "call_id" in names and cls.__name__ not in not_a_tool:
            assert "tool" in names, cls.__name__  # a tool call's events say which tool, always as `tool`
        if "session_id" in names:
            assert cls.__name__ in ("SessionStarted", "RunCompleted"), cls.__name__  # the run's own session only
        for name, info in names.items():
            if name.endswith("_ms"):
                assert info.annotation in (float, float | None), (cls.__name__, name)
        if "usage" in names:
            assert names["usage"].annotation.__name__ == "UsageTotals", cls.__name__


def test_every_event_round_trips_through_its_json() -> None:
    from protocol_sequence import V2_EVENTS

    assert {e.type for e in V2_EVENTS} == {cls.model_fields["type"].default for cls in _event_classes()}
    for event in V2_EVENTS:
        assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event
