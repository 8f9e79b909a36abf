"""Bringing back the sessions an earlier `tau serve` journaled (`restore_sessions`, used by `rpc.service` at start-up).

Contract (the service's docstring has the whole restart story): every journaled session comes back with its id,
order, status, seqs, idempotency keys, pending requests and queued context; the session store is the truth for its
head (a session removed from the store is removed from the journal); events after the record's `last_seq` are
applied (`registry.catch_up`). A run the earlier server left unfinished either ends with Error, Status(CANCELLED) and
Final(interrupted, 130) — its process is gone — or, over an engine whose runs outlive the server (`rpc.reattach`,
`Restorer.runs_outlive`), is returned to be followed again. A damaged session is skipped with one line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.errors import Interrupted, TauError
from tau.rpc.jobs import SessionJob, restore_session_job
from tau.rpc.journal import ServeJournal, Stored, report
from tau.rpc.registry import SessionRegistry, SessionState, catch_up
from tau.rpc.runs import RunSupervisor
from tau.runtime import failure_event
from tau.sessions import SessionArchive

__all__ = ["Restorer"]


@dataclass(frozen=True)
class Restorer:
    registry: SessionRegistry
    runs: RunSupervisor
    archive: SessionArchive | None
    env: Mapping[str, str]
    cwd: Path
    runs_outlive: bool  # the engine's runs go on without the server (rpc.reattach)
    jobs: dict[str, SessionJob] = field(default_factory=dict)  # sessions mostly share a job: resolve each once

    def job(self, record: Mapping[str, Any]) -> SessionJob:
        """The session job of a journal record (resolved once per distinct job config)."""
        key = json.dumps(record, sort_keys=True)
        if key not in self.jobs:
            self.jobs[key] = restore_session_job(record, env=self.env, cwd=self.cwd)
        return self.jobs[key]

    def restore(self, journal: ServeJournal) -> tuple[int, list[SessionState]]:
        """Lock the journal and bring its sessions back: how many came back, and those whose run is to be followed
        again (`runs_outlive` only)."""
        journal.open()
        count = 0
        unfinished: list[SessionState] = []
        for stored in journal.load():
            try:
                count += self.one(journal, stored, unfinished)
            except Exception as error:  # anything a damaged record raises: one session must not stop the server
                self.registry.discard(stored.session_id)  # nothing half-restored stays listed; the files stay
                problem = error.message if isinstance(error, TauError) else f"{type(error).__name__}: {error}"
                report(f"skipping journal of session {stored.session_id!r}: {problem}")
        return count, unfinished

    def one(self, journal: ServeJournal, stored: Stored, unfinished: list[SessionState]) -> int:
        """Bring back one session (1), or forget a session the store no longer has (0); its unfinished run is
        appended to `unfinished` (runs that outlive the server) or ended as interrupted. Raises on a damaged record."""
        head = self.archive.head(stored.session_id) if self.archive is not None else None
        if stored.record.get("begun") and head is None:
            journal.remove(stored.session_id)  # removed from the store (`tau sessions rm`): the store is the truth
            return 0
        session = self.registry.restore(stored, self.job(stored.record["job"]))
        if head is not None:  # the store is the truth for the head
            session.begun, session.head_snapshot_id = True, head
        saved_seq = int(stored.record["last_seq"])
        cost = catch_up(session, saved_seq)
        if session.current is not None and self.runs_outlive:
            unfinished.append(session)  # its run went on on a worker: the service follows it again
        elif session.current is not None:  # the previous server died mid-run; `finish` saves
            lost = Interrupted("tau serve stopped before this run ended (the server was killed or crashed)")
            failure = failure_event(lost, session.session_id).model_copy(
                update={"usage": session.usage_run, "cost_usd": cost}
            )
            self.runs.finish(session, session.current, failure)
        elif session.log.last_seq != saved_seq:
            self.registry.save(session)  # its record lagged behind its events
        return 1
