"""`SubmittedWorkspace`: the session store as a run on a locality worker sees it — every method of the worker's
store, except that the job config a run records (`begin`, `resume`) names the workspace the job was submitted with,
not the worker's own directory for the session (locality.py).

Why: the stored config is what any front end continues a session from (`tau resume`, RPC Continue); a front end
re-resolves it against its own machine, where the worker's `DIR/<session id>` does not exist (a ConfigError, exit 2),
while the submitted path is the one that front end named. The worker's directory is not lost: the next locality run
computes it again from its own root and the session id, and the checkpoints' paths are relative to the workspace.
Nothing else is changed; `archive()`, `checkpoint_objects()` and `state_dir()` are the worker store's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage

from tau.sessions import SessionStore
from tau.sessions.port import ObjectIO, Resumed, SessionArchive, StepRecord


class SubmittedWorkspace:
    def __init__(self, store: SessionStore, submitted: str | None) -> None:
        self.store = store
        self.submitted = submitted

    def _as_submitted(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        environment = config.get("environment")
        if self.submitted is None or not isinstance(environment, Mapping):
            return config
        return {**config, "environment": {**environment, "workspace": self.submitted}}

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        return await self.store.begin(session_id, self._as_submitted(config))

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed:
        return await self.store.resume(session_id, None if config is None else self._as_submitted(config))

    async def commit(self, session_id: str, record: StepRecord) -> str:
        return await self.store.commit(session_id, record)

    async def history(self, session_id: str) -> list[ModelMessage]:
        return await self.store.history(session_id)

    async def close(self, session_id: str) -> None:
        await self.store.close(session_id)

    def archive(self) -> SessionArchive | None:
        return self.store.archive()

    def checkpoint_objects(self) -> ObjectIO | None:
        return self.store.checkpoint_objects()

    def state_dir(self) -> Path | None:
        return self.store.state_dir()


__all__ = ["SubmittedWorkspace"]
