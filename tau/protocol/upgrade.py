"""Reading event lines of any major: v1 lines (tau before the v2 vocabulary) are upgraded to v2 before validation.

Where old lines live: `tau watch` reports (`events.jsonl`), the `tau serve` journal (`event_json` of each stored
`RunResponse`, upgraded when the journal loads), and whatever a user kept of `--output stream-json`. Invariants:

- `upgrade` is pure and idempotent: a v2 object comes back equal; a v1 object comes back in v2 shape (renamed type
  and fields, the flat usage of `usage` nested under `usage`, the retry delay in milliseconds, the `error` status
  of v1's `run.completed` read as `failed`). A v1 `session.started` says `schema_version` 2.0 afterwards: the line
  is v2 now (`tau_version` still names the tau that wrote it).
- Renames apply only where the old key is present and the new one absent, so no v2 line is ever rewritten.
- `parse_event` validates against `EVENT_ADAPTER` (pydantic's `ValidationError` for anything else).

Leaf module: imports nothing from tau outside the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tau.protocol.events import EVENT_ADAPTER, SCHEMA_VERSION, Event

V1_TYPES: dict[str, str] = {
    "usage": "usage.updated",
    "retry": "retry.scheduled",
    "notice": "notice.emitted",
    "plan": "plan.submitted",
    "compaction": "compaction.applied",
}
"""v1 event type -> v2 event type (types not listed kept their name)."""

V1_FIELDS: dict[str, dict[str, str]] = {
    "tool.started": {"name": "tool"},
    "tool.completed": {"name": "tool"},
    "message.completed": {"tool_calls": "tools", "model_name": "model"},
    "hook.ran": {"event": "hook_event"},
    "subagent.started": {"session_id": "child_session_id"},
    "subagent.completed": {"session_id": "child_session_id"},
    "compaction.applied": {"before_tokens": "tokens_before", "after_tokens": "tokens_after"},
}
"""v2 event type -> {v1 field: v2 field}."""

_V1_USAGE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests", "tool_calls")


def upgrade(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One event object of any major in the current (v2) shape; see the module docstring."""
    out = dict(obj)
    kind = out.get("type")
    if not isinstance(kind, str):
        return out
    kind = V1_TYPES.get(kind, kind)
    out["type"] = kind
    for old, new in V1_FIELDS.get(kind, {}).items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    if kind == "usage.updated" and "usage" not in out:
        out["usage"] = {key: out.pop(key) for key in _V1_USAGE if key in out}
    elif kind == "retry.scheduled" and "delay_s" in out and "delay_ms" not in out:
        delay = out.pop("delay_s")
        out["delay_ms"] = round(delay * 1000, 3) if isinstance(delay, int | float) else delay
    elif kind == "run.completed" and out.get("status") == "error":
        out["status"] = "failed"
    elif kind == "session.started" and str(out.get("schema_version", "")).startswith("1."):
        out["schema_version"] = SCHEMA_VERSION
    return out


def parse_event(data: str | bytes | Mapping[str, Any]) -> Event:
    """One event line (JSON text or an already decoded object) of any major, as a v2 event."""
    obj = json.loads(data) if isinstance(data, str | bytes) else data
    if not isinstance(obj, Mapping):
        return EVENT_ADAPTER.validate_python(obj)  # raises: not an event object
    return EVENT_ADAPTER.validate_python(upgrade(obj))
