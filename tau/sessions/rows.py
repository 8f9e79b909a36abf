"""The session index's rows computed from refs and objects: every session's head (`ref_heads`) and a session's row
(`describe`, `describe_many`) with its title, model, totals and status — `interrupted` for an unfinished head whose
writer no longer holds the lock.

Functions over `StoreParts` (the store passes itself); blocking file I/O, run them in a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.sessions.index import UNFINISHED, SessionInfo, model_of, session_info, title_of
from tau.sessions.locks import is_held

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts

__all__ = ["describe", "describe_many", "ref_heads"]


def ref_heads(parts: StoreParts) -> dict[str, str]:
    """Every session's head snapshot id from its ref (damaged refs are left to fsck)."""
    heads: dict[str, str] = {}
    for session_id in parts.refs.sessions():
        try:
            head = parts.refs.read(session_id)
        except CorruptObjectError:
            continue  # fsck reports it
        if head is not None:
            heads[session_id] = head
    return heads


def describe(parts: StoreParts, session_id: str) -> SessionInfo:
    """The index row of `session_id`, computed from its ref and objects."""
    head_id = parts.head(session_id)
    head = parts.snapshot(head_id)
    root_id = head.root or head_id
    root = parts.snapshot(root_id)
    title = title_of(parts.config(root.config))
    model = model_of(parts.config(head.config))
    gone = head.status in UNFINISHED and not is_held(parts.locks_dir, session_id)
    return session_info(session_id, head_id, head, root, title=title, model=model, writer_gone=gone)


def describe_many(parts: StoreParts, session_ids: list[str]) -> list[SessionInfo]:
    """The rows of `session_ids` that can be computed (damaged or vanished sessions are left out: fsck reports them)."""
    infos: list[SessionInfo] = []
    for session_id in session_ids:
        try:
            infos.append(describe(parts, session_id))
        except (CorruptObjectError, SessionNotFoundError):
            continue  # damaged or vanished: fsck reports it, ls leaves it out
    return infos
