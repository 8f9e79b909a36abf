"""A background agent's question answered by its parent model (issue #17 item 3): the agent calls `ask_user` and
suspends; its `agent_question` mail wakes the parent, which answers with `task(reply_to=CHILD, prompt=ANSWER)`
(through Respond's own code); the agent continues with the answer and its completion mails the parent again, whose
final answer uses it. A reply to a session that is not its agent is refused in the tool's text, and so is a reply to
an agent waiting on a permission ask (a client's to give). A real `tau serve`
(uvicorn on 127.0.0.1), a scripted model, the generated client."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ToolReturnPart
from pydantic_ai.models.function import AgentInfo
from rpc_helpers import Scripts, Served, prompts

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.mailbox import MailLimits
from tau.rpc.service import ServiceLimits
from tau.testing import Turn, calls, reply

BOUND = 60.0
AGENT = "---\nname: researcher\ndescription: Researches one topic.\n---\nResearch.\n"


def _returns(messages: list[ModelMessage], tool: str) -> list[str]:
    return [
        str(part.content)
        for m in messages
        for part in m.parts
        if isinstance(part, ToolReturnPart) and part.tool_name == tool
    ]


def _child(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    answers = _returns(messages, "ask_user")
    if answers:
        return reply(f"colour: {answers[-1]}")
    return calls(("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]}))


def _answer(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    child = re.findall(r"Background agent (\S+) is waiting", "\n".join(prompts(messages)))[-1]
    wrong = {"description": "answer", "prompt": "red", "subagent_type": "researcher", "reply_to": "nobody"}
    right = {"description": "answer", "prompt": "blue", "subagent_type": "researcher", "reply_to": child}
    return calls(("task", wrong), ("task", right))


def _final(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    return reply("the agent says " + re.findall(r"colour: \w+", "\n".join(prompts(messages)))[-1])


def script(job: JobSpec) -> list[Any]:
    if job.prompt.startswith("delegate"):
        task = {"description": "pick", "prompt": "pick a colour", "subagent_type": "researcher", "background": True}
        return [calls(("task", task)), reply("delegated")]
    if job.prompt.startswith("pick"):
        return [_child]
    if "(agent_question)" in job.prompt:
        return [_answer, reply("answered")]
    if "(agent_completed)" in job.prompt:
        return [_final]
    return [reply("pong")]


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_the_parent_answers_its_agents_question(serve: Callable[..., Served], tmp_path: Path) -> None:
    scripts = Scripts(script)
    served = serve(scripts, state_dir=tmp_path / "state", limits=ServiceLimits(mail=MailLimits(debounce=0.05)))
    agents = served.workspace / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "researcher.md").write_text(AGENT)
    with served.client() as client:
        h = served.headers
        client.create_session(pb.CreateSessionRequest(session_id="lead", model="test:scripted"), headers=h)
        finals = [e for e in client.run(pb.RunRequest(session_id="lead", prompt="delegate it"), headers=h)
                  if e.HasField("final")]  # fmt: skip
        assert finals[-1].final.result == "delegated"

        def lead_answered() -> bool:
            mail = client.list_mail(pb.ListMailRequest(session_id="lead"), headers=h).mail
            lead = client.get_session(pb.GetSessionRequest(session_id="lead"), headers=h).session
            return len(mail) == 2 and all(m.deliver_time for m in mail) and lead.status != pb.SESSION_STATUS_RUNNING

        wait_until(lead_answered, "the question, the answer, the agent's completion and the lead's last run")
        mail = client.list_mail(pb.ListMailRequest(session_id="lead"), headers=h).mail
        stream = client.stream_events(pb.StreamEventsRequest(session_id="lead"), headers=h)
        logged = [json.loads(item.event_json) for item in stream if item.event_json]
        child_id = mail[0].sender
        child = client.get_session(pb.GetSessionRequest(session_id=child_id), headers=h).session
    assert [m.kind for m in mail] == ["agent_question", "agent_completed"]
    assert "question call_1_0: Which colour? (options: red, blue)" in mail[0].body
    assert f"task(reply_to={child_id!r}" in mail[0].body
    assert (mail[1].sender, mail[1].body) == (child_id, "colour: blue")
    assert (child.runs, child.status) == (2, pb.SESSION_STATUS_COMPLETED)
    answered = [r for s in scripts.played for q in s.requests for r in _returns(q, "task") if "nswer" in r]
    assert list(dict.fromkeys(answered)) == [  # later requests carry the history again
        "The answer was not delivered: 'nobody' is not a background agent of this session",
        f"Answered 1 question of background agent {child_id}; it continues, and its result will arrive as mail.",
    ]
    results = [e["result"] for e in logged if e["type"] == "run.completed"]
    assert results == ["delegated", "answered", "the agent says colour: blue"]


def _approval_script(job: JobSpec) -> list[Any]:
    if job.prompt.startswith("delegate"):
        task = {"description": "run", "prompt": "run echo", "subagent_type": "researcher", "background": True}
        return [calls(("task", task)), reply("delegated")]
    if job.prompt.startswith("run echo"):
        return [calls(("bash", {"command": "echo hi > out.txt"})), reply("ran")]
    if "(agent_question)" in job.prompt:
        return [_answer_all, reply("tried")]
    return [reply("pong")]


def _answer_all(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    child = re.findall(r"Background agent (\S+) is waiting", "\n".join(prompts(messages)))[-1]
    return calls(("task", {"description": "ok", "prompt": "yes", "subagent_type": "researcher", "reply_to": child}))


def test_an_agents_approval_is_not_the_parent_models_to_give(serve: Callable[..., Served], tmp_path: Path) -> None:
    scripts = Scripts(_approval_script)
    served = serve(scripts, state_dir=tmp_path / "state", limits=ServiceLimits(mail=MailLimits(debounce=0.05)))
    agents = served.workspace / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "researcher.md").write_text(AGENT)
    with served.client() as client:
        h = served.headers
        client.create_session(pb.CreateSessionRequest(session_id="lead", model="test:scripted"), headers=h)
        list(client.run(pb.RunRequest(session_id="lead", prompt="delegate it"), headers=h))

        def lead_tried() -> bool:
            lead = client.get_session(pb.GetSessionRequest(session_id="lead"), headers=h).session
            return lead.runs == 2 and lead.status != pb.SESSION_STATUS_RUNNING

        wait_until(lead_tried, "the lead woken by the agent's approval request")
        mail = client.list_mail(pb.ListMailRequest(session_id="lead"), headers=h).mail
        child = client.get_session(pb.GetSessionRequest(session_id=mail[0].sender), headers=h).session
    assert [m.kind for m in mail] == ["agent_question"]
    assert "may it call bash? (a client decides)" in mail[0].body
    tried = {r for s in scripts.played for q in s.requests for r in _returns(q, "task") if "not delivered" in r}
    assert len(tried) == 1 and "waits on approvals or a plan" in tried.pop()
    assert (child.status, child.runs) == (pb.SESSION_STATUS_AWAITING_APPROVAL, 1)  # still waiting on a client
    assert not (served.workspace / "out.txt").exists()
