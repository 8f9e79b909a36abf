"""The SessionStore port contract (tests/sessions/test_session_contract.py), run against PostgresSessionStore: the
same test functions, with this module's `store` fixture."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))

from test_session_contract import (
    test_a_provisional_commit_is_the_head_until_the_next_commit_replaces_it,
    test_begin_commit_history_in_order,
    test_begin_twice_is_a_config_error,
    test_commit_without_new_messages_moves_the_head,
    test_resume_returns_history_and_pending_and_allows_commits,
    test_sessions_are_independent,
    test_unknown_sessions_are_not_found,
)

from tau.sessions.postgres import PostgresSessionStore

pytestmark = pytest.mark.anyio

__all__ = [
    "test_a_provisional_commit_is_the_head_until_the_next_commit_replaces_it",
    "test_begin_commit_history_in_order",
    "test_begin_twice_is_a_config_error",
    "test_commit_without_new_messages_moves_the_head",
    "test_resume_returns_history_and_pending_and_allows_commits",
    "test_sessions_are_independent",
    "test_unknown_sessions_are_not_found",
]


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresSessionStore]:
    pg_store = PostgresSessionStore(pg_url)
    yield pg_store
    await pg_store.aclose()
