"""`--output claude-stream-json` does not move with tau's own event vocabulary: a run covering every event type renders
to the exact bytes pinned in `claude_stream.golden.jsonl` (produced by the v1 renderer from the same run in v1 events
and checked identical when the vocabulary became v2)."""

from __future__ import annotations

import io
from pathlib import Path

from protocol_sequence import V2_EVENTS

from tau.cli.render import ClaudeStreamJsonRenderer, make_renderer

GOLDEN = Path(__file__).with_name("claude_stream.golden.jsonl")


def test_claude_stream_json_is_byte_identical_to_the_pinned_output() -> None:
    out = io.StringIO()
    renderer = make_renderer("claude-stream-json", out, io.StringIO(), tty=False)
    assert isinstance(renderer, ClaudeStreamJsonRenderer)
    for event in V2_EVENTS:
        renderer(event)
    renderer.close()
    assert out.getvalue() == GOLDEN.read_text(encoding="utf-8")


def test_tau_only_events_add_no_claude_line() -> None:
    kept = {"session.started", "message.completed", "tool.started", "tool.completed", "turn.started", "run.completed"}
    out = io.StringIO()
    renderer = ClaudeStreamJsonRenderer(out)
    for event in V2_EVENTS:
        if event.type not in kept:
            renderer(event)
    renderer.close()
    assert out.getvalue() == ""
