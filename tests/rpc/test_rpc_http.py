"""RuntimeService over real HTTP on 127.0.0.1: the connectrpc client through the RPCs, curl with Connect JSON, auth on
every method, Connect error codes for bad requests, one run per session, cancel, drain, resume after a drop."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.protocol import ProtocolType
from rpc_helpers import TOKEN, Scripts, Served

from tau.errors import ConfigError
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.rpc.server import RuntimeServer, run_server
from tau.rpc.service import RuntimeServiceImpl, ServiceLimits
from tau.testing import calls, reply

SLEEPING = [calls(("bash", {"command": "sleep 30"})), reply("too late")]


def hello(job: Any) -> list[Any]:
    return [reply("hello world", chunk=4)]


def code_of(call: Callable[[], object]) -> Code:
    with pytest.raises(ConnectError) as caught:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    return caught.value.code


def kinds(events: list[pb.RunResponse]) -> list[str | None]:
    return [e.WhichOneof("event") for e in events]


class Background:
    """Consume a Run stream in a thread (a client waiting on a long run)."""

    def __init__(self, stream: Iterator[pb.RunResponse]) -> None:
        self.events: list[pb.RunResponse] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._consume, args=(stream,), daemon=True)
        self._thread.start()

    def _consume(self, stream: Iterator[pb.RunResponse]) -> None:
        try:
            for event in stream:
                self.events.append(event)
        except BaseException as error:
            self.error = error

    def wait_for(self, kind: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while kind not in kinds(self.events):
            assert time.monotonic() < deadline, f"no {kind} event; got {kinds(self.events)}"
            time.sleep(0.02)

    def join(self, timeout: float = 20) -> list[pb.RunResponse]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stream did not end"
        assert self.error is None, self.error
        return self.events


def test_session_lifecycle_over_connect(serve: Callable[..., Served]) -> None:
    scripts = Scripts(hello)
    served = serve(scripts)
    with served.client() as client:
        session_id = served.create(client, labels={"team": "infra"})
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="say hello"), headers=served.headers))

        assert kinds(events) == [
            "status", "started", "turn", "token", "token", "token", "message", "usage", "snapshot", "status", "final",
        ]  # fmt: skip
        assert [e.seq for e in events] == list(range(1, 12))
        assert {e.run for e in events} == {1}
        assert events[0].status.status == pb.SESSION_STATUS_RUNNING
        assert "".join(e.token.text for e in events if e.HasField("token")) == "hello world"
        assert events[1].started.session_id == session_id
        assert events[-2].status.status == pb.SESSION_STATUS_COMPLETED
        final = events[-1].final
        assert (final.status, final.terminal_reason, final.exit_code, final.result) == (
            "completed", "completed", 0, "hello world",
        )  # fmt: skip
        assert final.session_status == pb.SESSION_STATUS_COMPLETED
        tau_events = [json.loads(e.event_json) for e in events if e.event_json]
        assert [t["seq"] for t in tau_events] == list(range(9))
        assert tau_events[-1]["type"] == "run.completed"
        assert scripts.jobs[0].prompt == "say hello"
        assert scripts.jobs[0].session_id == session_id

        session = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session
        assert session.status == pb.SESSION_STATUS_COMPLETED
        assert (session.runs, session.last_seq, session.model) == (1, 11, "test:scripted")
        assert session.head_snapshot_id == events[8].snapshot.snapshot_id != ""
        assert session.usage.requests == 1 and session.usage.output_tokens > 0
        assert dict(session.labels) == {"team": "infra"}

        listed = client.list_sessions(pb.ListSessionsRequest(), headers=served.headers)
        assert [s.session_id for s in listed.sessions] == [session_id]
        assert listed.next_page_token == ""

        replay = list(
            client.stream_events(pb.StreamEventsRequest(session_id=session_id, after_seq=5), headers=served.headers)
        )
        assert [e.seq for e in replay] == list(range(6, 12))
        assert [e.SerializeToString() for e in replay] == [e.SerializeToString() for e in events[5:]]

        cancelled = client.cancel_run(pb.CancelRunRequest(session_id=session_id), headers=served.headers)
        assert (cancelled.cancelled, cancelled.status) == (False, pb.SESSION_STATUS_COMPLETED)


def test_second_run_while_running_is_failed_precondition_and_cancel_ends_it(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(lambda job: SLEEPING))
    with served.client() as client:
        session_id = served.create(client)
        first = Background(client.run(pb.RunRequest(session_id=session_id, prompt="sleep"), headers=served.headers))
        first.wait_for("tool_call")

        second = pb.RunRequest(session_id=session_id, prompt="again")
        with pytest.raises(ConnectError) as caught:
            list(client.run(second, headers=served.headers))
        assert caught.value.code == Code.FAILED_PRECONDITION
        assert "already running run 1" in caught.value.message
        running = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session
        assert running.status == pb.SESSION_STATUS_RUNNING

        response = client.cancel_run(
            pb.CancelRunRequest(session_id=session_id, reason="enough"), headers=served.headers
        )
        assert response.cancelled
        events = first.join()
        assert kinds(events)[-3:] == ["error", "status", "final"]
        assert events[-3].error.code == "interrupted"
        assert "enough" in events[-3].error.message
        assert (events[-1].final.terminal_reason, events[-1].final.exit_code) == ("interrupted", 130)
        assert events[-1].final.session_status == pb.SESSION_STATUS_CANCELLED
        after = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session
        assert (after.status, after.terminal_reason) == (pb.SESSION_STATUS_CANCELLED, "interrupted")


def test_a_dropped_client_resumes_with_after_seq_without_gaps_or_duplicates(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(lambda job: [reply("x" * 40, chunk=2)]))
    with served.client() as client:
        session_id = served.create(client)
        seen: list[pb.RunResponse] = []
        for event in client.run(pb.RunRequest(session_id=session_id, prompt="go"), headers=served.headers):
            seen.append(event)
            if len(seen) == 5:
                break  # the client drops mid-stream; the run goes on server-side
        request = pb.StreamEventsRequest(session_id=session_id, after_seq=seen[-1].seq)
        rest = list(client.stream_events(request, headers=served.headers))
        seqs = [e.seq for e in seen] + [e.seq for e in rest]
        assert seqs == list(range(1, len(seqs) + 1))
        assert rest[-1].HasField("final")
        tokens = [e.token.text for e in seen if e.HasField("token")] + [
            e.token.text for e in rest if e.HasField("token")
        ]
        assert "".join(tokens) == "x" * 40


def test_retrying_run_with_the_same_idempotency_key_replays_instead_of_rerunning(serve: Callable[..., Served]) -> None:
    scripts = Scripts(hello)
    served = serve(scripts)
    with served.client() as client:
        session_id = served.create(client)
        request = pb.RunRequest(session_id=session_id, prompt="once", idempotency_key="k-1")
        first = list(client.run(request, headers=served.headers))
        again = list(client.run(request, headers=served.headers))
        assert [e.SerializeToString() for e in again] == [e.SerializeToString() for e in first]
        assert len(scripts.played) == 1
        other = list(
            client.run(
                pb.RunRequest(session_id=session_id, prompt="twice", idempotency_key="k-2"), headers=served.headers
            )
        )
        assert other[0].seq == first[-1].seq + 1 and {e.run for e in other} == {2}
        assert len(scripts.played) == 2


def test_context_bootstrap_and_injected_between_runs(serve: Callable[..., Served]) -> None:
    scripts = Scripts(hello)
    served = serve(scripts)
    with served.client() as client:
        session_id = served.create(
            client, context=[pb.ContextEntry(key="repo", content="tau is a runtime", content_type="text/markdown")]
        )
        entry = pb.ContextEntry(key="note", content="the build is red")
        injected = client.inject_context(
            pb.InjectContextRequest(session_id=session_id, entries=[entry]), headers=served.headers
        )
        assert (injected.delivered, injected.queued) == (False, 1)
        list(client.run(pb.RunRequest(session_id=session_id, prompt="fix it"), headers=served.headers))
        job = scripts.jobs[0]
        assert '<context key="repo" content_type="text/markdown">\ntau is a runtime\n</context>' in (
            job.instructions or ""
        )
        assert job.prompt == '<context key="note" content_type="text/plain">\nthe build is red\n</context>\n\nfix it'
        list(client.run(pb.RunRequest(session_id=session_id, prompt="next"), headers=served.headers))
        assert scripts.jobs[1].prompt == "next"  # delivered once
        assert "tau is a runtime" in (scripts.jobs[1].instructions or "")


def test_list_sessions_pages_newest_first(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello))
    with served.client() as client:
        created = [served.create(client, session_id=f"s-{i}") for i in range(5)]
        pages: list[list[str]] = []
        token = ""
        while True:
            page = client.list_sessions(pb.ListSessionsRequest(page_size=2, page_token=token), headers=served.headers)
            pages.append([s.session_id for s in page.sessions])
            token = page.next_page_token
            if not token:
                break
        assert pages == [["s-4", "s-3"], ["s-2", "s-1"], ["s-0"]]
        assert sorted(s for page in pages for s in page) == sorted(created)
        bad = pb.ListSessionsRequest(page_token="not-a-token")
        assert code_of(lambda: client.list_sessions(bad, headers=served.headers)) == Code.INVALID_ARGUMENT
        huge = pb.ListSessionsRequest(page_size=5000)
        assert code_of(lambda: client.list_sessions(huge, headers=served.headers)) == Code.INVALID_ARGUMENT


def test_presets_and_job_text(serve: Callable[..., Served], tmp_path: Path) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "review.md").write_text("---\nlimits:\n  max_turns: 3\n---\nReview {{ target }}\n")
    scripts = Scripts(hello)
    served = serve(scripts, presets_dir=presets)
    with served.client() as client:
        preset = served.create(client, preset="review", job=pb.JobOptions(vars={"target": "the diff"}))
        list(client.run(pb.RunRequest(session_id=preset), headers=served.headers))
        assert (scripts.jobs[0].prompt, scripts.jobs[0].limits.max_turns) == ("Review the diff", 3)

        inline = served.create(client, job_text="---\ninstructions: be brief\n---\n", job=pb.JobOptions(max_turns=7))
        assert code_of(lambda: list(client.run(pb.RunRequest(session_id=inline), headers=served.headers))) == (
            Code.INVALID_ARGUMENT
        )
        list(client.run(pb.RunRequest(session_id=inline, prompt="hi"), headers=served.headers))
        assert (scripts.jobs[1].prompt, scripts.jobs[1].limits.max_turns) == ("hi", 7)
        assert "be brief" in (scripts.jobs[1].instructions or "")

        missing = pb.CreateSessionRequest(model="test:x", preset="nope")
        assert code_of(lambda: client.create_session(missing, headers=served.headers)) == Code.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"job_text": "---\nmax_turns: lots\n---\nhi"}, Code.INVALID_ARGUMENT, "job_text"),
        ({"job_text": "---\nmodle: x\n---\nhi"}, Code.INVALID_ARGUMENT, "modle"),
        ({"model": "nosuch:model"}, Code.INVALID_ARGUMENT, "nosuch"),
        ({"model": ""}, Code.INVALID_ARGUMENT, "no model configured"),
        ({"session_id": "bad id/../x"}, Code.INVALID_ARGUMENT, "invalid session_id"),
        ({"preset": "../etc/passwd"}, Code.INVALID_ARGUMENT, "preset"),
        (
            {"environment": pb.Environment(docker=pb.DockerEnvironment(workspace="rel"))},
            Code.INVALID_ARGUMENT,
            "absolute",
        ),
        (
            {"environment": pb.Environment(container=pb.ContainerEnvironment())},
            Code.INVALID_ARGUMENT,
            "container is empty",
        ),
        ({"environment": pb.Environment(host=pb.HostEnvironment(workspace="rel"))}, Code.INVALID_ARGUMENT, "absolute"),
        ({"context": [pb.ContextEntry(key="", content="x")]}, Code.INVALID_ARGUMENT, "empty key"),
        ({"permissions": pb.Permissions(mode="yolo")}, Code.INVALID_ARGUMENT, "mode"),
    ],
)
def test_invalid_create_session_requests(
    serve: Callable[..., Served], fields: dict[str, Any], code: Code, message: str
) -> None:
    served = serve(Scripts(hello))
    with served.client() as client:
        fields = {"model": "test:scripted", **fields}
        with pytest.raises(ConnectError) as caught:
            client.create_session(pb.CreateSessionRequest(**fields), headers=served.headers)
        assert caught.value.code == code
        assert message in caught.value.message
        assert "\n" not in caught.value.message
        # the server stays up
        assert client.list_sessions(pb.ListSessionsRequest(), headers=served.headers).sessions == []


def test_bad_run_requests_and_unknown_sessions(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello), limits=ServiceLimits(max_prompt_bytes=1000, max_context_bytes=1000))
    h = served.headers
    with served.client() as client:
        session_id = served.create(client, session_id="known")
        assert code_of(lambda: client.run(pb.RunRequest(session_id=session_id, prompt="p" * 1001), headers=h)) == (
            Code.RESOURCE_EXHAUSTED
        )
        big = pb.ContextEntry(key="k", content="c" * 1001)
        inject = pb.InjectContextRequest(session_id=session_id, entries=[big])
        assert code_of(lambda: client.inject_context(inject, headers=h)) == Code.RESOURCE_EXHAUSTED
        empty = pb.InjectContextRequest(session_id=session_id)
        assert code_of(lambda: client.inject_context(empty, headers=h)) == Code.INVALID_ARGUMENT
        assert code_of(
            lambda: client.create_session(pb.CreateSessionRequest(session_id="known", model="test:x"), headers=h)
        ) == (Code.ALREADY_EXISTS)
        respond = pb.RespondRequest(session_id=session_id, request_id="r1", approval=pb.Approval(approved=True))
        assert code_of(lambda: client.respond(respond, headers=h)) == Code.FAILED_PRECONDITION
        fork = pb.ForkSessionRequest(session_id=session_id)
        assert code_of(lambda: client.fork_session(fork, headers=h)) == Code.UNIMPLEMENTED

        unknown: list[Callable[[], object]] = [
            lambda: client.run(pb.RunRequest(session_id="nope", prompt="x"), headers=h),
            lambda: client.get_session(pb.GetSessionRequest(session_id="nope"), headers=h),
            lambda: client.inject_context(
                pb.InjectContextRequest(session_id="nope", entries=[pb.ContextEntry(key="k")]), headers=h
            ),
            lambda: client.cancel_run(pb.CancelRunRequest(session_id="nope"), headers=h),
            lambda: client.respond(
                pb.RespondRequest(session_id="nope", request_id="r", answer=pb.Answer(text="y")), headers=h
            ),
            lambda: client.fork_session(pb.ForkSessionRequest(session_id="nope"), headers=h),
            lambda: client.stream_events(pb.StreamEventsRequest(session_id="nope"), headers=h),
        ]
        assert [code_of(call) for call in unknown] == [Code.NOT_FOUND] * len(unknown)
        assert code_of(lambda: client.get_session(pb.GetSessionRequest(), headers=h)) == Code.INVALID_ARGUMENT


def _every_method(client: RuntimeServiceClientSync, headers: dict[str, str]) -> dict[str, Callable[[], object]]:
    return {
        "CreateSession": lambda: client.create_session(pb.CreateSessionRequest(model="test:x"), headers=headers),
        "Run": lambda: client.run(pb.RunRequest(session_id="s", prompt="x"), headers=headers),
        "InjectContext": lambda: client.inject_context(pb.InjectContextRequest(session_id="s"), headers=headers),
        "GetSession": lambda: client.get_session(pb.GetSessionRequest(session_id="s"), headers=headers),
        "ListSessions": lambda: client.list_sessions(pb.ListSessionsRequest(), headers=headers),
        "ForkSession": lambda: client.fork_session(pb.ForkSessionRequest(session_id="s"), headers=headers),
        "CancelRun": lambda: client.cancel_run(pb.CancelRunRequest(session_id="s"), headers=headers),
        "Respond": lambda: client.respond(pb.RespondRequest(session_id="s"), headers=headers),
        "StreamEvents": lambda: client.stream_events(pb.StreamEventsRequest(session_id="s"), headers=headers),
        "DeleteSession": lambda: client.delete_session(pb.DeleteSessionRequest(session_id="s"), headers=headers),
        "UpdateSession": lambda: client.update_session(pb.UpdateSessionRequest(session_id="s"), headers=headers),
        "CreatePreset": lambda: client.create_preset(pb.CreatePresetRequest(name="p"), headers=headers),
        "GetPreset": lambda: client.get_preset(pb.GetPresetRequest(name="p"), headers=headers),
        "ListPresets": lambda: client.list_presets(pb.ListPresetsRequest(), headers=headers),
        "UpdatePreset": lambda: client.update_preset(pb.UpdatePresetRequest(name="p"), headers=headers),
        "DeletePreset": lambda: client.delete_preset(pb.DeletePresetRequest(name="p"), headers=headers),
        "ListConversations": lambda: client.list_conversations(pb.ListConversationsRequest(), headers=headers),
        "GetConversation": lambda: client.get_conversation(
            pb.GetConversationRequest(conversation_id="c"), headers=headers
        ),
        "ListSkills": lambda: client.list_skills(pb.ListSkillsRequest(session_id="s"), headers=headers),
        "GetSkill": lambda: client.get_skill(pb.GetSkillRequest(session_id="s", name="x"), headers=headers),
        "SendMessage": lambda: client.send_message(pb.SendMessageRequest(session_id="s", text="x"), headers=headers),
        "ListMail": lambda: client.list_mail(pb.ListMailRequest(session_id="s"), headers=headers),
        "StartAgent": lambda: client.start_agent(
            pb.StartAgentRequest(parent_session_id="s", prompt="x"), headers=headers
        ),
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}, {"authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
@pytest.mark.parametrize("protocol", [ProtocolType.CONNECT, ProtocolType.GRPC_WEB], ids=["connect", "grpc-web"])
def test_every_method_refuses_a_missing_or_wrong_token(
    serve: Callable[..., Served], headers: dict[str, str], protocol: ProtocolType
) -> None:
    served = serve(Scripts(hello))
    with RuntimeServiceClientSync(served.url, protocol=protocol, timeout_ms=10_000) as client:
        methods = _every_method(client, headers)
        assert methods.keys() == {m.name for m in pb.DESCRIPTOR.services_by_name["RuntimeService"].methods}
        codes = {name: code_of(call) for name, call in methods.items()}
        assert codes == dict.fromkeys(methods, Code.UNAUTHENTICATED)
        assert served.service._registry.all() == []  # nothing reached the service


def test_without_a_token_on_loopback_no_header_is_needed(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello), token=None)
    with served.client() as client:
        assert client.list_sessions(pb.ListSessionsRequest()).sessions == []


def test_non_loopback_bind_without_a_token_is_refused(tmp_path: Path) -> None:
    service = RuntimeServiceImpl(env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="without a token"):
        RuntimeServer(service, host="0.0.0.0", port=0)
    with pytest.raises(ConfigError, match="without a token"):
        run_server(host="192.0.2.10", port=0, env={}, cwd=tmp_path)
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="token file is empty"):
        run_server(host="0.0.0.0", port=0, token_file=empty, env={}, cwd=tmp_path)
    RuntimeServer(service, host="0.0.0.0", port=0, token="t")  # with a token it is allowed


def test_grpc_web_and_connect_json_stream_the_same_events(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello))
    streams = []
    for client in (
        RuntimeServiceClientSync(served.url, protocol=ProtocolType.GRPC_WEB, timeout_ms=20_000),
        served.client(json=True),
    ):
        with client:
            session_id = served.create(client)
            events = list(client.run(pb.RunRequest(session_id=session_id, prompt="hi"), headers=served.headers))
            streams.append(kinds(events))
    assert streams[0] == streams[1]
    assert streams[0][-1] == "final"


def test_event_log_is_bounded_and_a_stale_after_seq_is_out_of_range(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello), limits=ServiceLimits(event_log_capacity=4))
    with served.client() as client:
        session_id = served.create(client)
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="hi"), headers=served.headers))
        assert events[-1].seq == 11  # the live stream is complete even though the log keeps only 4
        stale = pb.StreamEventsRequest(session_id=session_id, after_seq=2)
        with pytest.raises(ConnectError) as caught:
            list(client.stream_events(stale, headers=served.headers))
        assert caught.value.code == Code.OUT_OF_RANGE
        assert "after_seq=7" in caught.value.message
        tail = list(
            client.stream_events(pb.StreamEventsRequest(session_id=session_id, after_seq=7), headers=served.headers)
        )
        assert [e.seq for e in tail] == [8, 9, 10, 11]


def test_stopping_the_server_drains_running_runs_with_a_final_event(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(lambda job: SLEEPING))
    with served.client() as client:
        session_id = served.create(client)
        stream = Background(client.run(pb.RunRequest(session_id=session_id, prompt="sleep"), headers=served.headers))
        stream.wait_for("tool_call")
        served.server.stop()
        events = stream.join()
    assert (events[-1].final.terminal_reason, events[-1].final.exit_code) == ("terminated", 143)


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_connect_json_unary_calls(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello))

    def curl(method: str, body: str, *, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
        command = [CURL or "curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                   f"{served.url}/tau.runtime.v1.RuntimeService/{method}",
                   "-H", "Content-Type: application/json", "-d", body]  # fmt: skip
        if token:
            command += ["-H", f"Authorization: Bearer {token}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout
        text, _, status = out.rpartition("\n")
        return int(status), json.loads(text)

    status, created = curl(
        "CreateSession", '{"model": "test:scripted", "sessionId": "from-curl", "labels": {"via": "curl"}}'
    )
    assert (status, created["sessionId"], created["session"]["status"]) == (200, "from-curl", "SESSION_STATUS_ACTIVE")
    status, got = curl("GetSession", '{"sessionId": "from-curl"}')
    assert status == 200
    assert got["session"]["labels"] == {"via": "curl"} and got["session"]["model"] == "test:scripted"

    missing = "missing bearer token: send the header 'Authorization: Bearer <token>'"
    assert curl("GetSession", '{"sessionId": "from-curl"}', token=None) == (
        401,
        {"code": "unauthenticated", "message": missing},
    )
    assert curl("GetSession", '{"sessionId": "from-curl"}', token="nope")[0] == 401
    status, error = curl("GetSession", '{"sessionId": "missing"}')
    assert (status, error["code"]) == (404, "not_found")
    status, error = curl("GetSession", '{"sessionId": 5}')
    assert (status, error["code"]) == (400, "invalid_argument")
    status, error = curl("ListSessions", '{"pageSize": "many"}')
    assert (status, error["code"]) == (400, "invalid_argument")
    status, error = curl("GetSession", "{not json")
    assert (status, error["code"]) == (400, "invalid_argument")
    assert curl("ListSessions", "{}")[0] == 200  # still up


BUF = Path(__file__).resolve().parents[2] / "tests" / "partners" / "node_modules" / ".bin" / "buf"


@pytest.mark.node
@pytest.mark.skipif(not BUF.exists(), reason="buf (npm @bufbuild/buf) is not installed in tests/partners")
def test_buf_curl_streams_a_run(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello))
    with served.client() as client:
        session_id = served.create(client)
    root = Path(__file__).resolve().parents[2]
    command = [str(BUF), "curl", "--protocol", "connect", "--schema", str(root / "proto"),
               "-H", f"Authorization: Bearer {TOKEN}", "--data", json.dumps({"sessionId": session_id, "prompt": "hi"}),
               f"{served.url}/tau.runtime.v1.RuntimeService/Run"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    decoder = json.JSONDecoder()
    events, index = [], 0
    while index < len(out.rstrip()):
        event, index = decoder.raw_decode(out, index)
        events.append(event)
        while index < len(out) and out[index].isspace():
            index += 1
    assert [int(e["seq"]) for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["final"]["result"] == "hello world"
    assert "".join(e["token"]["text"] for e in events if "token" in e) == "hello world"
