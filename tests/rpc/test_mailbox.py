"""Background agents and the mailbox of issue #17 item 3 end to end: a real `tau serve` (uvicorn on 127.0.0.1), a
scripted model, and a third-party client (`buf curl`, Connect JSON, the proto file on the client side) for the new
RPCs (StartAgent, SendMessage, ListMail), the generated client only to wait on a session.

- the acceptance scenario: a parent starts three background agents and ends its run; their completions (together)
  wake it once (debounced), and its final answer uses all three results;
- a mailbox loop between two sessions (a gateway relaying each one's answer to the other) is stopped by the guard
  with a notice, and external mail wakes the session again;
- cancelling or deleting a parent cancels its running agents (which report nothing);
- bad input: SendMessage to a deleted session, an unknown parent, the depth and concurrency limits."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo
from rpc_helpers import Scripts, Served, prompts
from session_api_kit import Buf, needs_buf

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.mailbox import MailLimits
from tau.rpc.service import ServiceLimits
from tau.sessions.catalog import Catalog, catalog_path
from tau.testing import Turn, calls, reply

pytestmark = [pytest.mark.node, needs_buf]

PERMISSIONS = {"mode": "acceptEdits", "allow": ["Bash(*)"]}
BOUND = 60.0  # the longest a wait may take (a bound, not an assertion on time)


def _final(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    seen = sorted(set(re.findall(r"result-\d", "\n".join(prompts(messages)))))
    return reply("final: " + " ".join(seen))


def script(job: JobSpec) -> list[Any]:
    if job.prompt.startswith("research"):
        topic = job.prompt.split()[-1]
        wait = f"while [ ! -e go-{topic} ] && [ ! -e go ]; do sleep 0.05; done"
        return [calls(("bash", {"command": wait})), reply(f"result-{topic}")]
    if "new message" in job.prompt:
        return [_final]
    return [reply(f"pong: {job.prompt.splitlines()[0][:40]}")]


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


def session(served: Served, session_id: str) -> pb.Session:
    with served.client() as client:
        return client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session


def events(served: Served, session_id: str) -> list[dict[str, Any]]:
    with served.client() as client:
        stream = client.stream_events(pb.StreamEventsRequest(session_id=session_id), headers=served.headers)
        return [json.loads(item.event_json) for item in stream if item.event_json]


def idle_after(served: Served, session_id: str, runs: int) -> Callable[[], bool]:
    def check() -> bool:
        found = session(served, session_id)
        return found.runs >= runs and found.status != pb.SESSION_STATUS_RUNNING

    return check


def start(serve: Callable[..., Served], tmp_path: Path, **mail: Any) -> tuple[Served, Buf]:
    limits = ServiceLimits(mail=MailLimits(**{"debounce": 0.05, **mail}))
    served = serve(Scripts(script), state_dir=tmp_path / "state", limits=limits)
    return served, Buf(served)


def create(buf: Buf, session_id: str) -> None:
    buf("CreateSession", {"sessionId": session_id, "model": "test:scripted", "permissions": PERMISSIONS})


def test_three_background_agents_wake_their_parent_once(serve: Callable[..., Served], tmp_path: Path) -> None:
    served, buf = start(serve, tmp_path, debounce=3.0)
    create(buf, "parent")
    assert buf("Run", {"sessionId": "parent", "prompt": "plan the work"})["final"]["result"] == "pong: plan the work"
    children = []
    for topic in ("1", "2", "3"):
        started = buf("StartAgent", {"parentSessionId": "parent", "prompt": f"research {topic}", "agent": "research"})
        assert started["depth"] == 1
        children.append(started["sessionId"])
    assert all(child.startswith("parent.agent-") for child in children)
    wait_until(lambda: all(session(served, c).status == pb.SESSION_STATUS_RUNNING for c in children), "agents run")
    (served.workspace / "go").touch()  # the three finish together

    wait_until(lambda: len(buf("ListMail", {"sessionId": "parent"}).get("mail", [])) == 3, "three reports")
    wait_until(idle_after(served, "parent", 2), "the parent's continuation")
    mail = buf("ListMail", {"sessionId": "parent"})["mail"]
    assert sorted((m["sender"], m["kind"], m["body"]) for m in mail) == sorted(
        (child, "agent_completed", f"result-{n}") for child, n in zip(children, "123", strict=True)
    )
    assert all(m["deliverTime"] for m in mail)
    assert buf("ListMail", {"sessionId": "parent", "pendingOnly": True}).get("mail", []) == []
    parent = session(served, "parent")
    assert parent.runs == 2  # three completions within the debounce window: one wake-up
    assert parent.status == pb.SESSION_STATUS_COMPLETED
    logged = events(served, "parent")
    assert [e["child_session_id"] for e in logged if e["type"] == "agent.spawned"] == children
    assert sorted(e["child_session_id"] for e in logged if e["type"] == "agent.completed") == sorted(children)
    assert len([e for e in logged if e["type"] == "mail.received"]) == 3
    finals = [e for e in logged if e["type"] == "run.completed"]
    assert finals[-1]["result"] == "final: result-1 result-2 result-3"  # the answer uses all three results
    for child in children:
        assert session(served, child).status == pb.SESSION_STATUS_COMPLETED
        assert session(served, child).labels["tau.agent.parent"] == "parent"


def test_a_mailbox_loop_is_stopped_by_the_guard(serve: Callable[..., Served], tmp_path: Path) -> None:
    served, buf = start(serve, tmp_path, max_auto_wakeups=2)
    create(buf, "a")
    create(buf, "b")
    buf("SendMessage", {"sessionId": "a", "text": "ping", "sender": "gateway"})  # external: starts the loop
    wait_until(idle_after(served, "a", 1), "a answers the ping")
    # the gateway relays each answer to the other session, as the sender it came from (automatic mail)
    source, target, relayed = "a", "b", 0
    while relayed < 10:
        runs = session(served, target).runs
        answer = [e for e in events(served, source) if e["type"] == "run.completed"][-1]["result"]
        buf("SendMessage", {"sessionId": target, "text": answer, "sender": source})
        relayed += 1

        def moved(target: str = target, runs: int = runs) -> bool:
            held = any(e["type"] == "notice.emitted" for e in events(served, target))
            return held or idle_after(served, target, runs + 1)()

        wait_until(moved, f"{target} wakes or is held")
        if session(served, target).runs == runs:
            break
        source, target = target, source
    assert relayed == 5  # b, a, b, a woke (two automatic wake-ups each), then b was held
    notices = [e["message"] for e in events(served, "b") if e["type"] == "notice.emitted"]
    assert len(notices) == 1 and notices[0].startswith("mailbox loop guard: 2 wake-ups"), notices
    held = buf("ListMail", {"sessionId": "b", "pendingOnly": True})["mail"]
    assert [(m["sender"], m["kind"]) for m in held] == [("a", "message")]
    runs = session(served, "b").runs
    buf("SendMessage", {"sessionId": "b", "text": "a human says hi", "sender": "alice"})  # external mail
    wait_until(idle_after(served, "b", runs + 1), "b wakes on external mail")
    assert buf("ListMail", {"sessionId": "b", "pendingOnly": True}).get("mail", []) == []


def test_cancel_or_delete_of_a_parent_cancels_its_agents(serve: Callable[..., Served], tmp_path: Path) -> None:
    served, buf = start(serve, tmp_path)
    for parent in ("p1", "p2"):
        create(buf, parent)
        buf("Run", {"sessionId": parent, "prompt": "hello"})
    child1 = buf("StartAgent", {"parentSessionId": "p1", "prompt": "research x"})["sessionId"]
    child2 = buf("StartAgent", {"parentSessionId": "p2", "prompt": "research y"})["sessionId"]

    def status_is(child: str, status: pb.SessionStatus) -> Callable[[], bool]:
        return lambda: session(served, child).status == status

    for child in (child1, child2):
        wait_until(status_is(child, pb.SESSION_STATUS_RUNNING), "agent runs")
    buf("CancelRun", {"sessionId": "p1", "reason": "stop"})
    buf("DeleteSession", {"sessionId": "p2"})
    for child in (child1, child2):
        wait_until(status_is(child, pb.SESSION_STATUS_CANCELLED), "cancelled")
    assert buf("ListMail", {"sessionId": "p1"}).get("mail", []) == []  # a cancelled agent reports nothing
    assert session(served, "p1").runs == 1  # and wakes nobody


def test_bad_input(serve: Callable[..., Served], tmp_path: Path) -> None:
    served, buf = start(serve, tmp_path, max_depth=1, max_agents_per_session=1)
    create(buf, "p")
    create(buf, "gone")
    buf("DeleteSession", {"sessionId": "gone"})
    assert buf.fails("SendMessage", {"sessionId": "gone", "text": "hi"}).code == "not_found"
    assert buf.fails("SendMessage", {"sessionId": "p", "text": "  "}).code == "invalid_argument"
    assert buf.fails("SendMessage", {"text": "hi"}).code == "invalid_argument"
    assert buf.fails("SendMessage", {"conversationId": "nope", "text": "hi"}).code == "not_found"
    assert buf.fails("ListMail", {"sessionId": "gone"}).code == "not_found"
    assert buf.fails("StartAgent", {"parentSessionId": "nobody", "prompt": "research z"}).code == "not_found"
    assert buf.fails("StartAgent", {"parentSessionId": "p", "prompt": ""}).code == "invalid_argument"
    child = buf("StartAgent", {"parentSessionId": "p", "prompt": "research 1"})["sessionId"]
    too_many = buf.fails("StartAgent", {"parentSessionId": "p", "prompt": "research 2"})
    assert (too_many.code, "limit per session" in too_many.message) == ("resource_exhausted", True)
    too_deep = buf.fails("StartAgent", {"parentSessionId": child, "prompt": "research 3"})
    assert (too_deep.code, "max depth 1" in too_deep.message) == ("failed_precondition", True)
    (served.workspace / "go").touch()
    wait_until(lambda: bool(buf("ListMail", {"sessionId": "p"}).get("mail")), "the agent's report")
    assert buf("ListMail", {"sessionId": "p"})["mail"][0]["kind"] == "agent_completed"


def test_mail_during_a_run_is_delivered_at_the_next_step(serve: Callable[..., Served], tmp_path: Path) -> None:
    scripts = Scripts(script)
    served = serve(scripts, state_dir=tmp_path / "state", limits=ServiceLimits(mail=MailLimits(debounce=0.05)))
    buf = Buf(served)
    create(buf, "busy")
    with served.client() as client:
        stream = client.run(pb.RunRequest(session_id="busy", prompt="research q"), headers=served.headers)
        next(iter(stream))  # the run started
        wait_until(lambda: session(served, "busy").status == pb.SESSION_STATUS_RUNNING, "the run")
        buf("SendMessage", {"sessionId": "busy", "text": "also check the tests", "sender": "alice"})
        wait_until(lambda: bool(buf("ListMail", {"sessionId": "busy"})["mail"][0].get("deliverTime")), "delivery")
        (served.workspace / "go").touch()
        list(stream)
    assert session(served, "busy").runs == 1  # delivered into the run, not by a wake-up
    last_request = scripts.played[-1].requests[-1]
    assert any("also check the tests" in text for text in prompts(last_request))


def test_mail_another_process_wrote_is_found(serve: Callable[..., Served], tmp_path: Path) -> None:
    served, buf = start(serve, tmp_path, poll=0.1)
    create(buf, "s")
    buf("Run", {"sessionId": "s", "prompt": "hello"})
    other = Catalog(catalog_path(tmp_path / "state"))  # as `tau mail send` writes it
    other.post_mail("s", sender="cli", kind="message", body="from the command line")
    wait_until(idle_after(served, "s", 2), "the session woken by the catalog's mail")
    assert [bool(m.delivered) for m in other.mail("s")] == [True]


def _delegate(job: JobSpec) -> list[Any]:
    if job.prompt.startswith("delegate"):
        tasks = [
            ("task", {"description": f"topic {n}", "prompt": f"research {n}", "subagent_type": "researcher",
                      "background": True})
            for n in "123"
        ]  # fmt: skip
        return [calls(*tasks), reply("three agents are on it")]
    return script(job)


def test_the_task_tool_starts_background_agents(serve: Callable[..., Served], tmp_path: Path) -> None:
    """The acceptance scenario through the model's own tool: three `task(background=true)` calls return at once, the
    run ends, the agents' reports wake the parent once, and its answer uses all three results."""
    scripts = Scripts(_delegate)
    limits = ServiceLimits(mail=MailLimits(debounce=3.0))
    served = serve(scripts, state_dir=tmp_path / "state", limits=limits)
    agents = served.workspace / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "researcher.md").write_text("---\nname: researcher\ndescription: Researches one topic.\n---\nResearch.\n")
    buf = Buf(served)
    create(buf, "lead")
    first = buf("Run", {"sessionId": "lead", "prompt": "delegate the research"})["final"]
    assert first["result"] == "three agents are on it"
    results = [p.content for p in scripts.played[0].requests[1][-1].parts if hasattr(p, "tool_name")]
    assert len(results) == 3 and all("Background agent started: session lead.agent-" in str(r) for r in results)
    spawned = [e["child_session_id"] for e in events(served, "lead") if e["type"] == "agent.spawned"]
    assert len(spawned) == 3
    (served.workspace / "go").touch()
    wait_until(lambda: len(buf("ListMail", {"sessionId": "lead"}).get("mail", [])) == 3, "three reports")
    wait_until(idle_after(served, "lead", 2), "the lead's continuation")
    assert session(served, "lead").runs == 2
    finals = [e for e in events(served, "lead") if e["type"] == "run.completed"]
    assert finals[-1]["result"] == "final: result-1 result-2 result-3"
    assert {session(served, child).labels["tau.agent"] for child in spawned} == {"researcher"}
