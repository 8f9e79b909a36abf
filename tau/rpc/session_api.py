"""The session-management RPCs of issue #17 (`SessionApi`, a mixin of `RuntimeServiceImpl`): DeleteSession,
UpdateSession, the preset RPCs, ListConversations / GetConversation, ListSkills / GetSkill, and ListSessions' filters
(`session_filter`).

Contract:
- DeleteSession (also cancels the session's running background agents, whose sessions stay; its mail goes with
  it): FAILED_PRECONDITION while a run is in progress, unless `force` (the run is cancelled and its final
  event waited for, bounded by `ServiceLimits.drain_timeout`). Deleting removes the session's store ref (its
  snapshots stay while a fork reaches them; `tau sessions gc` collects the rest), its serve journal, its labels in
  the catalog, and ends its followers (StreamEvents, SSE). Forks of it are untouched: their `parent_session_id`
  keeps naming it. A deleted id is NOT_FOUND afterwards; deleting it again is NOT_FOUND too.
- UpdateSession: the session's job for its next run, re-resolved as `tau resume` resolves flags over a stored job
  (`config.resume_job`: model, tools, instructions, limits, vars, output schema, MCP servers replace; permission
  rules are appended; mode and on_ask replace; environment replaces), labels set or (empty value) removed.
  FAILED_PRECONDITION while a run is in progress; INVALID_ARGUMENT for a job that does not resolve.
- `event_stream`: StreamEvents for the SSE route (`rpc.sse`), its errors raised before the first event.
- Skills: the SKILL.md files a run of the session would discover in its workspace (and the server user's
  libraries), as `tau skills ls` finds them; an untrusted workspace's skills leading outside it are left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from tau.config import resume_job
from tau.errors import ConfigError
from tau.memory import find_project_root
from tau.rpc import conversations
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.events import as_stream_event
from tau.rpc.jobs import SessionJob, job_record, placement_of, request_flags
from tau.rpc.presets import PresetBook
from tau.rpc.registry import SessionState
from tau.sessions.catalog_port import CatalogStore
from tau.skills import Skill, discover_skills

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from tau.rpc.mailbox import Mailbox
    from tau.rpc.registry import SessionRegistry
    from tau.rpc.runs import RunSupervisor
    from tau.rpc.service import ServiceLimits
    from tau.runtime import Runtime
    from tau.sessions import SessionStore

Ctx = RequestContext[Any, Any]


def _time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{field} is not an RFC 3339 time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def session_filter(request: pb.ListSessionsRequest) -> Callable[[SessionState], bool] | None:
    """ListSessions' filters as one predicate (None: no filter). INVALID_ARGUMENT for a bad `since`."""
    since = _time(request.since, "since") if request.since else None
    labels = dict(request.labels)
    if not (request.status or labels or request.conversation_id or request.preset or since):
        return None

    def keep(session: SessionState) -> bool:
        return (
            (not request.status or session.status == request.status)
            and all(session.labels.get(key) == value for key, value in labels.items())
            and (not request.conversation_id or session.conversation_id == request.conversation_id)
            and (not request.preset or session.preset == request.preset)
            and (since is None or _time(session.update_time, "update_time") >= since)
        )

    return keep


def _skill_info(skill: Skill) -> pb.SkillInfo:
    hint = skill.meta.argument_hint if isinstance(skill.meta.argument_hint, str) else ""
    return pb.SkillInfo(
        name=skill.name, description=skill.description, scope=skill.scope, path=skill.path, argument_hint=hint
    )


class SessionApi:
    """The RPCs above, over the service's registry, runtime, store, catalog and presets."""

    if TYPE_CHECKING:
        _registry: SessionRegistry
        _runs: RunSupervisor
        _store: SessionStore
        _env: dict[str, str]
        _cwd: Path
        runtime: Runtime
        limits: ServiceLimits
        catalog: CatalogStore
        presets: PresetBook
        mailbox: Mailbox

        _draining: bool

        def _session(self, session_id: str) -> SessionState: ...
        def _refuse_when_draining(self) -> None: ...
        def _check_after(self, session: SessionState, after_seq: int) -> None: ...
        def _owning(self, session: SessionState, doing: str) -> AbstractContextManager[SessionState]: ...
        def _follow(
            self,
            session: SessionState,
            after_seq: int,
            *,
            stop_after: Callable[[pb.RunResponse], bool],
            done: Callable[[], bool],
            follow: bool = True,
        ) -> AsyncIterator[pb.RunResponse]: ...

    # -- events (the SSE route) ------------------------------------------------------------------------------------

    def event_stream(self, session_id: str, after_seq: int, *, follow: bool) -> AsyncIterator[pb.StreamEventsResponse]:
        """StreamEvents for `rpc.sse`: the session's events after `after_seq`. Raises ConnectError now (not at the
        first event) for an unknown session, dropped events (OUT_OF_RANGE) or a draining server."""
        self._refuse_when_draining()
        session = self._session(session_id)
        self._check_after(session, after_seq)

        def done() -> bool:
            return self._draining or (not follow and session.current is None)

        async def events() -> AsyncIterator[pb.StreamEventsResponse]:
            async for item in self._follow(session, after_seq, stop_after=lambda _: False, done=done, follow=follow):
                yield as_stream_event(item)

        return events()

    # -- sessions --------------------------------------------------------------------------------------------------

    async def delete_session(self, request: pb.DeleteSessionRequest, ctx: Ctx, /) -> pb.DeleteSessionResponse:
        session = self._session(request.session_id)
        with self._owning(session, "DeleteSession") as session:  # not while another front end runs it
            return await self._delete(session, request)

    async def _delete(self, session: SessionState, request: pb.DeleteSessionRequest) -> pb.DeleteSessionResponse:
        if session.current is not None:
            if not request.force:
                raise ConnectError(
                    Code.FAILED_PRECONDITION,
                    f"session {session.session_id!r} is running run {session.current.number}: CancelRun it first, "
                    "or delete with force",
                )
            await self._stop_run(session)
        await self.mailbox.stop_children(session.session_id, "parent session deleted")
        head = session.head_snapshot_id
        archive = self._store.archive()  # a store that keeps nothing between runs has nothing to delete
        if archive is not None and archive.head(session.session_id) is not None:
            head = await archive.remove(session.session_id)
        self._registry.remove(session.session_id)
        session.log.close()  # its followers end
        self.catalog.forget_session([session.session_id])
        return pb.DeleteSessionResponse(head_snapshot_id=head)

    async def _stop_run(self, session: SessionState) -> None:
        run = session.current
        await self._runs.cancel(session, "run cancelled: its session is being deleted")
        task = run.task if run is not None else None
        if task is not None:
            await asyncio.wait({task}, timeout=self.limits.drain_timeout)
        if session.current is not None:
            raise ConnectError(Code.UNAVAILABLE, f"the run of session {session.session_id!r} did not stop in time")

    async def update_session(self, request: pb.UpdateSessionRequest, ctx: Ctx, /) -> pb.UpdateSessionResponse:
        session = self._session(request.session_id)
        if session.current is None:
            with self._owning(session, "UpdateSession") as session:  # no other front end changes it meanwhile
                return self._update(session, request)
        return self._update(session, request)

    def _update(self, session: SessionState, request: pb.UpdateSessionRequest) -> pb.UpdateSessionResponse:
        if session.current is not None:
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"session {session.session_id!r} is running: update it between runs"
            )
        try:
            job = self._updated_job(session.job, request)
        except ConfigError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid job: {error}") from None
        session.job = job
        if request.labels:
            for key, value in request.labels.items():
                if value:
                    session.labels[key] = value
                else:
                    session.labels.pop(key, None)
            self.catalog.set_labels(session.session_id, dict(request.labels))
        session.touch()
        self._registry.save(session)
        return pb.UpdateSessionResponse(session=session.to_message())

    def _updated_job(self, job: SessionJob, request: pb.UpdateSessionRequest) -> SessionJob:
        asked = pb.CreateSessionRequest(model=request.model, job=request.job, permissions=request.permissions)
        flags = request_flags(asked)
        image: str | None = None
        if request.HasField("environment"):
            placement = placement_of(request.environment, self._cwd)
            flags.update(placement.flags, cwd=str(placement.workspace))
            if not placement.flags:
                flags["environment"] = "host"
            image = placement.image
        if not flags:
            return job
        config = job_record(job)["config"]
        spec = resume_job(config, prompt=None, flags=flags, env=self._env, cwd=self._cwd, source="UpdateSession")
        if image is not None:
            sandbox = spec.environment.sandbox.model_copy(update={"image": image})
            spec = spec.model_copy(update={"environment": spec.environment.model_copy(update={"sandbox": sandbox})})
        return SessionJob(spec=spec, default_prompt=job.default_prompt, context=job.context)

    # -- presets ---------------------------------------------------------------------------------------------------

    async def create_preset(self, request: pb.CreatePresetRequest, ctx: Ctx, /) -> pb.CreatePresetResponse:
        return pb.CreatePresetResponse(preset=self.presets.create(request))

    async def get_preset(self, request: pb.GetPresetRequest, ctx: Ctx, /) -> pb.GetPresetResponse:
        return pb.GetPresetResponse(preset=self.presets.get(request.name, request.version))

    async def list_presets(self, request: pb.ListPresetsRequest, ctx: Ctx, /) -> pb.ListPresetsResponse:
        return pb.ListPresetsResponse(presets=self.presets.list())

    async def update_preset(self, request: pb.UpdatePresetRequest, ctx: Ctx, /) -> pb.UpdatePresetResponse:
        return pb.UpdatePresetResponse(preset=self.presets.update(request))

    async def delete_preset(self, request: pb.DeletePresetRequest, ctx: Ctx, /) -> pb.DeletePresetResponse:
        return pb.DeletePresetResponse(versions=self.presets.delete(request.name))

    # -- conversations ---------------------------------------------------------------------------------------------

    async def list_conversations(
        self, request: pb.ListConversationsRequest, ctx: Ctx, /
    ) -> pb.ListConversationsResponse:
        return pb.ListConversationsResponse(conversations=conversations.all_conversations(self._registry.all()))

    async def get_conversation(self, request: pb.GetConversationRequest, ctx: Ctx, /) -> pb.GetConversationResponse:
        nodes = self._conversation(request.conversation_id)
        return pb.GetConversationResponse(
            conversation=conversations.summary(request.conversation_id, nodes),
            nodes=[conversations.node(session) for session in nodes],
        )

    def _conversation(self, conversation_id: str) -> list[SessionState]:
        if not conversation_id:
            raise ConnectError(Code.INVALID_ARGUMENT, "conversation_id is required")
        nodes = conversations.members(self._registry.all(), conversation_id)
        if not nodes:
            raise ConnectError(Code.NOT_FOUND, f"no conversation {conversation_id!r}")
        return nodes

    def conversation_head(self, conversation_id: str) -> SessionState:
        """The session `Run{conversation_id}` continues (NOT_FOUND for an unknown conversation)."""
        top = conversations.head(self._conversation(conversation_id))
        assert top is not None
        return top

    # -- skills ----------------------------------------------------------------------------------------------------

    def _skills(self, session: SessionState) -> list[Skill]:
        spec = session.job.spec
        if not spec.skills.enabled:
            return []
        workspace = spec.environment.workspace or str(self._cwd)
        home = spec.home or ""
        catalog = discover_skills(
            cwd=workspace,
            home=home,
            project_root=find_project_root(workspace, home=home or None),
            workspace_root=workspace,
            confined=not spec.trust.trusted,
        )
        return catalog.skills

    async def list_skills(self, request: pb.ListSkillsRequest, ctx: Ctx, /) -> pb.ListSkillsResponse:
        session = self._session(request.session_id)
        skills = await asyncio.to_thread(self._skills, session)
        return pb.ListSkillsResponse(skills=[_skill_info(skill) for skill in skills])

    async def get_skill(self, request: pb.GetSkillRequest, ctx: Ctx, /) -> pb.GetSkillResponse:
        session = self._session(request.session_id)
        if not request.name:
            raise ConnectError(Code.INVALID_ARGUMENT, "name is required")
        skills = await asyncio.to_thread(self._skills, session)
        found = next((skill for skill in skills if skill.name == request.name), None)
        if found is None:
            raise ConnectError(Code.NOT_FOUND, f"no skill {request.name!r} for session {session.session_id!r}")
        return pb.GetSkillResponse(skill=_skill_info(found), body=found.body)
