"""What `tau sessions show|log|diff|fsck` print: a transcript as entries (the text lines are rendered from them) and
the one JSON object each command prints with `--json`.

Shapes (documented in each command's help; tests/cli/test_cli_json.py pins them; new fields may be added, none
renamed or removed):

- transcript entry: `{"kind": "user"|"assistant"|"system", "text"}`, `{"kind": "tool_call", "tool", "call_id",
  "args"}`, `{"kind": "tool_result", "tool", "call_id", "outcome", "text"}` (outcome `success`, `denied`,
  `failed`...), `{"kind": "retry", "tool", "call_id", "text"}` (tool null for a retry of the final answer). Texts are
  whole in JSON; the text lines cut them to one line.
- `show`: `{"session", "snapshot", "step", "status", "created", "model", "workspace", "messages": [entry],
  "pending": [{"kind": "approval"|"question", "call_id", "tool", "args"}]}`.
- `log`: `{"session", "snapshots": [{"snapshot", "step", "status", "created", "pending", "tokens", "last": entry|null,
  "subagents": [child]}], "other_subagents": [child]}`; child: `{"session", "agent", "status", "parent_snapshot",
  "subagents": [child]}` (other_subagents: started from a snapshot outside this chain, or none recorded).
- `diff`: `{"a": {"name", "snapshot", "messages"}, "b": {...}, "common", "only_a": [entry], "only_b": [entry],
  "workspace": {"a", "b", "changes": [{"change": "added"|"removed"|"changed", "path", "patch": [line]}]}}` (`patch`
  only with --patch; workspace ids null when not pinned).
- `fsck`: `{"store", "exists", "ok", "problems": [{"path", "problem", "object"}], "interrupted": [{"session",
  "snapshot", "step", "status"}]}`.

Pure functions over what the store returns; pydantic-ai is imported inside them (this module loads with the CLI).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from tau.cli.stores import AnyStore
    from tau.runtime.features.subagents import ChildSession
    from tau.sessions import Transcript
    from tau.sessions.maintenance import Interrupted, Problem
    from tau.sessions.snapshot import Snapshot

__all__ = [
    "child_json",
    "diff_side",
    "entry_line",
    "fsck_json",
    "log_json",
    "show_json",
    "transcript_entries",
    "workspace_json",
]

Entry = dict[str, Any]


def transcript_entries(messages: Sequence[ModelMessage]) -> list[Entry]:
    """One entry per part worth showing: user, assistant, tool calls and results, retries, system prompts."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart

    entries: list[Entry] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            entries += [entry for part in message.parts if (entry := _request_entry(part)) is not None]
        elif isinstance(message, ModelResponse):
            for part in message.parts:
                if isinstance(part, TextPart) and part.content.strip():
                    entries.append({"kind": "assistant", "text": part.content})
                elif isinstance(part, ToolCallPart):
                    entries.append(
                        {"kind": "tool_call", "tool": part.tool_name, "call_id": part.tool_call_id, "args": _args(part)}
                    )
    return entries


def _request_entry(part: object) -> Entry | None:
    from pydantic_ai.messages import BaseToolReturnPart, RetryPromptPart, SystemPromptPart, UserPromptPart

    if isinstance(part, UserPromptPart):
        text = part.content if isinstance(part.content, str) else " ".join(map(str, part.content))
        return {"kind": "user", "text": text}
    if isinstance(part, BaseToolReturnPart):
        outcome = str(getattr(part, "outcome", "success"))
        return {
            "kind": "tool_result",
            "tool": part.tool_name,
            "call_id": part.tool_call_id,
            "outcome": outcome,
            "text": part.model_response_str(),
        }
    if isinstance(part, RetryPromptPart):
        return {"kind": "retry", "tool": part.tool_name, "call_id": part.tool_call_id, "text": part.model_response()}
    if isinstance(part, SystemPromptPart):
        return {"kind": "system", "text": part.content}
    return None


def _args(part: Any) -> dict[str, Any]:
    args: dict[str, Any] = part.args_as_dict()
    return args


def entry_line(entry: Entry, cut: Callable[[str], str]) -> str:
    """The text line of an entry (`user: …`, `tool → name {args} [id]`, `tool ← name [denied]: …`); `cut` shortens."""
    kind = entry["kind"]
    if kind == "tool_call":
        args = json.dumps(entry["args"], ensure_ascii=False)
        return f"tool → {entry['tool']} {cut(args)} [{entry['call_id']}]"
    if kind == "tool_result":
        mark = "" if entry["outcome"] == "success" else f" [{entry['outcome']}]"
        return f"tool ← {entry['tool']}{mark}: {cut(entry['text'])}"
    return f"{kind}: {cut(entry['text'])}"


def show_json(shown: Transcript) -> dict[str, Any]:
    """`tau sessions show --json`."""
    snap = shown.snapshot
    model = shown.config.get("model")
    environment = shown.config.get("environment")
    pending: list[dict[str, Any]] = []
    if shown.pending is not None:
        for kind, calls in (("approval", shown.pending.approvals), ("question", shown.pending.calls)):
            pending += [
                {"kind": kind, "call_id": call.tool_call_id, "tool": call.tool_name, "args": _args(call)}
                for call in calls
            ]
    return {
        "session": snap.session,
        "snapshot": snap.id,
        "step": snap.step,
        "status": snap.status,
        "created": snap.created,
        "model": f"{model.get('provider')}:{model.get('name')}" if isinstance(model, dict) else None,
        "workspace": environment.get("workspace") if isinstance(environment, dict) else None,
        "messages": transcript_entries(shown.messages),
        "pending": pending,
    }


def child_json(child: ChildSession, grandchildren: Callable[[str], list[ChildSession]]) -> dict[str, Any]:
    """A subagent session and, recursively, its own subagents (`grandchildren(session_id)` lists them)."""
    return {
        "session": child.session_id,
        "agent": child.agent or None,
        "status": child.status,
        "parent_snapshot": child.parent_snapshot,
        "subagents": [child_json(below, grandchildren) for below in grandchildren(child.session_id)],
    }


def diff_side(name: str, shown: Transcript) -> dict[str, Any]:
    return {"name": name, "snapshot": shown.snapshot.id, "messages": len(shown.messages)}


def fsck_json(root: str, exists: bool, problems: Sequence[Problem], notes: Sequence[Interrupted]) -> dict[str, Any]:
    """`tau sessions fsck --json` (ok: no problem; interrupted sessions are notes, not problems)."""
    return {
        "store": root,
        "exists": exists,
        "ok": not problems,
        "problems": [{"path": str(p.path), "problem": p.problem, "object": p.object_id} for p in problems],
        "interrupted": [
            {"session": n.session_id, "snapshot": n.snapshot_id, "step": n.step, "status": n.status} for n in notes
        ],
    }


def log_json(
    store: AnyStore, chain: Sequence[tuple[str, Snapshot]], children: dict[str | None, list[ChildSession]]
) -> dict[str, Any]:
    """`tau sessions log --json`: `chain` oldest first; `children` the subagent sessions by parent snapshot."""
    from tau.runtime.features.subagents import child_sessions
    from tau.sessions.snapshot import decode_messages

    def below(session_id: str) -> list[ChildSession]:
        return child_sessions(store, session_id)

    left = dict(children)
    snapshots: list[dict[str, Any]] = []
    for snapshot_id, snap in chain:
        entries: list[Entry] = []
        if snap.messages is not None:
            messages = decode_messages(store.objects.get(snap.messages), store.objects.path(snap.messages))
            entries = transcript_entries(messages)
        snapshots.append(
            {
                "snapshot": snapshot_id,
                "step": snap.step,
                "status": snap.status,
                "created": snap.created,
                "pending": snap.pending is not None,
                "tokens": int(snap.usage.get("input_tokens", 0) + snap.usage.get("output_tokens", 0)),
                "last": entries[-1] if entries else None,
                "subagents": [child_json(child, below) for child in left.pop(snapshot_id, [])],
            }
        )
    return {
        "session": chain[-1][1].session if chain else None,
        "snapshots": snapshots,
        "other_subagents": [child_json(child, below) for group in left.values() for child in group],
    }


def workspace_json(store: AnyStore, left: str | None, right: str | None, *, patch: bool) -> dict[str, Any]:
    """The `workspace` member of `tau sessions diff --json`: the two pins and the files that differ between them."""
    changes: list[dict[str, Any]] = []
    if left is not None and right is not None and left != right:
        from tau.cli.stores import checkpoint_io
        from tau.sessions.workspace_diff import file_patch, pin_changes

        objects = checkpoint_io(store)
        for kind, path, before, after in pin_changes(objects, left, right):
            change: dict[str, Any] = {"change": kind, "path": path}
            if patch:
                change["patch"] = file_patch(objects, path, before, after)
            changes.append(change)
    return {"a": left, "b": right, "changes": changes}
