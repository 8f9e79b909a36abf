"""Sessions: the `SessionStore` port the runtime hands every completed step to, and its implementations.

For now only the in-memory store exists; the immutable content-addressed store is a later issue and will implement
the same port. Messages are serialized only through pydantic-ai's `ModelMessagesTypeAdapter`.
"""

from tau.sessions.memory import InMemorySessionStore
from tau.sessions.port import SessionStore, StepRecord

__all__ = ["InMemorySessionStore", "SessionStore", "StepRecord"]
