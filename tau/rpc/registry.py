"""The in-process session registry of `tau serve`: sessions, their runs, and each session's bounded event log
(`rpc.eventlog.EventLog`: seq numbering, capacity, `LogGap`, followers).

Everything here lives on the server's one event loop; nothing blocks and nothing is shared across threads.
Invariants:
- a session has at most one run in progress (`SessionState.current`); a run's events sit contiguously in the log,
  from its RUNNING status event to its final event;
- a session keeps a record of each of its runs (number, idempotency key, seqs) but the prompt of its last run only
  (what Respond's continuation needs): a long session must not hold every prompt it was sent;
- a suspended session holds what its run waits on (`pending`, by request id) and the answers given so far
  (`responses`); both are cleared when the next run starts. `begun` is true once the session exists in the store
  (its first run opened it, or ForkSession made it): later runs continue it instead of beginning it.
Sessions are listed newest first by creation order; page tokens are opaque cursors over that order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf import json_format

from tau.protocol import RunCompleted, UsageTotals
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.eventlog import EventLog, LogGap
from tau.rpc.events import totals_of, usage_message
from tau.rpc.jobs import ContextBlock, SessionJob, job_record
from tau.rpc.journal import ServeJournal, Stored


@dataclass
class RunState:
    """One Run of a session. `outcome` is the runtime's terminal event, which becomes the run's Final once the run
    has closed (cancelling and injecting go through the runtime: `tau.runtime.Cancel`, `Inject`)."""

    number: int
    idempotency_key: str
    prompt: str = ""
    first_seq: int = 0
    final_seq: int | None = None
    task: asyncio.Task[None] | None = None
    outcome: RunCompleted | None = None  # the runtime's terminal event, held until the run has let go of the session

    def is_final(self, item: pb.RunResponse) -> bool:
        return item.run == self.number and item.HasField("final")


@dataclass
class Responses:
    """Answers collected by Respond for a suspended run, by request (call) id; the last answer for an id wins."""

    approve: dict[str, None] = field(default_factory=dict)
    deny: dict[str, str | None] = field(default_factory=dict)
    answer: dict[str, str] = field(default_factory=dict)
    plan: tuple[str, str, str] | None = None  # (request id, "approve" | "reject", feedback)

    def answered(self) -> set[str]:
        return {*self.approve, *self.deny, *self.answer, *([self.plan[0]] if self.plan else [])}

    def review(self, request_id: str, decision: str, feedback: str) -> None:
        self.plan = (request_id, decision, feedback)

    def approval(self, request_id: str, approved: bool, message: str) -> None:
        self._forget(request_id)
        if approved:
            self.approve[request_id] = None
        else:
            self.deny[request_id] = message or None

    def reply(self, request_id: str, text: str) -> None:
        self._forget(request_id)
        self.answer[request_id] = text

    def _forget(self, request_id: str) -> None:
        self.approve.pop(request_id, None)
        self.deny.pop(request_id, None)
        self.answer.pop(request_id, None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add_usage(a: UsageTotals, b: UsageTotals) -> UsageTotals:
    return UsageTotals(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_tokens=a.cache_read_tokens + b.cache_read_tokens,
        cache_write_tokens=a.cache_write_tokens + b.cache_write_tokens,
        requests=a.requests + b.requests,
        tool_calls=a.tool_calls + b.tool_calls,
    )


@dataclass
class SessionState:
    session_id: str
    job: SessionJob
    ordinal: int
    log: EventLog
    labels: dict[str, str] = field(default_factory=dict)
    parent_session_id: str = ""
    status: pb.SessionStatus = pb.SESSION_STATUS_ACTIVE
    runs: list[RunState] = field(default_factory=list)
    current: RunState | None = None
    queued_context: list[ContextBlock] = field(default_factory=list)
    head_snapshot_id: str = ""
    terminal_reason: str = ""
    usage_done: UsageTotals = field(default_factory=UsageTotals)  # completed runs
    usage_run: UsageTotals = field(default_factory=UsageTotals)  # the run in progress
    cost_usd: float = 0.0
    begun: bool = False
    pending: dict[str, pb.PendingRequest] = field(default_factory=dict)
    # Respond requests (serialized) by request id: `given` for the pending requests, `consumed` for the ones the
    # last continuation took, so that a client repeating an applied Respond gets success, not an error.
    given: dict[str, bytes] = field(default_factory=dict)
    consumed: dict[str, bytes] = field(default_factory=dict)
    responses: Responses = field(default_factory=Responses)
    create_time: str = field(default_factory=_now)
    update_time: str = field(default_factory=_now)
    conversation_id: str = ""
    preset: str = ""
    preset_version: int = 0
    mcp_servers: list[pb.McpServerStatus] = field(default_factory=list)  # as the last run found them

    def touch(self) -> None:
        self.update_time = _now()

    def run_by_key(self, key: str) -> RunState | None:
        if not key:
            return None
        return next((run for run in self.runs if run.idempotency_key == key), None)

    def take_queued(self) -> list[ContextBlock]:
        queued, self.queued_context = self.queued_context, []
        return queued

    def unanswered(self) -> list[pb.PendingRequest]:
        answered = self.responses.answered()
        return [request for request_id, request in self.pending.items() if request_id not in answered]

    def clear_pending(self) -> None:
        self.pending = {}
        self.responses = Responses()
        self.given = {}

    def to_message(self) -> pb.Session:
        usage = usage_message(add_usage(self.usage_done, self.usage_run), self.cost_usd or None)
        return pb.Session(
            session_id=self.session_id,
            status=self.status,
            head_snapshot_id=self.head_snapshot_id,
            usage=usage,
            model=self.job.spec.model.ref,
            runs=len(self.runs),
            last_seq=self.log.last_seq,
            terminal_reason=self.terminal_reason,
            create_time=self.create_time,
            update_time=self.update_time,
            labels=self.labels,
            parent_session_id=self.parent_session_id,
            pending=self.unanswered(),
            conversation_id=self.conversation_id,
            preset=self.preset,
            preset_version=self.preset_version,
            mcp_servers=self.mcp_servers,
        )

    def record(self) -> dict[str, Any]:
        """What the serve journal keeps of this session (`session.json`); `restore_state` reads it back."""
        responses = self.responses
        return {
            "session_id": self.session_id,
            "ordinal": self.ordinal,
            "labels": self.labels,
            "parent_session_id": self.parent_session_id,
            "create_time": self.create_time,
            "update_time": self.update_time,
            "job": job_record(self.job),
            "status": pb.SessionStatus.Name(self.status),
            "terminal_reason": self.terminal_reason,
            "head_snapshot_id": self.head_snapshot_id,
            "begun": self.begun,
            "usage": self.usage_done.model_dump(),
            "cost_usd": self.cost_usd,
            "last_seq": self.log.last_seq,
            "runs": [
                {
                    "number": run.number,
                    "idempotency_key": run.idempotency_key,
                    "prompt": run.prompt,
                    "first_seq": run.first_seq,
                    "final_seq": run.final_seq,
                }
                for run in self.runs
            ],
            "pending": [json_format.MessageToDict(request) for request in self.pending.values()],
            "responses": {
                "approve": list(responses.approve),
                "deny": responses.deny,
                "answer": responses.answer,
                "plan": list(responses.plan) if responses.plan else None,
            },
            "queued_context": [[b.key, b.content, b.content_type] for b in self.queued_context],
            "given": {key: base64.b64encode(raw).decode() for key, raw in self.given.items()},
            "consumed": {key: base64.b64encode(raw).decode() for key, raw in self.consumed.items()},
            "conversation_id": self.conversation_id,
            "preset": [self.preset, self.preset_version],
            "mcp_servers": [json_format.MessageToDict(server) for server in self.mcp_servers],
        }


def restore_state(record: Mapping[str, Any], job: SessionJob, log: EventLog) -> SessionState:
    """A session as `SessionState.record` saved it (KeyError / TypeError / ValueError on a malformed record). A run
    the record shows unfinished is kept as it was: the caller ends it."""
    runs = [
        RunState(
            number=int(run["number"]),
            idempotency_key=str(run["idempotency_key"]),
            prompt=str(run["prompt"]) if index == len(record["runs"]) - 1 else "",  # the last run's only
            first_seq=int(run["first_seq"]),
            final_seq=None if run["final_seq"] is None else int(run["final_seq"]),
        )
        for index, run in enumerate(record["runs"])
    ]
    pending = [json_format.ParseDict(item, pb.PendingRequest()) for item in record["pending"]]
    answers = record["responses"]
    plan = answers["plan"]
    return SessionState(
        session_id=str(record["session_id"]),
        job=job,
        ordinal=int(record["ordinal"]),
        log=log,
        labels={str(k): str(v) for k, v in record["labels"].items()},
        parent_session_id=str(record["parent_session_id"]),
        status=cast("pb.SessionStatus", pb.SessionStatus.Value(record["status"])),
        runs=runs,
        current=next((run for run in runs if run.final_seq is None), None),
        queued_context=[ContextBlock(*map(str, block)) for block in record["queued_context"]],
        given={str(k): base64.b64decode(v) for k, v in record.get("given", {}).items()},
        consumed={str(k): base64.b64decode(v) for k, v in record.get("consumed", {}).items()},
        head_snapshot_id=str(record["head_snapshot_id"]),
        terminal_reason=str(record["terminal_reason"]),
        usage_done=UsageTotals.model_validate(record["usage"]),
        cost_usd=float(record["cost_usd"]),
        begun=bool(record["begun"]),
        pending={request.request_id: request for request in pending},
        responses=Responses(
            approve=dict.fromkeys(map(str, answers["approve"])),
            deny={str(k): None if v is None else str(v) for k, v in answers["deny"].items()},
            answer={str(k): str(v) for k, v in answers["answer"].items()},
            plan=(str(plan[0]), str(plan[1]), str(plan[2])) if plan else None,
        ),
        create_time=str(record["create_time"]),
        update_time=str(record["update_time"]),
        conversation_id=str(record.get("conversation_id", "")),
        preset=str(record.get("preset", ["", 0])[0]),
        preset_version=int(record.get("preset", ["", 0])[1]),
        mcp_servers=[json_format.ParseDict(item, pb.McpServerStatus()) for item in record.get("mcp_servers", [])],
    )


def catch_up(session: SessionState, after_seq: int) -> float | None:
    """Apply to a restored session what its journaled events after `after_seq` (its record's `last_seq`) say about
    its current run: a server killed after appending them but before saving the record leaves them unapplied. Sets
    the run's pending requests and usage, and settles the run if its final event is there. Returns the run's last
    reported cost (for a run that is still unfinished)."""
    run = session.current
    cost: float | None = None
    if run is None:
        return cost
    try:
        tail = session.log.since(after_seq)
    except LogGap:
        return cost
    for item in tail:
        kind = item.WhichOneof("event")
        if item.run != run.number:
            continue
        if kind == "permission_request":
            request = item.permission_request
            session.pending[request.request_id] = pb.PendingRequest(request_id=request.request_id, permission=request)
        elif kind == "clarification_request":
            question = item.clarification_request
            session.pending[question.request_id] = pb.PendingRequest(
                request_id=question.request_id, clarification=question
            )
        elif kind == "plan":
            session.pending[item.plan.request_id] = pb.PendingRequest(request_id=item.plan.request_id, plan=item.plan)
        elif kind == "usage":
            session.usage_run = totals_of(item.usage)
            cost = item.usage.cost_usd if item.usage.HasField("cost_usd") else cost
        elif kind == "final":
            final = item.final
            session.usage_done = add_usage(session.usage_done, totals_of(final.usage))
            session.cost_usd += final.usage.cost_usd if final.usage.HasField("cost_usd") else 0.0
            session.usage_run = UsageTotals()
            session.status, session.terminal_reason = final.session_status, final.terminal_reason
            if final.status != "suspended":
                session.clear_pending()
            session.current, run.final_seq = None, item.seq
            return None
    return cost


class SessionRegistry:
    """Sessions by id, in creation order. Raises KeyError for an unknown id, OverflowError when full. With a
    `journal`, every session's events and state go to disk as well (`save` after a change outside the event flow)."""

    def __init__(self, *, max_sessions: int, log_capacity: int, journal: ServeJournal | None = None) -> None:
        self._sessions: dict[str, SessionState] = {}
        self._max_sessions = max_sessions
        self._log_capacity = log_capacity
        self._ordinal = 0
        self._journal = journal

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session_id: str, job: SessionJob, *, labels: dict[str, str], parent: str = "") -> SessionState:
        """A new session (KeyError-free: callers check `in` first; OverflowError when full)."""
        if len(self._sessions) >= self._max_sessions:
            raise OverflowError(f"the server holds its maximum of {self._max_sessions} sessions")
        journal = self._journal  # a shared journal numbers sessions across front ends (rpc.pg_journal)
        self._ordinal = journal.next_ordinal(self._ordinal) if journal is not None else self._ordinal + 1
        log = EventLog(self._log_capacity, on_append=self._appender(session_id))
        state = SessionState(session_id, job, self._ordinal, log, labels=labels, parent_session_id=parent)
        self._sessions[session_id] = state
        return state

    def restore(self, stored: Stored, job: SessionJob) -> SessionState:
        """Bring back a session the journal holds (see `restore_state` for the errors)."""
        events = stored.events
        start = len(events) - 1
        while start > 0 and events[start - 1].seq == events[start].seq - 1:
            start -= 1  # only a contiguous run of seqs can be served (`EventLog.since` indexes by seq)
        kept = events[max(start, len(events) - self._log_capacity, 0) :]
        last_seq = max(int(stored.record["last_seq"]), kept[-1].seq if kept else 0)
        if kept and kept[-1].seq != last_seq:
            kept = []  # its newest events never reached the file (failed appends): serve none rather than a gap
        log = EventLog(
            self._log_capacity, on_append=self._appender(stored.session_id), restored=kept, last_seq=last_seq
        )
        state = restore_state(stored.record, job, log)
        if len(kept) < len(stored.events) and self._journal is not None:
            self._journal.trim(stored.session_id, kept)
        self._sessions[state.session_id] = state
        self._ordinal = max(self._ordinal, state.ordinal)
        return state

    def save(self, state: SessionState) -> None:
        """Journal the session's state (callers save once a change is complete; `add` does not save)."""
        if self._journal is not None:
            self._journal.save(state.session_id, state.record())

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()

    def _appender(self, session_id: str) -> Callable[[bytes], None] | None:
        journal = self._journal
        if journal is None:
            return None
        return lambda raw: journal.append_raw(session_id, raw)

    def remove(self, session_id: str) -> None:
        """Forget the session, journal and all."""
        self.discard(session_id)
        if self._journal is not None:
            self._journal.remove(session_id)

    def discard(self, session_id: str) -> None:
        """Forget the session in memory only (its journal stays on disk)."""
        self._sessions.pop(session_id, None)

    def get(self, session_id: str) -> SessionState:
        return self._sessions[session_id]

    def all(self) -> list[SessionState]:
        return list(self._sessions.values())

    def page(
        self, size: int, token: str, keep: Callable[[SessionState], bool] | None = None
    ) -> tuple[list[SessionState], str]:
        """Up to `size` sessions older than the cursor `token` (newest first) and the next token ('' at the end);
        `keep` filters them (ListSessions' filters)."""
        before = _decode_token(token) if token else None
        ordered = sorted(self._sessions.values(), key=lambda s: s.ordinal, reverse=True)
        if keep is not None:
            ordered = [s for s in ordered if keep(s)]
        if before is not None:
            ordered = [s for s in ordered if s.ordinal < before]
        page = ordered[:size]
        more = len(ordered) > size
        return page, (_encode_token(page[-1].ordinal) if more and page else "")


def _encode_token(ordinal: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{ordinal}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    """ValueError for anything that is not a token this registry made."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"invalid page_token {token!r}") from None
    version, _, number = raw.partition(":")
    if version != "v1" or not number.isdigit():
        raise ValueError(f"invalid page_token {token!r}")
    return int(number)
