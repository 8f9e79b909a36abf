"""Server-Sent Events at GET /v1/sessions/{id}/events, followed with `curl -N`: the same events as StreamEvents,
resumable by `Last-Event-ID` (over `after_seq`) without a gap or a duplicate, the same token (header or
`access_token`), and one-line errors with HTTP statuses before the stream."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rpc_helpers import TOKEN, Scripts, Served
from session_api_kit import CURL, needs_curl, sse, sse_messages

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.service import ServiceLimits
from tau.testing import reply

pytestmark = needs_curl


def hello(job: Any) -> list[Any]:
    return [reply(f"hello {job.prompt}", chunk=4)]


def _run(served: Served, session_id: str, prompt: str) -> list[pb.RunResponse]:
    with served.client() as client:
        return list(client.run(pb.RunRequest(session_id=session_id, prompt=prompt), headers=served.headers))


def _stream_events(served: Served, session_id: str, after: int = 0) -> list[pb.StreamEventsResponse]:
    with served.client() as client:
        request = pb.StreamEventsRequest(session_id=session_id, after_seq=after)
        return list(client.stream_events(request, headers=served.headers))


def test_curl_follows_the_same_events_as_stream_events(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve(Scripts(hello), state_dir=tmp_path / "state")
    with served.client() as client:
        session_id = served.create(client)
    _run(served, session_id, "one")
    _run(served, session_id, "two")
    url = f"{served.url}/v1/sessions/{session_id}/events?follow=0"
    status, body = sse(url)
    assert status == 200
    assert body.startswith("retry: 1000\n\n")
    messages = sse_messages(body)
    expected = _stream_events(served, session_id)
    assert [int(m["id"]) for m in messages] == [e.seq for e in expected] == list(range(1, len(expected) + 1))
    assert [m["event"] for m in messages] == [e.WhichOneof("event") for e in expected]
    decoded = [json.loads(m["data"]) for m in messages]
    assert decoded[-1]["final"]["result"] == "hello two"
    assert decoded[0]["status"]["status"] == "SESSION_STATUS_RUNNING"
    assert all("\n" not in m["data"] for m in messages)

    # resume: Last-Event-ID wins over after_seq (what a reconnecting EventSource sends)
    middle = len(expected) // 2
    _, resumed = sse(url + "&after_seq=1", "-H", f"Last-Event-ID: {middle}")
    assert [int(m["id"]) for m in sse_messages(resumed)] == list(range(middle + 1, len(expected) + 1))
    _, after = sse(url + f"&after_seq={len(expected) - 1}")
    assert [int(m["id"]) for m in sse_messages(after)] == [len(expected)]

    # the token as a query parameter (an EventSource cannot send headers)
    status, body = sse(url + f"&access_token={TOKEN}", token=None)
    assert (status, len(sse_messages(body))) == (200, len(expected))


def test_a_live_run_streams_to_curl_as_it_happens(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve(Scripts(hello), state_dir=tmp_path / "state")
    with served.client() as client:
        session_id = served.create(client)
    url = f"{served.url}/v1/sessions/{session_id}/events"
    command = [CURL or "curl", "-sS", "-N", "-H", f"Authorization: Bearer {TOKEN}", url]
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "retry: 1000\n"  # connected before the run starts
        done = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert follower.stdout is not None
            for line in follower.stdout:
                lines.append(line)
                if line.startswith("event: final"):
                    done.set()
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        _run(served, session_id, "live")
        assert done.wait(60), lines
        ids = [int(line.split(":", 1)[1]) for line in lines if line.startswith("id:")]
        assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 5
    finally:
        _end(follower)


@pytest.mark.parametrize(
    ("path", "args", "token", "status", "message"),
    [
        ("/v1/sessions/nope/events", [], TOKEN, 404, "no session 'nope'"),
        ("/v1/sessions/S/events", [], None, 401, "missing bearer token"),
        ("/v1/sessions/S/events?access_token=wrong", [], None, 401, "invalid bearer token"),
        ("/v1/sessions/S/events", [], "wrong", 401, "invalid bearer token"),
        ("/v1/sessions/S/events?after_seq=-1", [], TOKEN, 400, "after_seq"),
        ("/v1/sessions/S/events", ["-H", "Last-Event-ID: x"], TOKEN, 400, "Last-Event-ID"),
        ("/v1/sessions/S/events?follow=maybe", [], TOKEN, 400, "follow"),
        ("/v1/sessions/S/events", ["-X", "POST"], TOKEN, 405, "GET"),
        ("/v1/sessions/S/events?after_seq=1", [], TOKEN, 410, "dropped"),
    ],
)
def test_refusals_are_one_line_with_an_http_status(
    serve: Callable[..., Served], path: str, args: list[str], token: str | None, status: int, message: str
) -> None:
    served = serve(Scripts(hello), limits=ServiceLimits(event_log_capacity=4))
    with served.client() as client:
        session_id = served.create(client, session_id="S")
    _run(served, session_id, "fill the log past its capacity")
    got, body = sse(served.url + path, *args, token=token)
    assert got == status
    assert message in json.loads(body)["error"] and "\n" not in body


def _end(follower: subprocess.Popen[str]) -> None:
    """Stop a curl follower: SIGTERM, then SIGKILL if it has not gone (a loaded machine once kept it 10 s)."""
    follower.terminate()
    try:
        follower.wait(10)
    except subprocess.TimeoutExpired:
        follower.kill()
        follower.wait(10)


def _follow(served: Served, session_id: str) -> subprocess.Popen[str]:
    url = f"{served.url}/v1/sessions/{session_id}/events"
    command = [CURL or "curl", "-sS", "-N", "-H", f"Authorization: Bearer {TOKEN}", url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def test_a_quiet_stream_sends_keep_alive_comments(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tau.rpc.sse.HEARTBEAT", 0.05)  # the server runs in this process
    served = serve(Scripts(hello))
    with served.client() as client:
        session_id = served.create(client)
    follower = _follow(served, session_id)
    try:
        assert follower.stdout is not None
        assert [follower.stdout.readline() for _ in range(4)] == ["retry: 1000\n", "\n", ": keep-alive\n", "\n"]
    finally:
        _end(follower)


def test_deleting_the_session_ends_its_followers(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve(Scripts(hello), state_dir=tmp_path / "state")
    with served.client() as client:
        session_id = served.create(client)
        _run(served, session_id, "one")
        follower = _follow(served, session_id)
        assert follower.stdout is not None
        assert follower.stdout.readline() == "retry: 1000\n"
        client.delete_session(pb.DeleteSessionRequest(session_id=session_id), headers=served.headers)
        out, _ = follower.communicate(timeout=60)  # the server ended the stream: curl exits by itself
    assert follower.returncode == 0
    assert [int(m["id"]) for m in sse_messages(out)] == list(range(1, 12))


def test_without_a_server_token_only_a_loopback_host_is_served(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(hello), token=None)
    with served.client() as client:
        session_id = served.create(client)
    _run(served, session_id, "one")
    url = f"{served.url}/v1/sessions/{session_id}/events?follow=0"
    status, body = sse(url, token=None)
    assert (status, len(sse_messages(body))) == (200, 11)
    status, body = sse(url, "-H", "Host: tau.example.com", token=None)  # a rebound DNS name reads nothing
    assert status == 403 and "loopback" in json.loads(body)["error"]
