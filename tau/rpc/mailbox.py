"""The fire logic of `tau serve`'s mailboxes (issue #17 item 3): `Mailbox`, used by the service (`rpc.agents`).

Mail itself is primary data in the catalog (`sessions.catalog`: the `mail` and `agents` tables); this module decides
when it reaches a run:
- A message posted to a session starts (or joins) a debounce window of `MailLimits.debounce` seconds; when it ends,
  every undelivered message of the session is handed over at once: to the running run at its next step boundary
  (the runtime's `Inject`, pydantic-ai's enqueue), else as the prompt of a continuation run (`Continue`, or
  `Start` for a session that never ran). Mail is marked delivered when it was injected or its run was launched.
- A session waiting on pending requests (approval, question, plan) keeps its mail until a run of it ends; every
  run's end looks at the mailbox again (`on_finished`).
- Loop guard: a wake-up whose mail is all automatic (a background agent's report, or a SendMessage whose sender is
  a session of this server) counts against `MailLimits.max_auto_wakeups`; external mail resets the count. Past the
  limit the mail stays undelivered and the session's log gets one warning Notice (`mailbox loop guard: ...`);
  external mail wakes it again. The count is per server process (a restart resets it).
- Background agents: a child's run end (completed / suspended / failed) posts `agent_completed` / `agent_question` /
  `agent_failed` to its parent's mailbox (and `agent.completed` to the parent's log). Its catalog row goes `running`
  -> `reported` on an end, `running` -> `question` on a suspension: a question is answered (Respond, or the parent's
  `task(reply_to=...)`) and the agent's next run end reports again. An agent cancelled because its parent was
  cancelled or deleted is marked `cancelled` first and reports nothing (its parent asked for it to stop).
- Mail another process wrote to the catalog (`tau mail send`) is found by a poll every `MailLimits.poll` seconds
  (and at every run's end), and at once when the catalog announces it (`MailWatch`: Postgres's LISTEN/NOTIFY);
  such mail has no `mail.received` event. With front ends sharing a database, a wake-up holds the session
  (`owning`, rpc.ownership) and delivers only the mail `mark_delivered` gave it.
- After a restart: the journal's restore ends the runs the killed server left (Final interrupted). For a
  background agent that end is not reported (`restoring`): `recover` resumes it instead — a continuation of its
  session from the last committed snapshot with `RESUMED_PROMPT` and the cut run's prompt (a run commits a response
  as it arrives and each finished tool call at once, so one cut before its first response committed no message
  yet), or a `Start` with its prompt when the session never began; its end reports to the parent as usual. Agents
  still `running` whose session is gone are marked reported; every session with undelivered mail is scheduled.
Everything runs on the server's event loop; without a running loop (the journal's restore in `__init__`) nothing
is scheduled until `recover`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from connectrpc.errors import ConnectError

from tau.protocol import AgentCompleted, Event, MailReceived, Notice, RunCompleted
from tau.rpc.events import to_response
from tau.rpc.journal import report
from tau.rpc.registry import SessionRegistry, SessionState
from tau.rpc.runs import RunSupervisor
from tau.runtime import Continue, Inject, Start
from tau.sessions.catalog import MailRow
from tau.sessions.catalog_port import CatalogStore, MailWatch

_REPORT_CAP = 16 * 1024  # the most of a child's answer one mail carries
_ACTIVE = ("running", "question")  # agent states whose run end is reported
RESUMED_PROMPT = (
    "tau serve restarted while you were working on this task, and the step in progress was cut off: a tool call "
    "it made may or may not have taken effect (check before repeating anything with side effects). Continue the "
    "task from where you left off and give your final answer as before."
)


@dataclass(frozen=True)
class MailLimits:
    """The mailbox's guard rails (`tau serve --mail-*` / `--max-agents*`)."""

    debounce: float = 0.5  # seconds a first message waits for more before its session is woken
    max_agents_per_session: int = 8  # background agents running at once under one parent
    max_agents: int = 64  # background agents running at once on the server
    max_depth: int = 2  # a background agent's background agent is depth 2
    max_auto_wakeups: int = 10  # wake-ups on automatic mail only, before the loop guard holds the mail
    poll: float = 2.0  # seconds between looks at the catalog for mail other processes wrote (`tau mail send`)


def render_mail(mail: list[MailRow]) -> str:
    """The prompt (or injected text) that hands `mail` to the agent."""
    head = f"You have {len(mail)} new message{'s' if len(mail) != 1 else ''} in your mailbox."
    parts = [head]
    for row in mail:
        parts.append(f"--- message {row.seq} from {row.sender} ({row.kind}) ---\n{row.body}")
    return "\n\n".join(parts)


class Mailbox:
    """Delivers the catalog's mail to runs (see the module docstring)."""

    def __init__(
        self,
        registry: SessionRegistry,
        runs: RunSupervisor,
        catalog: CatalogStore,
        limits: MailLimits | None,
        draining: Callable[[], bool],
    ) -> None:
        """Becomes `runs.on_finished`: background agents report and waiting mail is delivered when a run ends."""
        self._registry = registry
        self._runs = runs
        self._runtime = runs.runtime
        self._catalog = catalog
        self.limits = limits or MailLimits()
        runs.on_finished = self.on_finished
        self._draining = draining
        # The session, held by this front end while a wake-up starts its run (rpc.ownership, set by the service when
        # front ends share a database; ConnectError when another one runs it). Default: no one else to ask.
        self.owning: Callable[[SessionState], AbstractContextManager[SessionState]] = nullcontext
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._wakeups: dict[str, int] = {}  # automatic wake-ups since the last external mail, per session
        self._guarded: set[str] = set()  # sessions whose loop-guard notice was given
        self.tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None  # mail announced by the catalog (MailWatch: Postgres)
        self.restoring = True  # until `recover`: run ends are the journal's restore ending a killed server's runs
        self._resume: list[str] = []  # background agents whose run the killed server left unfinished

    # -- posting ---------------------------------------------------------------------------------------------------

    def post(self, session: SessionState, *, sender: str, kind: str, body: str) -> MailRow:
        """Store one message for `session`, tell its followers (`mail.received`), and schedule its delivery."""
        row = self._catalog.post_mail(session.session_id, sender=sender, kind=kind, body=body)
        if not self._automatic(row):
            self._wakeups.pop(session.session_id, None)
            self._guarded.discard(session.session_id)
        received = MailReceived(mail_seq=row.seq, sender=sender, kind=row.kind)  # type: ignore[arg-type]
        self.emit(session, received)
        self.schedule(session.session_id)
        return row

    def schedule(self, session_id: str) -> None:
        """Deliver the session's mail when the debounce window (started now, if none is open) ends."""
        if session_id in self._timers:
            return  # joins the open window
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # restoring before the loop runs: `recover` schedules it
        self._timers[session_id] = loop.call_later(self.limits.debounce, self._fire, session_id)

    # -- delivering ------------------------------------------------------------------------------------------------

    def _fire(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        if self._draining() or session_id not in self._registry:
            return
        session = self._registry.get(session_id)
        mail = self._catalog.mail(session_id, pending_only=True)
        if not mail:
            return
        if session.current is not None:
            task = asyncio.get_running_loop().create_task(self._inject(session, mail))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif not session.pending:
            self._wake_owned(session)
        # else: awaiting an answer; the run after it (on_finished) looks again

    def _wake_owned(self, session: SessionState) -> None:
        """`_wake`, holding the session (`owning`): its state and mail are read again once held."""
        try:
            with self.owning(session) as held:
                mail = self._catalog.mail(held.session_id, pending_only=True)
                if mail and held.current is None and not held.pending:
                    self._wake(held, mail)
        except ConnectError:
            return  # another front end runs the session: its run's end (on_finished there) delivers the mail

    async def _inject(self, session: SessionState, mail: list[MailRow]) -> None:
        delivered = await self._runtime.submit(Inject(session.session_id, (render_mail(mail),)))
        if delivered.delivered:
            self._catalog.mark_delivered(row.id for row in mail)
        # else the run is ending: its `on_finished` schedules the mail again

    def _wake(self, session: SessionState, mail: list[MailRow]) -> None:
        automatic = all(self._automatic(row) for row in mail)
        sid = session.session_id
        if automatic and self._wakeups.get(sid, 0) >= self.limits.max_auto_wakeups:
            if sid not in self._guarded:
                self._guarded.add(sid)
                text = (
                    f"mailbox loop guard: {self.limits.max_auto_wakeups} wake-ups on automatic mail without an "
                    f"external message; {len(mail)} message(s) left undelivered (SendMessage from a client wakes "
                    "the session again)"
                )
                self.emit(session, Notice(level="warning", message=text))
            return
        claimed = set(self._catalog.mark_delivered(row.id for row in mail))
        mail = [row for row in mail if row.id in claimed]  # what another process delivered first is not ours
        if not mail:
            return
        self._wakeups[sid] = self._wakeups.get(sid, 0) + 1 if automatic else 0
        prompt = render_mail(mail)
        job = session.job.for_run(prompt, session_id=sid, queued=session.take_queued())
        op = Continue(sid, job.prompt, job=job) if session.begun else Start(job, sid)
        self._runs.launch(session, op, prompt=job.prompt, key="", detail=f"woken by {len(mail)} message(s)")

    def _automatic(self, row: MailRow) -> bool:
        return row.kind != "message" or row.sender in self._registry

    # -- run ends, background agents -------------------------------------------------------------------------------

    def on_finished(self, session: SessionState, event: RunCompleted) -> None:
        """A run of `session` ended: report it to the parent if it is a background agent; deliver what waited."""
        agent = self._catalog.agent(session.session_id)
        if agent is not None and agent.state in _ACTIVE and self.restoring:
            self._resume.append(session.session_id)  # cut by the killed server: `recover` resumes it
            return
        if agent is not None and agent.state in _ACTIVE:
            if event.status == "completed":
                kind, status, body = "agent_completed", "completed", event.result or ""
            elif event.status == "suspended":
                kind, status, body = "agent_question", "question", _question(session)
            else:
                kind, status = "agent_failed", "failed"
                body = f"{event.terminal_reason}: {event.error or 'no detail'}"
            self._catalog.set_agent_state(session.session_id, "question" if status == "question" else "reported")
            if agent.parent_session_id in self._registry:
                parent = self._registry.get(agent.parent_session_id)
                error = None if status != "failed" else body
                done = AgentCompleted(
                    agent=agent.agent,
                    child_session_id=session.session_id,
                    status=status,  # type: ignore[arg-type]
                    error=error,
                )
                self.emit(parent, done)
                self.post(parent, sender=session.session_id, kind=kind, body=body[:_REPORT_CAP])
        if self._catalog.mail(session.session_id, pending_only=True):
            self.schedule(session.session_id)

    async def stop_children(self, parent_session_id: str, reason: str) -> int:
        """Cancel the running background agents of a parent (cancelled or deleted); they report nothing."""
        stopped = 0
        mine = self._catalog.agents(parent_session_id=parent_session_id)
        for agent in [row for row in mine if row.state in _ACTIVE]:
            self._catalog.set_agent_state(agent.session_id, "cancelled")
            if agent.session_id in self._registry:
                child = self._registry.get(agent.session_id)
                if child.current is not None:
                    await self._runs.cancel(child, reason)
                    stopped += 1
            stopped += await self.stop_children(agent.session_id, reason)
        return stopped

    def recover(self) -> None:
        """After a restart: resume the agents the previous server left running; deliver undelivered mail."""
        self.restoring = False
        for session_id in self._resume:
            if not self._draining() and session_id in self._registry:
                self._resume_agent(self._registry.get(session_id))
        self._resume.clear()
        for agent in self._catalog.agents(state="running"):
            child = self._registry.get(agent.session_id) if agent.session_id in self._registry else None
            if child is not None and child.current is not None:
                continue
            if child is None:
                self._catalog.set_agent_state(agent.session_id, "reported")
                continue
            lost = RunCompleted(
                status="failed",
                terminal_reason="interrupted",
                exit_code=130,
                session_id=agent.session_id,
                error="tau serve stopped before this background agent ended",
            )
            self.on_finished(child, lost)
        self._schedule_pending()
        if self._poller is None and self.limits.poll > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="tau-mailbox-poll")
        if self._listener is None and isinstance(self._catalog, MailWatch):
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(self._catalog), name="tau-mailbox-listen"
            )

    def _resume_agent(self, child: SessionState) -> None:
        """Continue a background agent a killed server cut off (see the module docstring)."""
        if child.current is not None:
            return
        sid = child.session_id
        cut = child.runs[-1].prompt if child.runs else ""  # the killed run's prompt (the journal keeps the last)
        # a run cut before its first response was committed has nothing but its start: its prompt goes again
        prompt = RESUMED_PROMPT + (f"\n\nThe prompt of the run that was cut off:\n\n{cut}" if cut else "")
        if not child.begun:
            prompt = cut
        if not prompt:
            return  # nothing to start it with: `recover` reports it failed
        job = child.job.for_run(prompt, session_id=sid, queued=child.take_queued())
        op = Continue(sid, job.prompt, job=job) if child.begun else Start(job, sid)
        self._runs.launch(child, op, prompt=job.prompt, key="", detail="background agent resumed after a restart")

    def _schedule_pending(self) -> None:
        for session_id in self._catalog.sessions_with_pending_mail():
            if session_id in self._registry:
                self.schedule(session_id)

    async def _poll(self) -> None:
        """Mail written by another process (`tau mail send` on this state dir) is found within `poll` seconds."""
        while not self._draining():
            await asyncio.sleep(self.limits.poll)
            try:
                self._schedule_pending()
            except Exception as error:  # the catalog's database unreachable for a moment: the next poll looks again
                report(f"looking for mail failed: {type(error).__name__}: {' '.join(str(error).split())[:200]}")

    async def _listen(self, watch: MailWatch) -> None:
        """Mail another process posted is scheduled as its notification arrives (the poll stays as the fallback:
        a notification lost with a dropped connection is found by it)."""
        while not self._draining():
            try:
                async for session_id in watch.mail_posted():
                    if session_id in self._registry:
                        self.schedule(session_id)
            except Exception as error:
                report(f"listening for mail failed: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
            await asyncio.sleep(max(self.limits.poll, 1.0))

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in (self._poller, self._listener):
            if task is not None:
                task.cancel()
        self._poller = self._listener = None

    def emit(self, session: SessionState, event: Event) -> None:
        run = session.current.number if session.current is not None else len(session.runs)
        session.log.append(lambda seq: to_response(event, seq=seq, run=run))


def _question(session: SessionState) -> str:
    """What a suspended agent waits on, in one message, and how its parent answers."""
    lines = []
    for request in session.pending.values():
        kind = request.WhichOneof("request")
        if kind == "clarification":
            options = f" (options: {', '.join(request.clarification.options)})" if request.clarification.options else ""
            lines.append(f"- question {request.request_id}: {request.clarification.question}{options}")
        elif kind == "permission":
            lines.append(f"- approval {request.request_id}: may it call {request.permission.tool}? (a client decides)")
        else:
            lines.append(f"- plan {request.request_id}: awaiting approval (a client decides)")
    head = (
        f"Background agent {session.session_id} is waiting for an answer. Answer its questions with the task tool: "
        f"task(reply_to={session.session_id!r}, prompt=YOUR ANSWER, description='answer', subagent_type=any); "
        "approvals and plans need a client's Respond on its session."
    )
    return "\n".join([head, *lines])
