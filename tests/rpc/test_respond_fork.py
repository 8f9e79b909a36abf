"""Suspension, Respond and ForkSession over real HTTP: an `ask` suspends an RPC session (the RPC default on_ask),
GetSession lists what it waits on, Respond approves / denies / answers per call id and the session continues through
the runtime on its event log; ForkSession forks the file store and the fork runs on the forked history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from rpc_helpers import RunScripts, Served, prompts

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.sessions import FileSessionStore
from tau.testing import calls, reply

WRITE_A = ("write", {"file_path": "a.txt", "content": "A"})
WRITE_B = ("write", {"file_path": "b.txt", "content": "B"})
ASKING = pb.Permissions(mode="default")  # writes ask; on_ask left empty: the RPC default suspends


def code_of(call: Callable[[], object]) -> Code:
    with pytest.raises(ConnectError) as caught:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    return caught.value.code


def kinds(events: list[Any]) -> list[str | None]:
    return [e.WhichOneof("event") for e in events]


def returns(messages: list[ModelMessage]) -> dict[str, ToolReturnPart]:
    return {
        p.tool_call_id: p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    }


class Session:
    """One RPC session driven through the sync client."""

    def __init__(self, served: Served, client: RuntimeServiceClientSync, session_id: str) -> None:
        self.served, self.client, self.id = served, client, session_id

    def run(self, prompt: str) -> list[pb.RunResponse]:
        return list(self.client.run(pb.RunRequest(session_id=self.id, prompt=prompt), headers=self.served.headers))

    def get(self) -> pb.Session:
        return self.client.get_session(pb.GetSessionRequest(session_id=self.id), headers=self.served.headers).session

    def respond(self, request_id: str, **response: Any) -> pb.RespondResponse:
        request = pb.RespondRequest(session_id=self.id, request_id=request_id, **response)
        return self.client.respond(request, headers=self.served.headers)

    def events_after(self, after_seq: int) -> list[pb.StreamEventsResponse]:
        """The events after `after_seq` until the run in progress ends (StreamEvents without follow)."""
        request = pb.StreamEventsRequest(session_id=self.id, after_seq=after_seq)
        return list(self.client.stream_events(request, headers=self.served.headers))


def open_session(served: Served, client: RuntimeServiceClientSync, **fields: Any) -> Session:
    fields.setdefault("permissions", ASKING)
    return Session(served, client, served.create(client, **fields))


def approve(approved: bool, message: str = "") -> dict[str, Any]:
    return {"approval": pb.Approval(approved=approved, message=message)}


def test_suspend_lists_pending_then_approve_writes_and_completes(serve: Callable[..., Served]) -> None:
    scripts = RunScripts([[calls(WRITE_A)], [reply("wrote it")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client)
        events = session.run("write a.txt")

        assert kinds(events)[-4:] == ["snapshot", "permission_request", "status", "final"]
        asked = events[-3].permission_request
        assert (asked.request_id, asked.call_id, asked.tool) == ("call_1_0", "call_1_0", "write")
        assert dict(asked.input) == WRITE_A[1] and "needs approval" in asked.reason
        assert json.loads(events[-3].event_json)["type"] == "approval.requested"
        final = events[-1].final
        assert (final.status, final.terminal_reason, final.exit_code) == ("suspended", "needs_input", 4)
        assert final.session_status == events[-2].status.status == pb.SESSION_STATUS_AWAITING_APPROVAL
        assert not (served.workspace / "a.txt").exists()

        state = session.get()
        assert (state.status, state.terminal_reason) == (pb.SESSION_STATUS_AWAITING_APPROVAL, "needs_input")
        assert [(p.request_id, p.permission.tool) for p in state.pending] == [("call_1_0", "write")]

        assert session.respond("call_1_0", **approve(True)).status == pb.SESSION_STATUS_RUNNING
        more = session.events_after(state.last_seq)
        assert more[0].seq == state.last_seq + 1 and {e.run for e in more} == {2}
        assert more[0].status.detail == "run 2 started (continuing with the answers)"
        decided = [e.permission_decision for e in more if e.HasField("permission_decision")]
        assert [(d.call_id, d.decision, d.resolution) for d in decided] == [("call_1_0", "ask", "allowed")]
        assert [e.tool_result.status for e in more if e.HasField("tool_result")] == ["success"]
        assert (more[-1].final.status, more[-1].final.result) == ("completed", "wrote it")
        assert (served.workspace / "a.txt").read_text() == "A"

        state = session.get()
        assert (state.status, state.runs, list(state.pending)) == (pb.SESSION_STATUS_COMPLETED, 2, [])
        continued = scripts.played[1].requests[0]
        assert prompts(continued) == ["write a.txt"]  # the history reached the model, no new prompt
        assert returns(continued)["call_1_0"].outcome == "success"
        # nothing is pending any more (repeating the same answer is a no-op success: see the next test)
        assert code_of(lambda: session.respond("call_1_0", **approve(False))) == Code.FAILED_PRECONDITION
        assert code_of(lambda: session.respond("call_9_9", **approve(True))) == Code.FAILED_PRECONDITION


def test_a_repeated_respond_succeeds_without_a_second_effect(serve: Callable[..., Served]) -> None:
    """A client whose Respond call timed out after the server applied it retries: it gets the session's status,
    not an error, and the session does not continue twice. A different answer to the same request is refused."""
    scripts = RunScripts([[calls(WRITE_A)], [reply("wrote it")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client)
        last = session.run("write a.txt")[-1].seq
        assert session.respond("call_1_0", **approve(True)).status == pb.SESSION_STATUS_RUNNING
        assert session.respond("call_1_0", **approve(True)).status in (
            pb.SESSION_STATUS_RUNNING, pb.SESSION_STATUS_COMPLETED,
        )  # fmt: skip
        assert session.events_after(last)[-1].final.result == "wrote it"
        assert session.respond("call_1_0", **approve(True)).status == pb.SESSION_STATUS_COMPLETED
        assert code_of(lambda: session.respond("call_1_0", **approve(False))) == Code.FAILED_PRECONDITION
        assert session.get().runs == 2 and len(scripts.played) == 2


def test_deny_with_a_reason_reaches_the_model(serve: Callable[..., Served]) -> None:
    scripts = RunScripts([[calls(WRITE_A)], [reply("ok, not writing")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client)
        last = session.run("write a.txt")[-1].seq
        assert session.respond("call_1_0", **approve(False, "not on a Friday")).status == pb.SESSION_STATUS_RUNNING
        more = session.events_after(last)
        decided = [e.permission_decision for e in more if e.HasField("permission_decision")]
        assert [(d.resolution, d.reason) for d in decided] == [("denied", "not on a Friday")]
        assert more[-1].final.status == "completed"
        denial = returns(scripts.played[1].requests[0])["call_1_0"]
        assert denial.outcome == "denied" and "not on a Friday" in denial.model_response_str()
        assert not (served.workspace / "a.txt").exists()


def test_every_pending_call_needs_an_answer_before_the_session_continues(serve: Callable[..., Served]) -> None:
    scripts = RunScripts([[calls(WRITE_A, WRITE_B)], [reply("one of two")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client)
        last = session.run("write both")[-1].seq
        assert [p.request_id for p in session.get().pending] == ["call_1_0", "call_1_1"]

        assert session.respond("call_1_1", **approve(False)).status == pb.SESSION_STATUS_AWAITING_APPROVAL
        state = session.get()
        assert (state.status, [p.request_id for p in state.pending]) == (
            pb.SESSION_STATUS_AWAITING_APPROVAL, ["call_1_0"],
        )  # fmt: skip
        assert state.last_seq == last and state.runs == 1  # nothing ran yet

        assert session.respond("call_1_0", **approve(True)).status == pb.SESSION_STATUS_RUNNING
        assert session.events_after(last)[-1].final.status == "completed"
        assert (served.workspace / "a.txt").read_text() == "A"
        assert not (served.workspace / "b.txt").exists()
        outcomes = {call_id: part.outcome for call_id, part in returns(scripts.played[1].requests[0]).items()}
        assert outcomes == {"call_1_0": "success", "call_1_1": "denied"}


def test_a_question_is_answered_with_text(serve: Callable[..., Served]) -> None:
    ask = ("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]})
    scripts = RunScripts([[calls(ask)], [reply("blue it is")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client)
        events = session.run("paint it")
        assert events[-1].final.session_status == pb.SESSION_STATUS_AWAITING_INPUT
        asked = [e.clarification_request for e in events if e.HasField("clarification_request")]
        assert {(q.request_id, q.question, tuple(q.options)) for q in asked} == {
            ("call_1_0", "Which colour?", ("red", "blue"))
        }
        state = session.get()
        assert state.status == pb.SESSION_STATUS_AWAITING_INPUT
        assert [p.clarification.question for p in state.pending] == ["Which colour?"]
        assert code_of(lambda: session.respond("call_1_0", **approve(True))) == Code.INVALID_ARGUMENT
        assert session.respond("call_1_0", answer=pb.Answer(text="blue")).status == pb.SESSION_STATUS_RUNNING
        assert session.events_after(state.last_seq)[-1].final.result == "blue it is"
        assert returns(scripts.played[1].requests[0])["call_1_0"].model_response_str() == "blue"


def test_a_plan_is_rejected_then_approved_and_executed(serve: Callable[..., Served]) -> None:
    scripts = RunScripts([[reply("1. write b.txt")], [reply("1. write a.txt")], [calls(WRITE_A), reply("done")]])
    served = serve(scripts)
    with served.client() as client:
        session = open_session(served, client, permissions=pb.Permissions(mode="plan"))
        events = session.run("plan the work")
        plans = [e.plan for e in events if e.HasField("plan")]
        assert [(p.request_id, p.text.strip()) for p in plans] == [("plan-1", "1. write b.txt")]
        state = session.get()
        assert (state.status, [(p.request_id, p.plan.text.strip()) for p in state.pending]) == (
            pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL, [("plan-1", "1. write b.txt")],
        )  # fmt: skip
        unspecified = pb.PlanResponse()
        assert code_of(lambda: session.respond("plan-1", plan=unspecified)) == Code.INVALID_ARGUMENT

        reject = pb.PlanResponse(decision=pb.PLAN_DECISION_REJECT, feedback="a.txt, not b.txt")
        session.respond("plan-1", plan=reject)
        replanned = session.events_after(state.last_seq)
        assert [e.plan.request_id for e in replanned if e.HasField("plan")] == ["plan-2"]
        assert replanned[-1].final.session_status == pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL
        assert "a.txt, not b.txt" in prompts(scripts.played[1].requests[0])[-1]

        approve_plan = pb.PlanResponse(decision=pb.PLAN_DECISION_APPROVE)
        # a late APPROVE meant for the rejected plan must not approve the new one
        assert code_of(lambda: session.respond("plan-1", plan=approve_plan)) == Code.FAILED_PRECONDITION
        assert code_of(lambda: session.respond("plan", plan=approve_plan)) == Code.INVALID_ARGUMENT
        assert session.respond("plan-1", plan=reject).status == pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL  # a repeat
        state = session.get()
        assert (state.status, state.runs, [p.request_id for p in state.pending]) == (
            pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL, 2, ["plan-2"],
        )  # fmt: skip

        session.respond("plan-2", plan=approve_plan)
        executed = session.events_after(replanned[-1].seq)
        assert executed[-1].final.status == "completed"
        assert (served.workspace / "a.txt").read_text() == "A"  # execution mode: the edit was allowed
        assert "1. write a.txt" in prompts(scripts.played[2].requests[0])[-1]
        assert session.get().status == pb.SESSION_STATUS_COMPLETED
        assert code_of(lambda: session.respond("plan-2", plan=reject)) == Code.FAILED_PRECONDITION


def test_bad_respond_payloads_get_proper_codes(serve: Callable[..., Served]) -> None:
    served = serve(RunScripts([[calls(WRITE_A)], [reply("done")]]))
    h = served.headers
    with served.client() as client:
        session = open_session(served, client)
        idle = open_session(served, client)
        assert code_of(lambda: idle.respond("call_1_0", **approve(True))) == Code.FAILED_PRECONDITION
        session.run("write a.txt")

        bad: dict[str, Callable[[], object]] = {
            "unknown call id": lambda: session.respond("call_9", **approve(True)),
            "answer to an approval": lambda: session.respond("call_1_0", answer=pb.Answer(text="yes")),
            "plan for an approval": lambda: session.respond(
                "call_1_0", plan=pb.PlanResponse(decision=pb.PLAN_DECISION_APPROVE)
            ),
            "no response": lambda: client.respond(
                pb.RespondRequest(session_id=session.id, request_id="call_1_0"), headers=h
            ),
            "no request id": lambda: session.respond("", **approve(True)),
        }
        assert {name: code_of(call) for name, call in bad.items()} == dict.fromkeys(bad, Code.INVALID_ARGUMENT)
        # a new prompt while requests are pending is refused; the session still waits
        assert code_of(lambda: session.run("something else")) == Code.FAILED_PRECONDITION
        state = session.get()
        assert (state.status, len(state.pending), state.runs) == (pb.SESSION_STATUS_AWAITING_APPROVAL, 1, 1)
        # and it can still be answered
        last = state.last_seq
        session.respond("call_1_0", **approve(True))
        assert session.events_after(last)[-1].final.status == "completed"


def test_an_ask_with_on_ask_deny_does_not_suspend(serve: Callable[..., Served]) -> None:
    served = serve(RunScripts([[calls(WRITE_A), reply("could not write")]]))
    with served.client() as client:
        session = open_session(served, client, permissions=pb.Permissions(mode="default", on_ask="deny"))
        events = session.run("write a.txt")
        assert "permission_request" not in kinds(events)
        assert events[-1].final.status == "completed"
        assert session.get().status == pb.SESSION_STATUS_COMPLETED


def snapshots(events: list[Any]) -> list[str]:
    return [e.snapshot.snapshot_id for e in events if e.HasField("snapshot")]


def test_fork_then_run_sees_the_forked_history(serve: Callable[..., Served], tmp_path: Path) -> None:
    scripts = RunScripts([[reply("one")], [reply("two")], [reply("three")], [reply("four")]])
    served = serve(scripts, state_dir=tmp_path / "state")
    h = served.headers
    with served.client() as client:
        source = open_session(served, client, session_id="src", labels={"team": "infra"})
        after_first = snapshots(source.run("first"))[-1]
        source.run("second")
        assert prompts(scripts.played[1].requests[0]) == ["first", "second"]  # later runs continue the session

        forked = client.fork_session(
            pb.ForkSessionRequest(session_id="src", snapshot_id=after_first[:10], new_session_id="fork"), headers=h
        )
        assert forked.session_id == "fork"
        state = forked.session
        assert (state.status, state.parent_session_id, dict(state.labels)) == (
            pb.SESSION_STATUS_ACTIVE, "src", {"team": "infra"},
        )  # fmt: skip
        fork = Session(served, client, "fork")
        events = fork.run("third")
        assert events[-1].final.status == "completed"
        assert prompts(scripts.played[2].requests[0]) == ["first", "third"]

        head = client.fork_session(pb.ForkSessionRequest(session_id="src"), headers=h)  # the head, a new id
        assert head.session_id not in ("src", "fork")
        Session(served, client, head.session_id).run("fourth")
        assert prompts(scripts.played[3].requests[0]) == ["first", "second", "fourth"]

        listed = client.list_sessions(pb.ListSessionsRequest(), headers=h).sessions
        assert [s.session_id for s in listed] == [head.session_id, "fork", "src"]

        never_ran = open_session(served, client, session_id="fresh")
        errors = {
            "unknown snapshot": pb.ForkSessionRequest(session_id="src", snapshot_id="0000000000"),
            "taken id": pb.ForkSessionRequest(session_id="src", new_session_id="fork"),
            "bad id": pb.ForkSessionRequest(session_id="src", new_session_id="no/slashes"),
            "never ran": pb.ForkSessionRequest(session_id=never_ran.id),
            "unknown session": pb.ForkSessionRequest(session_id="nope"),
        }

        def fork_code(request: pb.ForkSessionRequest) -> Code:
            return code_of(lambda: client.fork_session(request, headers=h))

        assert {name: fork_code(request) for name, request in errors.items()} == {
            "unknown snapshot": Code.NOT_FOUND,
            "taken id": Code.ALREADY_EXISTS,
            "bad id": Code.INVALID_ARGUMENT,
            "never ran": Code.FAILED_PRECONDITION,
            "unknown session": Code.NOT_FOUND,
        }


def test_a_fork_of_a_suspended_session_carries_its_pending_call(serve: Callable[..., Served], tmp_path: Path) -> None:
    scripts = RunScripts([[calls(WRITE_A)], [reply("wrote it in the fork")]])
    served = serve(scripts, state_dir=tmp_path / "state")
    with served.client() as client:
        source = open_session(served, client, session_id="src")
        source.run("write a.txt")
        forked = client.fork_session(
            pb.ForkSessionRequest(session_id="src", new_session_id="fork"), headers=served.headers
        ).session
        assert forked.status == pb.SESSION_STATUS_AWAITING_APPROVAL
        assert [(p.request_id, p.permission.tool, dict(p.permission.input)) for p in forked.pending] == [
            ("call_1_0", "write", WRITE_A[1])
        ]
        fork = Session(served, client, "fork")
        fork.respond("call_1_0", **approve(True))
        assert fork.events_after(forked.last_seq)[-1].final.result == "wrote it in the fork"
        assert (served.workspace / "a.txt").read_text() == "A"
        assert source.get().status == pb.SESSION_STATUS_AWAITING_APPROVAL  # the source still waits

        # an id the store already has (a `tau run` session, say) is taken for CreateSession and ForkSession
        asyncio.run(begin_outside(tmp_path / "state", "outside"))
        taken = pb.CreateSessionRequest(session_id="outside", model="test:scripted")
        assert code_of(lambda: client.create_session(taken, headers=served.headers)) == Code.ALREADY_EXISTS
        fork_onto = pb.ForkSessionRequest(session_id="src", new_session_id="outside")
        assert code_of(lambda: client.fork_session(fork_onto, headers=served.headers)) == Code.ALREADY_EXISTS


async def begin_outside(state: Path, session_id: str) -> None:
    store = FileSessionStore(state)
    await store.begin(session_id, {"prompt": "made by tau run"})
    await store.close(session_id)
