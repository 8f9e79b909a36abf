"""What the viewer reads, as coroutines over a `FileSessionStore`: the session list, a session's document (with its
fork tree) and a workspace diff. The web routes (`tau.viewer.web`) and `tau sessions view` both call these, so the
page shows the same data served or exported.

Invariants: blocking store reads run in a worker thread; every string that reaches the page went through
`tau.protocol.printable.scrub_value` (no lone surrogates: the JSON encodes as UTF-8); errors are the store's own
(`SessionNotFoundError` for an unknown or ambiguous name, `CorruptObjectError` for damage).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tau.protocol.printable import scrub_value
from tau.sessions import SessionFilter
from tau.viewer.document import session_document, workspace_diff
from tau.viewer.tree import fork_tree

if TYPE_CHECKING:
    from tau.sessions import FileSessionStore

__all__ = ["MAX_LIST", "load_diff", "load_document", "load_sessions"]

MAX_LIST = 1000
_SUBAGENT_MARK = ".task-"


def _scrubbed(value: object) -> dict[str, Any]:
    clean = scrub_value(value)
    assert isinstance(clean, dict)
    return clean


async def load_sessions(
    store: FileSessionStore,
    *,
    status: str | None = None,
    text: str | None = None,
    limit: int = 200,
    include_subagents: bool = False,
) -> dict[str, Any]:
    """Sessions, most recently updated first: `status` exact, `text` a case-insensitive substring of the id, title
    or model; subagent sessions only with `include_subagents`; at most `limit` (1..MAX_LIST)."""
    if not store.root.is_dir():
        return {"sessions": [], "truncated": False}
    infos = await store.list_sessions(SessionFilter(status=status or None))
    needle = (text or "").strip().lower()
    rows = [
        asdict(info)
        for info in infos
        if (include_subagents or _SUBAGENT_MARK not in info.id)
        and (not needle or needle in f"{info.id}\n{info.title}\n{info.model or ''}".lower())
    ]
    limit = min(max(limit, 1), MAX_LIST)
    return _scrubbed({"sessions": rows[:limit], "truncated": len(rows) > limit})


async def load_document(
    store: FileSessionStore, name: str, *, events: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The session document of `name` (see tau.viewer.document) with its fork tree."""
    infos = await store.list_sessions()

    def build() -> dict[str, Any]:
        document = session_document(store, name, events=events)
        document["tree"] = fork_tree(store, infos, document["session"]["id"])
        return document

    return _scrubbed(await asyncio.to_thread(build))


async def load_diff(store: FileSessionStore, left: str, right: str) -> dict[str, Any]:
    """The workspace diff between two snapshots (ids or unique prefixes)."""
    return _scrubbed(await asyncio.to_thread(workspace_diff, store, left, right))
