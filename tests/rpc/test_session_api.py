"""The session API of issue #17 end to end through a third-party client (`buf curl`, Connect JSON, the proto file on
the client side): presets (stored and directory, versions, stale edits), conversations (head, DAG, Run by
conversation), DeleteSession (running, forced, forks live on), UpdateSession, ListSessions filters and labels,
skills, typed MCP servers with their status — every new RPC with its bad input and Connect codes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rpc_helpers import Scripts, Served
from session_api_kit import Buf, needs_buf

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.sessions import FileSessionStore
from tau.sessions.catalog import Catalog, catalog_path
from tau.testing import calls, reply

pytestmark = [pytest.mark.node, needs_buf]

PERMISSIONS = {"mode": "acceptEdits", "allow": ["Bash(*)"]}


def answer(job: JobSpec) -> list[Any]:
    if "wait" in job.prompt:
        return [calls(("bash", {"command": "while [ ! -e go ]; do sleep 0.05; done"})), reply("released")]
    return [reply(f"answer to {job.prompt}")]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_presets_stored_and_from_the_directory(serve: Callable[..., Served], tmp_path: Path, state: Path) -> None:
    presets_dir = tmp_path / "presets"
    presets_dir.mkdir()
    (presets_dir / "filed.md").write_text("---\nlimits:\n  max_turns: 9\n---\nReview {{ target }}\n")
    scripts = Scripts(answer)
    buf = Buf(serve(scripts, presets_dir=presets_dir, state_dir=state))

    spec = {"description": "triage", "model": "test:scripted", "job": {"maxTurns": 3, "instructions": "be terse"},
            "permissions": {"allow": ["Read"]}}  # fmt: skip
    created = buf("CreatePreset", {"name": "triage", "spec": spec})["preset"]
    assert (created["name"], created["version"], created["source"]) == ("triage", 1, "store")
    assert created["createTime"] == created["updateTime"]
    assert buf.fails("CreatePreset", {"name": "triage", "spec": spec}).code == "already_exists"
    assert buf.fails("CreatePreset", {"name": "filed", "spec": spec}).code == "already_exists"
    assert buf.fails("CreatePreset", {"name": "../x", "spec": spec}).code == "invalid_argument"
    assert buf.fails("CreatePreset", {"spec": spec}).code == "invalid_argument"

    edited = {**spec, "job": {"maxTurns": 4}}
    second = buf("UpdatePreset", {"name": "triage", "spec": edited, "expectedVersion": 1})["preset"]
    assert (second["version"], second["createTime"]) == (2, created["createTime"])
    stale = buf.fails("UpdatePreset", {"name": "triage", "spec": spec, "expectedVersion": 1})
    assert (stale.code, "version 2, not 1" in stale.message) == ("aborted", True)
    assert buf.fails("UpdatePreset", {"name": "nope", "spec": spec}).code == "not_found"
    assert buf.fails("UpdatePreset", {"name": "filed", "spec": spec}).code == "failed_precondition"

    assert buf("GetPreset", {"name": "triage", "version": 1})["preset"]["spec"]["job"]["maxTurns"] == 3
    assert buf("GetPreset", {"name": "triage"})["preset"]["version"] == 2
    assert buf.fails("GetPreset", {"name": "triage", "version": 7}).code == "not_found"
    assert buf.fails("GetPreset", {"name": "nope"}).code == "not_found"
    filed = buf("GetPreset", {"name": "filed"})["preset"]
    assert (filed["source"], filed.get("version", 0)) == ("directory", 0)
    listed = buf("ListPresets")["presets"]
    assert [(p["name"], p.get("version", 0), p["source"]) for p in listed] == [
        ("filed", 0, "directory"),
        ("triage", 2, "store"),
    ]

    # sessions keep the version they were created with; the request's own fields override the preset's
    old = buf("CreateSession", {"preset": "triage", "presetVersion": 1, "permissions": {"allow": ["Glob"]}})
    latest = buf("CreateSession", {"preset": "triage", "job": {"maxTurns": 6}})
    filed_session = buf(
        "CreateSession", {"preset": "filed", "model": "test:scripted", "job": {"vars": {"target": "x"}}}
    )
    assert (old["session"]["preset"], old["session"]["presetVersion"]) == ("triage", 1)
    assert latest["session"]["presetVersion"] == 2
    buf("UpdatePreset", {"name": "triage", "spec": {**spec, "job": {"maxTurns": 5}}})  # version 3: no one sees it
    for session in (old, latest, filed_session):
        buf("Run", {"sessionId": session["sessionId"], "prompt": "" if session is filed_session else "go"})
    limits = [job.limits.max_turns for job in scripts.jobs]
    assert limits == [3, 6, 9]
    assert scripts.jobs[0].permissions.allow == ("Read", "Glob")
    assert "be terse" in (scripts.jobs[0].instructions or "")
    assert scripts.jobs[2].prompt == "Review x"

    assert buf.fails("CreateSession", {"preset": "nope"}).code == "not_found"
    assert buf.fails("CreateSession", {"preset": "triage", "presetVersion": 9}).code == "not_found"
    assert buf.fails("CreateSession", {"model": "test:scripted", "presetVersion": 1}).code == "invalid_argument"
    assert buf("ListSessions", {"preset": "triage"})["sessions"][0]["sessionId"] == latest["sessionId"]

    assert buf("DeletePreset", {"name": "triage"}) == {"versions": 3}
    assert buf.fails("DeletePreset", {"name": "triage"}).code == "not_found"
    assert buf.fails("DeletePreset", {"name": "filed"}).code == "failed_precondition"
    assert buf.fails("GetPreset", {"name": "triage"}).code == "not_found"
    buf("Run", {"sessionId": old["sessionId"], "prompt": "again"})  # its resolved job stays
    assert scripts.jobs[-1].limits.max_turns == 3


def test_presets_survive_a_restart_in_the_stores_database(serve: Callable[..., Served], state: Path) -> None:
    served = serve(Scripts(answer), state_dir=state)
    buf = Buf(served)
    buf("CreatePreset", {"name": "kept", "spec": {"model": "test:scripted"}})
    buf("UpdatePreset", {"name": "kept", "spec": {"model": "test:scripted", "description": "v2"}})
    served.stop()
    again = Buf(serve(Scripts(answer), state_dir=state))
    assert again("GetPreset", {"name": "kept"})["preset"]["spec"]["description"] == "v2"
    assert catalog_path(state).is_file()
    assert [row.version for row in [Catalog(catalog_path(state)).preset("kept", 1)] if row] == [1]


def test_conversations_group_sessions_and_run_their_head(serve: Callable[..., Served], state: Path) -> None:
    scripts = Scripts(answer)
    served = serve(scripts, state_dir=state)
    buf = Buf(served)
    first = buf("CreateSession", {"model": "test:scripted", "conversationId": "chat:42", "sessionId": "c1"})
    assert first["session"]["conversationId"] == "chat:42"
    buf("CreateSession", {"model": "test:scripted", "sessionId": "alone"})
    final = buf("Run", {"conversationId": "chat:42", "prompt": "hello"})
    assert final["final"]["result"] == "answer to hello"
    fork = buf("ForkSession", {"sessionId": "c1", "newSessionId": "c2"})
    assert fork["session"]["conversationId"] == "chat:42"

    got = buf("GetConversation", {"conversationId": "chat:42"})
    assert (got["conversation"]["headSessionId"], got["conversation"]["sessions"]) == ("c2", 2)
    assert [(n["sessionId"], n.get("parentSessionId", "")) for n in got["nodes"]] == [("c1", ""), ("c2", "c1")]
    buf("Run", {"conversationId": "chat:42", "prompt": "continue"})
    assert buf("GetSession", {"sessionId": "c2"})["session"]["runs"] == 1  # the head ran, not c1 again
    assert buf("GetSession", {"sessionId": "c1"})["session"]["runs"] == 1
    buf("Run", {"sessionId": "c1", "prompt": "back to the first"})
    assert buf("GetConversation", {"conversationId": "chat:42"})["conversation"]["headSessionId"] == "c1"

    listed = buf("ListConversations")["conversations"]
    assert [(c["conversationId"], c["sessions"]) for c in listed] == [("chat:42", 2)]
    ids = [s["sessionId"] for s in buf("ListSessions", {"conversationId": "chat:42"})["sessions"]]
    assert ids == ["c2", "c1"]

    assert buf.fails("GetConversation", {"conversationId": "chat:9"}).code == "not_found"
    assert buf.fails("GetConversation", {}).code == "invalid_argument"
    assert buf.fails("Run", {"conversationId": "chat:9", "prompt": "x"}).code == "not_found"
    served.stop()  # a restarted server brings the conversation back with its sessions
    buf = Buf(serve(Scripts(answer), state_dir=state))
    assert buf("GetConversation", {"conversationId": "chat:42"})["conversation"]["headSessionId"] == "c1"
    bad = {"model": "test:scripted", "conversationId": "bad id/.."}
    assert buf.fails("CreateSession", bad).code == "invalid_argument"
    buf("DeleteSession", {"sessionId": "c1"})
    buf("DeleteSession", {"sessionId": "c2"})
    assert buf("ListConversations") == {}


def _start_waiting_run(served: Served, session_id: str) -> threading.Thread:
    def consume() -> None:
        with served.client() as client:
            list(client.run(pb.RunRequest(session_id=session_id, prompt="wait"), headers=served.headers))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread


def _wait_running(buf: Buf, session_id: str) -> None:
    for _ in range(500):
        if buf("GetSession", {"sessionId": session_id})["session"]["status"] == "SESSION_STATUS_RUNNING":
            return
    raise AssertionError("the run never started")


def test_delete_session(serve: Callable[..., Served], state: Path) -> None:
    served = serve(Scripts(answer), state_dir=state)
    buf = Buf(served)
    buf("CreateSession", {"model": "test:scripted", "sessionId": "d1", "permissions": PERMISSIONS,
                          "labels": {"team": "a"}})  # fmt: skip
    buf("Run", {"sessionId": "d1", "prompt": "first"})
    buf("ForkSession", {"sessionId": "d1", "newSessionId": "d1-fork"})
    running = _start_waiting_run(served, "d1")
    _wait_running(buf, "d1")
    refused = buf.fails("DeleteSession", {"sessionId": "d1"})
    assert (refused.code, "CancelRun it first" in refused.message) == ("failed_precondition", True)

    deleted = buf("DeleteSession", {"sessionId": "d1", "force": True})
    running.join(60)
    assert not running.is_alive()
    store = FileSessionStore(state)
    assert deleted["headSnapshotId"] and store.refs.read("d1") is None
    assert not (state / "serve" / "d1").exists()
    assert Catalog(catalog_path(state)).labels("d1") == {}
    assert buf.fails("GetSession", {"sessionId": "d1"}).code == "not_found"
    assert buf.fails("DeleteSession", {"sessionId": "d1"}).code == "not_found"
    assert buf.fails("DeleteSession", {}).code == "invalid_argument"

    # the fork lives on: it shares the deleted session's snapshots
    fork = buf("Run", {"sessionId": "d1-fork", "prompt": "still here"})
    assert fork["final"]["result"] == "answer to still here"
    assert buf("GetSession", {"sessionId": "d1-fork"})["session"]["parentSessionId"] == "d1"


def test_update_session_changes_the_next_run(serve: Callable[..., Served], state: Path) -> None:
    scripts = Scripts(answer)
    served = serve(scripts, state_dir=state)
    buf = Buf(served)
    buf("CreateSession", {"model": "test:scripted", "sessionId": "u1", "permissions": PERMISSIONS,
                          "labels": {"team": "a", "tier": "1"}})  # fmt: skip
    buf("Run", {"sessionId": "u1", "prompt": "before"})
    updated = buf("UpdateSession", {
        "sessionId": "u1", "model": "test:other", "job": {"maxTurns": 2, "tools": ["read", "bash"]},
        "permissions": {"deny": ["Bash(rm *)"]}, "labels": {"tier": "", "stage": "prod"},
    })["session"]  # fmt: skip
    assert (updated["model"], updated["labels"]) == ("test:other", {"team": "a", "stage": "prod"})
    buf("Run", {"sessionId": "u1", "prompt": "after"})
    before, after = scripts.jobs
    assert (before.model.ref, after.model.ref) == ("test:scripted", "test:other")
    assert (before.limits.max_turns, after.limits.max_turns) == (100, 2)
    assert after.tools == ("read", "bash")
    assert (after.permissions.allow, after.permissions.deny) == (("Bash(*)",), ("Bash(rm *)",))
    assert Catalog(catalog_path(state)).labels("u1") == {"stage": "prod", "team": "a"}
    elsewhere = served.workspace.parent / "elsewhere"
    elsewhere.mkdir()
    buf("UpdateSession", {"sessionId": "u1", "environment": {"host": {"workspace": str(elsewhere)}}})
    buf("Run", {"sessionId": "u1", "prompt": "moved"})
    assert (scripts.jobs[-1].environment.workspace, scripts.jobs[-1].model.ref) == (str(elsewhere), "test:other")
    relative = {"sessionId": "u1", "environment": {"host": {"workspace": "rel"}}}
    assert buf.fails("UpdateSession", relative).code == "invalid_argument"

    assert buf.fails("UpdateSession", {"sessionId": "u1", "model": "nosuch:model"}).code == "invalid_argument"
    assert buf.fails("UpdateSession", {"sessionId": "nope"}).code == "not_found"
    running = _start_waiting_run(served, "u1")
    _wait_running(buf, "u1")
    assert buf.fails("UpdateSession", {"sessionId": "u1", "model": "test:x"}).code == "failed_precondition"
    (elsewhere / "go").write_text("")  # the run's workspace since the update
    running.join(60)
    assert not running.is_alive()
    served.stop()
    again = Buf(serve(Scripts(answer), state_dir=state))  # the update is journaled
    assert again("GetSession", {"sessionId": "u1"})["session"]["model"] == "test:other"


def test_list_sessions_filters(serve: Callable[..., Served], state: Path) -> None:
    buf = Buf(serve(Scripts(answer), state_dir=state))
    buf("CreateSession", {"model": "test:scripted", "sessionId": "a", "labels": {"team": "x", "env": "prod"}})
    buf("CreateSession", {"model": "test:scripted", "sessionId": "b", "labels": {"team": "x"}})
    buf("CreateSession", {"model": "test:scripted", "sessionId": "c", "conversationId": "t"})
    buf("Run", {"sessionId": "b", "prompt": "hi"})

    def ids(**filters: Any) -> list[str]:
        return [s["sessionId"] for s in buf("ListSessions", filters).get("sessions", [])]

    assert ids() == ["c", "b", "a"]
    assert ids(labels={"team": "x"}) == ["b", "a"]
    assert ids(labels={"team": "x", "env": "prod"}) == ["a"]
    assert ids(status="SESSION_STATUS_COMPLETED") == ["b"]
    assert ids(status="SESSION_STATUS_ACTIVE", labels={"team": "x"}) == ["a"]
    assert ids(conversationId="t") == ["c"]
    assert ids(since="2999-01-01T00:00:00Z") == []
    assert ids(since="2000-01-01T00:00:00Z", pageSize=2) == ["c", "b"]
    assert buf.fails("ListSessions", {"since": "yesterday"}).code == "invalid_argument"


def test_skills_of_a_sessions_workspace(serve: Callable[..., Served], state: Path) -> None:
    served = serve(Scripts(answer), state_dir=state)
    skill = served.workspace / ".tau" / "skills" / "greet"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: greet\ndescription: Say hello nicely.\n---\nSay hello to $ARGUMENTS.\n")
    buf = Buf(served)
    buf("CreateSession", {"model": "test:scripted", "sessionId": "s"})
    listed = buf("ListSkills", {"sessionId": "s"})["skills"]
    assert [(s["name"], s["description"], s["scope"]) for s in listed] == [("greet", "Say hello nicely.", "project")]
    got = buf("GetSkill", {"sessionId": "s", "name": "greet"})
    assert got["body"].strip() == "Say hello to $ARGUMENTS."
    assert buf.fails("GetSkill", {"sessionId": "s", "name": "nope"}).code == "not_found"
    assert buf.fails("GetSkill", {"sessionId": "s"}).code == "invalid_argument"
    assert buf.fails("ListSkills", {"sessionId": "nope"}).code == "not_found"


def test_typed_mcp_servers_and_their_status(serve: Callable[..., Served], state: Path, tmp_path: Path) -> None:
    scripts = Scripts(answer)
    buf = Buf(serve(scripts, state_dir=state))
    missing = str(tmp_path / "no-such-server")
    job = {"mcpServers": [{"name": "gone", "command": missing, "args": ["--x"]}], "strictMcp": True}
    buf("CreateSession", {"model": "test:scripted", "sessionId": "m", "job": job})
    buf("Run", {"sessionId": "m", "prompt": "hi"})
    servers = buf("GetSession", {"sessionId": "m"})["session"]["mcpServers"]
    assert [(s["name"], s["status"]) for s in servers] == [("gone", "failed")]
    assert missing in servers[0]["error"] or "no-such-server" in servers[0]["error"]
    late = {"mcpServers": [{"name": "late", "url": "http://127.0.0.1:9/mcp"}]}
    buf("UpdateSession", {"sessionId": "m", "job": late})
    buf("Run", {"sessionId": "m", "prompt": "again"})
    servers = buf("GetSession", {"sessionId": "m"})["session"]["mcpServers"]
    assert sorted((s["name"], s["status"]) for s in servers) == [("gone", "failed"), ("late", "failed")]
    twice = {"mcpServers": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]}
    assert buf.fails("CreateSession", {"model": "test:scripted", "job": twice}).code == "invalid_argument"
    nameless = {"mcpServers": [{"command": "x"}]}
    assert buf.fails("CreateSession", {"model": "test:scripted", "job": nameless}).code == "invalid_argument"
