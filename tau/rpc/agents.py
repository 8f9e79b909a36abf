"""The mailbox and background-agent RPCs of issue #17 item 3 (`AgentApi`, a mixin of `RuntimeServiceImpl`):
SendMessage, ListMail, StartAgent. The fire logic (when mail reaches a run) is `rpc.mailbox`'s.

Contract:
- SendMessage: to `session_id`, or to a conversation's head session (`conversation_id`); NOT_FOUND for an unknown
  or deleted session, INVALID_ARGUMENT for empty text or both/neither target, RESOURCE_EXHAUSTED past the prompt
  size limit, UNAVAILABLE while draining. The mail is stored (catalog) before the RPC answers.
- ListMail: the session's mail, oldest first (NOT_FOUND for an unknown session).
- StartAgent: a child session with its parent's job (model, tools, permissions, limits, environment: never wider
  than the parent's, and its own per-run budget), started at once with `prompt`. NOT_FOUND for an unknown parent;
  FAILED_PRECONDITION past `MailLimits.max_depth`; RESOURCE_EXHAUSTED past the running agents per parent or per
  server. The parent's log gets `agent.spawned`. Cancelling or deleting the parent cancels its running agents.
  A run's `task(background=true)` goes through the same `spawn_agent` (`background_spawn`, set in the run's task
  context by `rpc.runs`), with the task's `subagent_type` as the agent's name; a refusal is the tool's answer.
- A parent's `task(reply_to=CHILD, prompt=ANSWER)` (`AgentReply`): CHILD must be a background agent of the run's
  session waiting on questions; each pending clarification gets ANSWER through `respond` (the Respond RPC's own
  code, so the child continues as after a client's answer). Permission asks and plans are refused: a model never
  approves its agent's tool calls or plans (that would widen the child past what the parent may do unasked).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from tau.protocol import AgentSpawned
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.mailbox import Mailbox
from tau.runtime import Start
from tau.runtime.features.background import BackgroundRefused, BackgroundSpawn
from tau.sessions.catalog import MailRow
from tau.sessions.catalog_port import CatalogStore

if TYPE_CHECKING:
    from tau.rpc.registry import SessionRegistry, SessionState
    from tau.rpc.runs import RunSupervisor
    from tau.rpc.service import ServiceLimits

Ctx = RequestContext[Any, Any]
_NAME_CAP = 128


def mail_message(row: MailRow) -> pb.Mail:
    return pb.Mail(
        seq=row.seq,
        session_id=row.session_id,
        sender=row.sender,
        kind=row.kind,
        body=row.body,
        create_time=row.created,
        deliver_time=row.delivered,
    )


class AgentApi:
    """The RPCs above, over the service's registry, runs, catalog and mailbox."""

    if TYPE_CHECKING:
        _registry: SessionRegistry
        _runs: RunSupervisor
        limits: ServiceLimits
        catalog: CatalogStore
        mailbox: Mailbox

        def _session(self, session_id: str) -> SessionState: ...
        def _refuse_when_draining(self) -> None: ...
        def _new_session_id(self, requested: str) -> str: ...
        def conversation_head(self, conversation_id: str) -> SessionState: ...
        async def respond(self, request: pb.RespondRequest, ctx: Ctx, /) -> pb.RespondResponse: ...

    def serving(self) -> None:
        """The server listens (on its event loop): deliver mail and report agents an earlier server left."""
        self.mailbox.recover()

    async def send_message(self, request: pb.SendMessageRequest, ctx: Ctx, /) -> pb.SendMessageResponse:
        self._refuse_when_draining()
        if bool(request.session_id) == bool(request.conversation_id):
            raise ConnectError(Code.INVALID_ARGUMENT, "give one of session_id or conversation_id")
        if not request.text.strip():
            raise ConnectError(Code.INVALID_ARGUMENT, "text is empty")
        size = len(request.text.encode())
        if size > self.limits.max_prompt_bytes:
            limit = self.limits.max_prompt_bytes
            raise ConnectError(Code.RESOURCE_EXHAUSTED, f"text is {size} bytes; the limit is {limit} bytes")
        if request.session_id:
            session = self._session(request.session_id)
        else:
            session = self.conversation_head(request.conversation_id)
        sender = request.sender.strip()[:_NAME_CAP] or "client"
        row = self.mailbox.post(session, sender=sender, kind="message", body=request.text)
        return pb.SendMessageResponse(mail=mail_message(row), delivered=False)

    async def list_mail(self, request: pb.ListMailRequest, ctx: Ctx, /) -> pb.ListMailResponse:
        session = self._session(request.session_id)
        rows = self.catalog.mail(session.session_id, pending_only=request.pending_only)
        return pb.ListMailResponse(mail=[mail_message(row) for row in rows])

    async def start_agent(self, request: pb.StartAgentRequest, ctx: Ctx, /) -> pb.StartAgentResponse:
        if not request.parent_session_id:
            raise ConnectError(Code.INVALID_ARGUMENT, "parent_session_id is required")
        parent = self._session(request.parent_session_id)
        child_id, depth = self.spawn_agent(parent, request.prompt, request.agent, request.session_id)
        return pb.StartAgentResponse(session_id=child_id, depth=depth)

    def background_spawn(self, parent: SessionState) -> BackgroundSpawn:
        """The `task(background=true)` and `task(reply_to=...)` of `parent`'s runs (`runtime.features.background`)."""
        return AgentReply(self, parent)

    async def answer_agent(self, parent: SessionState, child_id: str, text: str) -> int:
        """Answer the pending questions of `parent`'s background agent `child_id` with `text` (module docstring):
        how many were answered, or ConnectError."""
        row = self.catalog.agent(child_id)
        if row is None or row.parent_session_id != parent.session_id or child_id not in self._registry:
            raise ConnectError(Code.NOT_FOUND, f"{child_id!r} is not a background agent of this session")
        child = self._registry.get(child_id)
        kinds = {request.request_id: request.WhichOneof("request") for request in child.pending.values()}
        if child.current is not None or not kinds:
            raise ConnectError(Code.FAILED_PRECONDITION, f"background agent {child_id!r} is not waiting on a question")
        others = [rid for rid, kind in kinds.items() if kind != "clarification"]
        if others:
            raise ConnectError(
                Code.PERMISSION_DENIED,
                f"background agent {child_id!r} waits on approvals or a plan ({', '.join(others)}): a client must "
                "answer those (Respond on its session)",
            )
        for request_id in kinds:
            answer = pb.RespondRequest(session_id=child_id, request_id=request_id, answer=pb.Answer(text=text))
            await self.respond(answer, None)  # type: ignore[arg-type]  # the RPC's code; it reads no context
        return len(kinds)

    def spawn_agent(self, parent: SessionState, prompt: str, agent: str, session_id: str = "") -> tuple[str, int]:
        """Start a background agent under `parent` (see the module docstring); its id and depth, or ConnectError."""
        self._refuse_when_draining()
        if not prompt.strip():
            raise ConnectError(Code.INVALID_ARGUMENT, "prompt is empty")
        size = len(prompt.encode())
        if size > self.limits.max_prompt_bytes:
            limit = self.limits.max_prompt_bytes
            raise ConnectError(Code.RESOURCE_EXHAUSTED, f"prompt is {size} bytes; the limit is {limit} bytes")
        depth = self._check_agent_limits(parent)
        child_id = self._new_session_id(session_id or f"{parent.session_id}.agent-{uuid.uuid4().hex[:8]}")
        name = agent.strip()[:_NAME_CAP] or "agent"
        labels = {"tau.agent": name, "tau.agent.parent": parent.session_id}
        try:
            child = self._registry.add(child_id, parent.job, labels=labels)
        except OverflowError as error:
            raise ConnectError(Code.RESOURCE_EXHAUSTED, str(error)) from None
        self.catalog.add_agent(child_id, parent.session_id, depth=depth, agent=name)
        self.catalog.set_labels(child_id, labels)
        self._registry.save(child)
        self.mailbox.emit(parent, AgentSpawned(agent=name, child_session_id=child_id, depth=depth))
        job = child.job.for_run(prompt, session_id=child_id)
        self._runs.launch(child, Start(job, child_id), prompt=job.prompt, key="", detail=f"background agent {name}")
        return child_id, depth

    def _check_agent_limits(self, parent: SessionState) -> int:
        """The new agent's depth, or the Connect error of the limit it would pass."""
        limits = self.mailbox.limits
        row = self.catalog.agent(parent.session_id)
        depth = (row.depth if row is not None else 0) + 1
        if depth > limits.max_depth:
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"a background agent at depth {depth} is past the server's max depth {limits.max_depth}",
            )
        mine = self.catalog.agents(parent_session_id=parent.session_id, state="running")
        if len(mine) >= limits.max_agents_per_session:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED,
                f"session {parent.session_id!r} already runs {len(mine)} background agents (the limit per session)",
            )
        running = self.catalog.agents(state="running")
        if len(running) >= limits.max_agents:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED, f"the server already runs {len(running)} background agents (its limit)"
            )
        return depth


class AgentReply:
    """`BackgroundSpawn` for one parent session: start its background agents, answer their questions."""

    def __init__(self, api: AgentApi, parent: SessionState) -> None:
        self._api = api
        self._parent = parent

    async def __call__(self, description: str, prompt: str, agent: str) -> str:
        try:
            return self._api.spawn_agent(self._parent, prompt, agent)[0]
        except ConnectError as error:
            raise BackgroundRefused(error.message) from None

    async def reply(self, session_id: str, text: str) -> str:
        if not text.strip():
            raise BackgroundRefused("the answer (prompt) is empty")
        try:
            count = await self._api.answer_agent(self._parent, session_id, text)
        except ConnectError as error:
            raise BackgroundRefused(error.message) from None
        return f"{count} question{'s' if count != 1 else ''}"
