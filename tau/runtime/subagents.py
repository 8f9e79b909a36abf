"""Alias of `tau.runtime.features.subagents` (moved to the features room, issue #15) for front-end modules not yet
updated; import from `tau.runtime.features.subagents`. Remove once nothing imports this path."""

from tau.runtime.features.subagents import ChildSession, child_sessions

__all__ = ["ChildSession", "child_sessions"]
