"""Conversations of `tau serve`: the sessions of one thread, derived from the sessions themselves.

A session joins a conversation when CreateSession names `conversation_id`; a fork joins its source's conversation.
Nothing else records a conversation: its nodes are the sessions carrying its id, its DAG edges are their
`parent_session_id` (forks; a continuation is another run of the same session), and its head — the session
"send to conversation X" (`Run{conversation_id}`) continues — is the most recently updated of them (the one that
last joined, ran, or was answered). So a conversation can never disagree with its sessions, survives a restart with
them (the serve journal), and disappears when its last session is deleted. Pure functions over `SessionState`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.registry import SessionState

CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def members(sessions: Iterable[SessionState], conversation_id: str) -> list[SessionState]:
    """The conversation's sessions, oldest first."""
    return sorted((s for s in sessions if s.conversation_id == conversation_id), key=lambda s: s.ordinal)


def head(nodes: list[SessionState]) -> SessionState | None:
    """The most recently updated session (the later-created one on a tie)."""
    return max(nodes, key=lambda s: (s.update_time, s.ordinal), default=None)


def summary(conversation_id: str, nodes: list[SessionState]) -> pb.Conversation:
    top = head(nodes)
    return pb.Conversation(
        conversation_id=conversation_id,
        head_session_id=top.session_id if top is not None else "",
        sessions=len(nodes),
        create_time=min((s.create_time for s in nodes), default=""),
        update_time=top.update_time if top is not None else "",
    )


def node(session: SessionState) -> pb.ConversationNode:
    return pb.ConversationNode(
        session_id=session.session_id,
        parent_session_id=session.parent_session_id,
        status=session.status,
        runs=len(session.runs),
        create_time=session.create_time,
        update_time=session.update_time,
    )


def all_conversations(sessions: Iterable[SessionState]) -> list[pb.Conversation]:
    """Every conversation, most recently updated first."""
    grouped: dict[str, list[SessionState]] = {}
    for session in sessions:
        if session.conversation_id:
            grouped.setdefault(session.conversation_id, []).append(session)
    found = [summary(cid, sorted(nodes, key=lambda s: s.ordinal)) for cid, nodes in grouped.items()]
    return sorted(found, key=lambda c: (c.update_time, c.conversation_id), reverse=True)
