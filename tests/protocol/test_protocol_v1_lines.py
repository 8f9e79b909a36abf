"""Lines tau wrote before the v2 vocabulary still read: `parse_event` upgrades each v1 type and field, leaves v2 lines
alone, and a `tau serve` journal of v1 events is replayed in v2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from protocol_sequence import V1_LINES, V2_EVENTS
from pydantic import ValidationError

from tau.protocol import EVENT_ADAPTER, RetryScheduled, RunCompleted, parse_event
from tau.protocol.upgrade import V1_TYPES, upgrade
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.events import event_json
from tau.rpc.journal import ServeJournal


@pytest.mark.parametrize("v1_type", sorted(V1_LINES))
def test_a_v1_line_reads_as_its_v2_event(v1_type: str) -> None:
    line = V1_LINES[v1_type]
    seq = json.loads(line)["seq"]
    expected = V2_EVENTS[seq].model_copy(update={"seq": seq})
    assert parse_event(line) == expected
    assert parse_event(line.encode()) == expected
    assert parse_event(json.loads(line)) == expected
    assert V1_TYPES.get(v1_type, v1_type) == expected.type


def test_the_v1_lines_cover_every_renamed_type() -> None:
    assert set(V1_TYPES) <= set(V1_LINES)


def test_a_v1_line_does_not_validate_as_v2_without_the_upgrade() -> None:
    for v1_type, line in V1_LINES.items():
        if v1_type == "session.started":  # same fields in v1; only its schema_version differs
            assert parse_event(line).model_dump()["schema_version"] == "2.0"
            continue
        with pytest.raises(ValidationError):
            EVENT_ADAPTER.validate_json(line)


def test_v2_lines_pass_through_unchanged() -> None:
    for event in V2_EVENTS:
        dumped = event.model_dump(mode="json")
        assert upgrade(dumped) == dumped
        assert parse_event(event.model_dump_json()) == event


def test_v1_values_that_changed_meaning() -> None:
    retry = parse_event('{"type": "retry", "attempt": 2, "delay_s": 0.25, "error": "x"}')
    assert retry == RetryScheduled(attempt=2, delay_ms=250.0, error="x")
    failed = parse_event('{"type": "run.completed", "status": "error", "terminal_reason": "internal_error", '
                         '"exit_code": 1, "session_id": "s"}')  # fmt: skip
    assert isinstance(failed, RunCompleted) and failed.status == "failed"


def test_what_is_not_an_event_still_fails() -> None:
    for bad in ('{"type": "usage", "input_tokens": "many"}', '{"type": "nope"}', "[1]", "{}", "not json"):
        with pytest.raises(ValueError):
            parse_event(bad)


def test_a_serve_journal_of_v1_events_replays_in_v2(tmp_path: Path) -> None:
    journal = ServeJournal(tmp_path / "serve")
    journal.open()
    try:
        journal.save("s1", {"session_id": "s1"})
        lines = list(V1_LINES.values())
        for number, line in enumerate(lines):
            journal.append("s1", pb.RunResponse(seq=number, run=1, event_json=line))
        journal.append("s1", pb.RunResponse(seq=len(lines), run=1, event_json="{not an event"))
        [stored] = list(journal.load())
    finally:
        journal.close()
    replayed = [item.event_json for item in stored.events]
    assert replayed[:-1] == [event_json(parse_event(line)) for line in lines]
    assert replayed[-1] == "{not an event"  # kept as it was, never dropped
    v2_types = [json.loads(text)["type"] for text in replayed[:-1]]
    assert not set(v2_types) & set(V1_TYPES)
