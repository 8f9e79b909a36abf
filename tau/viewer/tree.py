"""The fork tree of a session: its family of sessions (forks and subagent children, transitively) from the oldest
ancestor down, as the viewer draws it.

    {"root": <session id>, "current": <session id>, "truncated": bool,
     "nodes": [{"id", "parent", "parent_snapshot", "kind": root|fork|subagent, "agent", "title", "status",
                "updated", "turns", "tokens", "cost_usd", "model"}]}   parents before their children

A fork's parent is the session owning the snapshot it was forked from (`SessionInfo.parent`); a subagent's parent is
the session its root config names (`subagent.parent_session`, `runtime.features.subagents.child_sessions`, the listing
`tau sessions log` uses). Invariants: at most `NODE_CAP` nodes (then `truncated`); walking up stops at
`NODE_CAP` links, so a damaged or cyclic store cannot loop; a session whose objects cannot be read is left out.
Blocking; run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tau.runtime.features.subagent_children import child_sessions
from tau.sessions.errors import CorruptObjectError, SessionNotFoundError

if TYPE_CHECKING:
    from tau.sessions import FileSessionStore, SessionInfo

__all__ = ["NODE_CAP", "fork_tree"]

NODE_CAP = 500
_UNREADABLE = (CorruptObjectError, SessionNotFoundError, OSError)


@dataclass(frozen=True)
class _Link:
    parent: str
    parent_snapshot: str | None
    kind: str
    agent: str = ""


def fork_tree(store: FileSessionStore, infos: Sequence[SessionInfo], session_id: str) -> dict[str, Any]:
    """The family of `session_id` among `infos` (the store's index rows, subagent sessions included)."""
    rows = {info.id: info for info in infos}
    forks = _fork_links(store, infos)
    root = _oldest_ancestor(store, rows, forks, session_id)
    nodes: list[dict[str, Any]] = []
    links: dict[str, _Link | None] = {root: None}
    queue = [root]
    while queue and len(nodes) < NODE_CAP:
        current = queue.pop(0)
        info = rows.get(current)
        if info is None:
            continue
        nodes.append(_node(info, links.get(current)))
        for child, link in _children(store, current, forks):
            if child not in links:
                links[child] = link
                queue.append(child)
    return {"root": root, "current": session_id, "truncated": bool(queue), "nodes": nodes}


def _fork_links(store: FileSessionStore, infos: Sequence[SessionInfo]) -> dict[str, _Link]:
    """Each forked session's link to the session owning its fork point."""
    links: dict[str, _Link] = {}
    for info in infos:
        if info.parent is None:
            continue
        try:
            owner = store.snapshot(info.parent).session
        except _UNREADABLE:
            continue
        if owner != info.id:
            links[info.id] = _Link(owner, info.parent, "fork")
    return links


def _subagent_link(store: FileSessionStore, info: SessionInfo) -> _Link | None:
    """The parent a subagent session's root config names, if it is one."""
    if ".task-" not in info.id:
        return None
    try:
        head = store.snapshot(info.head)
        root = store.snapshot(head.root or info.head)
        subagent = store.config(root.config).get("subagent")
    except _UNREADABLE:
        return None
    if not isinstance(subagent, dict) or not isinstance(subagent.get("parent_session"), str):
        return None
    snapshot = subagent.get("parent_snapshot")
    agent = str(subagent.get("agent", ""))
    return _Link(subagent["parent_session"], snapshot if isinstance(snapshot, str) else None, "subagent", agent)


def _oldest_ancestor(
    store: FileSessionStore, rows: dict[str, SessionInfo], forks: dict[str, _Link], session_id: str
) -> str:
    current, seen = session_id, {session_id}
    for _ in range(NODE_CAP):
        info = rows.get(current)
        link = forks.get(current) or (_subagent_link(store, info) if info is not None else None)
        if link is None or link.parent in seen or link.parent not in rows:
            return current
        current = link.parent
        seen.add(current)
    return current


def _children(store: FileSessionStore, session_id: str, forks: dict[str, _Link]) -> list[tuple[str, _Link]]:
    found = [(child, link) for child, link in sorted(forks.items()) if link.parent == session_id]
    try:
        for child in child_sessions(store, session_id):
            found.append((child.session_id, _Link(session_id, child.parent_snapshot, "subagent", child.agent)))
    except _UNREADABLE:
        pass
    return found


def _node(info: SessionInfo, link: _Link | None) -> dict[str, Any]:
    return {
        "id": info.id,
        "parent": link.parent if link is not None else None,
        "parent_snapshot": link.parent_snapshot if link is not None else None,
        "kind": link.kind if link is not None else "root",
        "agent": link.agent if link is not None else "",
        "title": info.title,
        "status": info.status,
        "updated": info.updated,
        "turns": info.turns,
        "tokens": info.tokens,
        "cost_usd": info.cost,
        "model": info.model,
    }
