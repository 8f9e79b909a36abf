"""A run's side of the warm server's provider connection pool (issue #19 item 3): an httpx2 transport that sends each
request to the pool process over a Unix socket instead of opening its own connection to the provider.

The pool process (`tau.cli.provider_pool`) keeps one keep-alive connection pool per provider origin, so warm runs
skip TCP and TLS set-up. Contract:
- `configure(path, secret)` is called in `tau serve --local`'s parent before it forks any run; forked runs inherit
  the socket path and the per-server secret in memory (never in the environment or a file: a run's tool processes
  are exec'd and cannot read it). `disable()` forgets both (a run whose environment must bypass the pool).
- Loopback origins (127.0.0.0/8, ::1, localhost: a local model server) go direct unless the server was started with
  `TAU_PROVIDER_POOL=all`: there is no distant connection set-up to save there, only the pool's extra hop.
- `http_client()` is the client a provider gets when none is given: None when not configured (every `tau run`
  without a server, `tau serve`'s RPC runs), else pydantic-ai's default client (timeouts, user agent, limits) on a
  `PoolTransport`. Authentication, cookies and redirects stay in that client, in the run: every request carries its
  own headers; the pool keeps none.
- Failures keep their type: the pool answers an upstream error with the httpx2 exception's class name and message,
  and the transport raises that class (`ConnectError`, `ConnectTimeout`, `ReadTimeout`, `RemoteProtocolError` ...),
  before the response or in the middle of its body, exactly as a direct transport would; the SDK and tau's retry
  layer then see what a local run sees. A pool that cannot be reached (gone, refused) means a direct request.
- Wire (one Unix connection per request): a JSON line (secret, method, URL, raw headers, the request's timeouts,
  body length) and the body; back a JSON line (`status`/`headers`/`reason`, or `error`/`message`, or `refused`),
  then the body as frames of a 4-byte big-endian length and the bytes, ending with length 0; length `_ERROR`
  introduces an error line in the middle of a body. Bodies pass through unbuffered (server-sent events).
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from anyio.abc import ByteStream
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "END",
    "ERROR",
    "PoolTransport",
    "configure",
    "configured",
    "disable",
    "error_class",
    "http_client",
]

END = 0
ERROR = 0xFFFFFFFF  # a frame length that announces an error line instead of body bytes
MAX_LINE = 1024 * 1024
_SLACK_S = 5.0  # the run's own guard waits this much longer than the request's timeouts (the pool applies them)


@dataclass(frozen=True)
class _Config:
    path: str
    secret: str
    loopback: bool  # forward requests to 127.0.0.0/8, ::1 and localhost too (else they go direct)


_CONFIG: list[_Config] = []


def configure(path: str, secret: str, *, loopback: bool = False) -> None:
    _CONFIG[:] = [_Config(path, secret, loopback)]


def disable() -> None:
    _CONFIG.clear()


def configured() -> bool:
    return bool(_CONFIG)


def http_client() -> httpx2.AsyncClient | None:
    """A provider's HTTP client through the pool; None when this process has no pool (module docstring)."""
    if not _CONFIG:
        return None
    from pydantic_ai._http import create_async_httpx2_client

    config = _CONFIG[0]
    return create_async_httpx2_client(transport=PoolTransport(config.path, config.secret, loopback=config.loopback))


def error_class(name: object) -> type[httpx2.RequestError]:
    """The httpx2 exception class called `name`; ConnectError for a name that is not one (the request failed)."""
    found = getattr(httpx2, name, None) if isinstance(name, str) else None
    if isinstance(found, type) and issubclass(found, httpx2.RequestError):
        return found
    return httpx2.ConnectError


def _is_loopback(host: str) -> bool:
    """A provider on this machine: no connection set-up worth saving, so the pool's extra hop is pure cost."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(timeouts: Mapping[str, Any]) -> float | None:
    """How long the run waits for the pool's next line or frame: the sum of the request's timeouts, plus slack."""
    total = _SLACK_S
    for phase in ("connect", "read", "write", "pool"):
        value = timeouts.get(phase)
        if value is None:
            return None
        total += float(value)
    return total


class PoolTransport(httpx2.AsyncBaseTransport):
    """Forwards each request through the pool process (module docstring); a direct transport when it is gone."""

    def __init__(self, path: str, secret: str, *, loopback: bool = False) -> None:
        self._path = path
        self._secret = secret
        self._loopback = loopback
        self._fallback: httpx2.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not self._loopback and _is_loopback(request.url.host):
            return await self._direct().handle_async_request(request)
        body = await request.aread()
        timeouts = dict(request.extensions.get("timeout") or {})
        try:
            stream = await anyio.connect_unix(self._path)
        except OSError:
            return await self._direct().handle_async_request(request)
        head = {
            "secret": self._secret,
            "method": request.method,
            "url": str(request.url),
            "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in request.headers.raw],
            "timeout": timeouts,
            "length": len(body),
        }
        reader = BufferedByteReceiveStream(stream)
        guard = _guard(timeouts)
        try:
            await stream.send(json.dumps(head).encode() + b"\n" + body)
            answer = await _line(reader, guard, request)
        except BaseException:
            await stream.aclose()
            raise
        if "status" not in answer:
            await stream.aclose()
            if "refused" in answer:
                return await self._direct().handle_async_request(request)
            raise error_class(answer.get("error"))(str(answer.get("message", "")), request=request)
        extensions = {"http_version": str(answer.get("http_version", "HTTP/1.1")).encode()}
        extensions["reason_phrase"] = str(answer.get("reason", "")).encode()
        return httpx2.Response(
            int(answer["status"]),
            headers=[(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer["headers"]],
            stream=_Body(stream, reader, request, guard),
            extensions=extensions,
        )

    def _direct(self) -> httpx2.AsyncHTTPTransport:
        if self._fallback is None:
            from pydantic_ai._http import DEFAULT_HTTP_LIMITS

            self._fallback = httpx2.AsyncHTTPTransport(limits=DEFAULT_HTTP_LIMITS)
        return self._fallback

    async def aclose(self) -> None:
        if self._fallback is not None:
            await self._fallback.aclose()


async def _line(reader: BufferedByteReceiveStream, guard: float | None, request: httpx2.Request) -> dict[str, Any]:
    try:
        with anyio.fail_after(guard):
            data = await reader.receive_until(b"\n", MAX_LINE)
    except TimeoutError:
        raise httpx2.ReadTimeout(
            "timed out waiting for the provider (through the local pool)", request=request
        ) from None
    except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.DelimiterNotFound, OSError):
        raise httpx2.RemoteProtocolError("the local provider pool closed the connection", request=request) from None
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise httpx2.RemoteProtocolError("the local provider pool sent a malformed answer", request=request)
    return answer


class _Body(httpx2.AsyncByteStream):
    """The response body as the pool streams it; closing it early closes the pool's upstream response too."""

    def __init__(
        self, stream: ByteStream, reader: BufferedByteReceiveStream, request: httpx2.Request, guard: float | None
    ) -> None:
        self._stream = stream
        self._reader = reader
        self._request = request
        self._guard = guard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            size = await self._frame_size()
            if size == END:
                return
            if size == ERROR:
                answer = await _line(self._reader, self._guard, self._request)
                raise error_class(answer.get("error"))(str(answer.get("message", "")), request=self._request)
            yield await self._receive(size)

    async def _frame_size(self) -> int:
        size: int = struct.unpack(">I", await self._receive(4))[0]
        return size

    async def _receive(self, size: int) -> bytes:
        try:
            with anyio.fail_after(self._guard):
                return await self._reader.receive_exactly(size)
        except TimeoutError:
            raise httpx2.ReadTimeout("timed out reading the provider's response", request=self._request) from None
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
            message = "peer closed connection without sending complete message body (local provider pool)"
            raise httpx2.RemoteProtocolError(message, request=self._request) from None

    async def aclose(self) -> None:
        await self._stream.aclose()
