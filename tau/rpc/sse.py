"""Server-Sent Events: a second transport for simple clients (`curl -N`, a browser `EventSource`), beside Connect.

    GET /v1/sessions/{id}/events?after_seq=N&follow=1

streams the same events as StreamEvents, one SSE message each:

    id: <seq>
    event: <kind>            token | tool_call | status | final | ... ("event" for a type without a typed message;
                             `run_error` for Error, since an EventSource fires its own `error` on every reconnect)
    data: <the StreamEventsResponse as proto JSON, one line>

Contract:
- resume: a `Last-Event-ID` header (what a browser's EventSource sends when it reconnects) wins over `after_seq`,
  so a reconnect continues after the last event the client saw, without a gap or a duplicate;
- `follow` (default 1) keeps following later runs until the client goes away; `follow=0` ends once no run is in
  progress (as StreamEvents' follow=false);
- the stream starts with `retry: 1000` (reconnect after 1 s) and sends a `: keep-alive` comment after
  `HEARTBEAT` seconds of silence, so proxies and clients do not time it out;
- auth is the service's: `Authorization: Bearer <token>`, or `?access_token=<token>` (RFC 6750 §2.3) for an
  EventSource, which cannot set headers. Without a server token, only a loopback Host is answered (as the viewer);
- errors before the stream are one line of JSON with an HTTP status: 401 (token), 403 (non-loopback Host without a
  token), 400 (a bad parameter), 404 (no such session), 405 (not GET), 410 (events dropped from the bounded log:
  OUT_OF_RANGE), 503 (draining). A deleted session or a draining server ends the stream.
The events come from `SessionApi.event_stream` (the session's `EventLog`): nothing here keeps state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qs

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf import json_format

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.auth import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authorize = Callable[[str | None], None]

__all__ = ["HEARTBEAT", "SSE_PATH", "EventSource", "with_sse"]

SSE_PATH = re.compile(r"/v1/sessions/([^/]{1,128})/events")
HEARTBEAT = 15.0
_STATUS = {
    Code.INVALID_ARGUMENT: 400,
    Code.UNAUTHENTICATED: 401,
    Code.NOT_FOUND: 404,
    Code.OUT_OF_RANGE: 410,
    Code.UNAVAILABLE: 503,
}
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
    (b"x-content-type-options", b"nosniff"),
]


class EventSource(Protocol):
    """What the route needs of the service."""

    def event_stream(self, session_id: str, after_seq: int, *, follow: bool) -> AsyncIterator[pb.StreamEventsResponse]:
        """The session's events after `after_seq`; ConnectError NOT_FOUND / OUT_OF_RANGE / UNAVAILABLE is raised by
        this call, before any event."""
        ...


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def with_sse(app: ASGIApp, source: EventSource, *, authorize: Authorize | None) -> ASGIApp:
    """`app` with the SSE route in front of it."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        match = SSE_PATH.fullmatch(str(scope.get("path", ""))) if scope.get("type") == "http" else None
        if match is None:
            await app(scope, receive, send)
            return
        await _serve(scope, receive, send, source, match.group(1), authorize)

    return dispatch


def _params(scope: Scope) -> dict[str, str]:
    raw = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def _headers(scope: Scope) -> dict[bytes, str]:
    return {bytes(k).lower(): bytes(v).decode("latin-1") for k, v in scope.get("headers", ())}


def _check_access(headers: dict[bytes, str], params: dict[str, str], authorize: Authorize | None) -> None:
    if authorize is None:
        host = headers.get(b"host", "").strip()
        name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] or host
        if not is_loopback(name):
            raise _Refused(403, "without a token, events are served only on a loopback name (127.0.0.1, localhost)")
        return
    header = headers.get(b"authorization")
    if header is None and params.get("access_token"):
        header = f"Bearer {params['access_token']}"
    try:
        authorize(header)
    except ConnectError as error:
        raise _Refused(401, error.message) from None


def _after_seq(headers: dict[bytes, str], params: dict[str, str]) -> int:
    last = headers.get(b"last-event-id", "").strip()
    text = last or params.get("after_seq", "0").strip() or "0"
    if not text.isdigit() or len(text) > 19:
        name = "Last-Event-ID" if last else "after_seq"
        raise _Refused(400, f"{name} must be a non-negative integer (an event's seq)")
    return int(text)


def _follow(params: dict[str, str]) -> bool:
    value = params.get("follow", "1").strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise _Refused(400, "follow must be 0 or 1")
    return value in ("1", "true")


def frame(item: pb.StreamEventsResponse) -> bytes:
    """One SSE message: id, event (the kind), data (proto JSON on one line)."""
    kind = item.WhichOneof("event") or "event"
    kind = _RENAMED.get(kind, kind)
    data = json.dumps(json_format.MessageToDict(item), ensure_ascii=False, separators=(",", ":"))
    return f"id: {item.seq}\nevent: {kind}\ndata: {data}\n\n".encode()


async def _serve(
    scope: Scope, receive: Receive, send: Send, source: EventSource, session_id: str, authorize: Authorize | None
) -> None:
    if str(scope.get("method", "GET")) != "GET":
        await _refuse(send, _Refused(405, "method not allowed: use GET"))
        return
    try:
        headers, params = _headers(scope), _params(scope)
        _check_access(headers, params, authorize)
        stream = source.event_stream(session_id, _after_seq(headers, params), follow=_follow(params))
    except _Refused as refused:
        await _refuse(send, refused)
        return
    except ConnectError as error:
        await _refuse(send, _Refused(_STATUS.get(error.code, 500), error.message))
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
    await _pump(stream, asyncio.ensure_future(anext(stream, _END)), receive, send)


_END = object()
_RENAMED = {"error": "run_error"}  # EventSource fires its own `error` on every dropped connection


async def _pump(
    stream: AsyncIterator[pb.StreamEventsResponse], pending: asyncio.Task[Any], receive: Receive, send: Send
) -> None:
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while True:
            done, _ = await asyncio.wait({pending, gone}, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED)
            if gone in done:
                return
            if not done:
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                continue
            if pending.exception() is not None:
                return  # the log ended badly (a deleted session): the client reconnects and is told why
            item = pending.result()
            if item is _END:
                return
            await send({"type": "http.response.body", "body": frame(item), "more_body": True})
            pending = asyncio.ensure_future(anext(stream, _END))
    finally:
        for task in (pending, gone):
            task.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


async def _refuse(send: Send, refused: _Refused) -> None:
    body = json.dumps({"error": str(refused)}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *_HEADERS[1:]]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
