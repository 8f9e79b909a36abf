"""The session document: everything the viewer page shows of one session, as one JSON object, read from the store.

    {"format": "tau.viewer/1", "generated", "session": {...index row, job summary},
     "steps": [{"id", "session", "step", "status", "created", "usage", "totals", "cost_usd", "workspace",
                "pending", "inherited", "messages": [messages.message_view ...]}],
     "pending": [{"call_id", "tool", "args", "kind": approval|question, "reason", "rule", "choices"}],
     "diffs": [workspace_diff ...], "tree": (empty here; `tree.fork_tree` fills it), "events": [tau events] | []}

Built from the store's own reading functions (`chain`, `snapshot`, `config`, `describe`, object reads and the
codecs of tau.sessions.snapshot, `tau.sessions.workspace_diff` for diffs), never from a second parser of its files.
Invariants: the job summary is an allowlist of the stored config (source, model, environment, permissions, tools,
limits: no home directory, no trust record, no credentials); a forked session's steps before its fork point are
its ancestors' (`inherited: true`); diffs are the workspace changes between consecutive distinct pins plus
everything the session changed up to its last pin (`whole`), each bounded (`DIFF_FILES_CAP` files,
`PATCH_LINES_CAP` lines of patch per file, `TOTAL_PATCH_LINES` per document: past them a diff says what it left
out). Blocking; run it in a worker thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tau.sessions.checkpoints import ObjectIO, store_objects
from tau.sessions.index import model_of, title_of
from tau.sessions.snapshot import Snapshot, decode_messages, decode_pending
from tau.sessions.workspace_diff import Change, baseline_changes, file_patch, pin_changes
from tau.viewer.messages import messages_view

if TYPE_CHECKING:
    from tau.sessions import FileSessionStore

__all__ = ["FORMAT", "session_document", "workspace_diff"]

FORMAT = "tau.viewer/1"
DIFF_FILES_CAP = 200
PATCH_LINES_CAP = 2_000
TOTAL_PATCH_LINES = 20_000
_JOB_KEYS = ("source", "tools", "instructions")
_LIMIT_KEYS = ("max_turns", "max_tool_calls", "max_tokens", "max_usd", "timeout", "idle_timeout")


def session_document(
    store: FileSessionStore,
    name: str,
    *,
    events: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The document of the session `name` names (an id or unique prefix; a snapshot shows its session up to it)."""
    resolved = store.resolve(name)
    head_id = resolved.snapshot_id
    head = store.snapshot(head_id)
    session_id = resolved.session_id or head.session
    chain = store.chain(head_id)
    steps = [_step(store, snapshot_id, snap, session_id) for snapshot_id, snap in chain]
    budget = _Budget(TOTAL_PATCH_LINES)
    return {
        "format": FORMAT,
        "generated": datetime.now(UTC).isoformat(),
        "session": _header(store, session_id, head_id, head, at_head=resolved.kind == "session"),
        "steps": steps,
        "pending": _pending(store, head),
        "diffs": _step_diffs(store, chain, budget),
        "tree": {"root": session_id, "current": session_id, "truncated": False, "nodes": []},
        "events": [dict(event) for event in events],
    }


def _header(store: FileSessionStore, session_id: str, head_id: str, head: Snapshot, *, at_head: bool) -> dict[str, Any]:
    status = store.describe(session_id).status if at_head else head.status  # `interrupted` needs the lock test
    root = store.snapshot(head.root or head_id)
    config = store.config(head.config)
    totals = head.totals
    return {
        "id": session_id,
        "head": head_id,
        "status": status,
        "title": title_of(store.config(root.config)),
        "model": model_of(config),
        "created": root.created,
        "updated": head.created,
        "turns": int(totals.get("turns", 0)),
        "tokens": int(totals.get("input_tokens", 0) + totals.get("output_tokens", 0)),
        "cost_usd": totals.get("cost_usd"),
        "parent_snapshot": root.parents[0] if root.parents else None,
        "job": job_summary(config),
    }


def job_summary(config: Mapping[str, Any]) -> dict[str, Any]:
    """The allowlisted part of a stored job config the page shows (see the module docstring)."""
    summary: dict[str, Any] = {key: config.get(key) for key in _JOB_KEYS if config.get(key) is not None}
    model = config.get("model")
    if isinstance(model, Mapping):
        summary["model"] = f"{model.get('provider')}:{model.get('name')}"
    environment = config.get("environment")
    if isinstance(environment, Mapping):
        sandbox = environment.get("sandbox")
        image = sandbox.get("image") if isinstance(sandbox, Mapping) else None
        summary["environment"] = {"kind": environment.get("kind"), "workspace": environment.get("workspace")}
        if image:
            summary["environment"]["image"] = image
    permissions = config.get("permissions")
    if isinstance(permissions, Mapping):
        keys = ("mode", "allow", "ask", "deny", "on_ask")
        summary["permissions"] = {key: permissions.get(key) for key in keys if key in permissions}
    limits = config.get("limits")
    if isinstance(limits, Mapping):
        summary["limits"] = {key: limits[key] for key in _LIMIT_KEYS if limits.get(key) is not None}
    return summary


def _step(store: FileSessionStore, snapshot_id: str, snap: Snapshot, session_id: str) -> dict[str, Any]:
    messages = []
    if snap.messages is not None:
        messages = decode_messages(store.objects.get(snap.messages), store.objects.path(snap.messages))
    return {
        "id": snapshot_id,
        "session": snap.session,
        "step": snap.step,
        "status": snap.status,
        "created": snap.created,
        "usage": dict(snap.usage),
        "totals": dict(snap.totals),
        "cost_usd": snap.usage.get("cost_usd"),
        "workspace": snap.workspace,
        "pending": snap.pending is not None,
        "inherited": snap.session != session_id,
        "messages": messages_view(messages),
    }


def _pending(store: FileSessionStore, head: Snapshot) -> list[dict[str, Any]]:
    """The calls the head waits on: approvals (with the permission rule and reason) and questions (`ask_user`)."""
    if head.pending is None:
        return []
    requests = decode_pending(store.objects.get(head.pending), store.objects.path(head.pending))
    shown: list[dict[str, Any]] = []
    for kind, calls in (("approval", requests.approvals), ("question", requests.calls)):
        for call in calls:
            meta = requests.metadata.get(call.tool_call_id, {})
            found = meta.get("tau_permission")
            permission: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            try:
                args: dict[str, Any] = call.args_as_dict()
            except (ValueError, TypeError):
                args = {"_raw": str(call.args)}
            choices = meta.get("choices")
            shown.append(
                {
                    "call_id": call.tool_call_id,
                    "tool": call.tool_name,
                    "args": args,
                    "kind": kind,
                    "reason": str(permission.get("reason") or meta.get("question") or ""),
                    "rule": permission.get("rule"),
                    "choices": [str(choice) for choice in choices] if isinstance(choices, list) else None,
                }
            )
    return shown


class _Budget:
    """What is left of the document's patch lines."""

    def __init__(self, lines: int) -> None:
        self.lines = lines


def _step_diffs(store: FileSessionStore, chain: list[tuple[str, Snapshot]], budget: _Budget) -> list[dict[str, Any]]:
    """Diffs between consecutive distinct workspace pins of the chain, then everything the session changed up to
    its last pin (each path's first-seen state to its state there: `whole`)."""
    pins: list[tuple[str, Snapshot]] = []
    for snapshot_id, snap in chain:
        if snap.workspace is not None and (not pins or pins[-1][1].workspace != snap.workspace):
            pins.append((snapshot_id, snap))
    objects = store_objects(store)
    diffs = []
    for (left_id, left), (right_id, right) in itertools.pairwise(pins):
        assert left.workspace is not None and right.workspace is not None
        changes = pin_changes(objects, left.workspace, right.workspace)
        diffs.append(_diff(objects, (left_id, left.step), (right_id, right.step), changes, budget))
    if pins:
        last_id, last = pins[-1]
        assert last.workspace is not None
        whole = _diff(objects, (None, None), (last_id, last.step), baseline_changes(objects, last.workspace), budget)
        whole["whole"] = True
        diffs.append(whole)
    return diffs


def workspace_diff(store: FileSessionStore, left: str, right: str) -> dict[str, Any]:
    """The workspace diff between the snapshots `left` and `right` name (ids or unique prefixes)."""
    before_id, after_id = store.resolve(left).snapshot_id, store.resolve(right).snapshot_id
    before, after = store.snapshot(before_id), store.snapshot(after_id)
    objects = store_objects(store)
    changes: list[Change] = []
    if before.workspace is not None and after.workspace is not None and before.workspace != after.workspace:
        changes = pin_changes(objects, before.workspace, after.workspace)
    shown = _diff(objects, (before_id, before.step), (after_id, after.step), changes, _Budget(TOTAL_PATCH_LINES))
    if before.workspace is None or after.workspace is None:
        shown["note"] = "workspace not pinned"
    return shown


def _diff(
    objects: ObjectIO,
    before: tuple[str | None, int | None],
    after: tuple[str, int],
    changes: list[Change],
    budget: _Budget,
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "from": before[0],
        "to": after[0],
        "from_step": before[1],
        "to_step": after[1],
        "files": [],
        "omitted": max(len(changes) - DIFF_FILES_CAP, 0),
    }
    for kind, path, old, new in changes[:DIFF_FILES_CAP]:
        entry: dict[str, Any] = {"kind": kind, "path": path}
        if budget.lines <= 0:
            entry["note"] = "patch left out (the page's diff budget is spent): tau sessions diff --patch shows it"
        else:
            lines = file_patch(objects, path, old, new)
            if len(lines) > PATCH_LINES_CAP:
                entry["note"] = f"{len(lines) - PATCH_LINES_CAP} more patch lines left out"
                lines = lines[:PATCH_LINES_CAP]
            budget.lines -= len(lines)
            entry["patch"] = lines
        shown["files"].append(entry)
    return shown
