"""The interactive half of an MCP OAuth login: send a person's browser to the authorization URL and catch the
redirect on a loopback port (RFC 8252 §7.3), for `tau mcp login` only — a run never uses it.

`LoopbackAuthorizer.redirect_uri(port)` names `http://localhost:PORT/callback` (a fixed `oauth.callbackPort`, or a
free port chosen now); `authorize(url, redirect_uri)` listens on that port (127.0.0.1, and ::1 where there is one),
hands the URL to `open_url` (in a worker thread: a browser launcher may block; the CLI's opener prints the URL and
starts a browser), and returns the first `GET /callback?code=...&state=...` (or `error=...`) as the SDK's
`AuthorizationCodeResult`; no callback within `timeout_s` is a `LoginCallbackError`. Checking `state` and `iss` is
the SDK's job; this module only carries them.

The listener is hostile-input safe: one request per connection, at most 8 KiB of header read within 10 s, only
`GET /callback` answered with a page, everything else 404; after the first callback every later one is told the
login is over. Nothing here reads the environment or starts a browser (`tau.cli.mcp_cmd` does).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.abc import Listener, SocketStream

if TYPE_CHECKING:
    from mcp.shared.auth import AuthorizationCodeResult

__all__ = ["DEFAULT_LOGIN_TIMEOUT_S", "LoginCallbackError", "LoopbackAuthorizer"]

DEFAULT_LOGIN_TIMEOUT_S = 300.0
_MAX_HEADER = 8192
_READ_TIMEOUT_S = 10.0
_DONE_PAGE = "<!doctype html><title>tau</title><p>tau: login complete. You can close this tab.</p>"
_FAILED_PAGE = "<!doctype html><title>tau</title><p>tau: the login failed ({}). You can close this tab.</p>"
_OVER_PAGE = "<!doctype html><title>tau</title><p>tau: this login is already over.</p>"


class LoginCallbackError(RuntimeError):
    """The authorization server redirected back with an error, or no redirect came in time."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackAuthorizer:
    """Opens the authorization URL with `open_url` and waits for the redirect on localhost."""

    def __init__(
        self,
        open_url: Callable[[str], None],
        *,
        timeout_s: float = DEFAULT_LOGIN_TIMEOUT_S,
        host: str = "localhost",
    ) -> None:
        self.open_url = open_url
        self.timeout_s = timeout_s
        self.host = host

    def redirect_uri(self, port: int | None) -> str:
        return f"http://{self.host}:{port or _free_port()}/callback"

    async def authorize(self, url: str, redirect_uri: str) -> AuthorizationCodeResult:
        port = urlsplit(redirect_uri).port
        if port is None:
            raise LoginCallbackError(f"redirect URI {redirect_uri} names no port")
        catcher = _Catcher()
        listeners = await _listen(port)
        try:
            async with anyio.create_task_group() as group:
                for listener in listeners:
                    group.start_soon(listener.serve, catcher.handle)
                group.start_soon(self._open, url)
                try:
                    with anyio.move_on_after(self.timeout_s):
                        await catcher.done.wait()
                finally:
                    group.cancel_scope.cancel()
        finally:
            for listener in listeners:
                with contextlib.suppress(Exception):
                    await listener.aclose()
        if not catcher.done.is_set():
            raise LoginCallbackError(f"the browser did not come back to {redirect_uri} within {self.timeout_s:g}s")
        return catcher.result()

    async def _open(self, url: str) -> None:
        # abandoned on cancel: a browser launcher that blocks until the browser exits must not hold the login
        await anyio.to_thread.run_sync(self.open_url, url, abandon_on_cancel=True)


async def _listen(port: int) -> list[Listener[SocketStream]]:
    first = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port, reuse_port=False)
    listeners: list[Listener[SocketStream]] = [first]
    with contextlib.suppress(OSError):  # no IPv6 loopback here: 127.0.0.1 alone
        listeners.append(await anyio.create_tcp_listener(local_host="::1", local_port=port, reuse_port=False))
    return listeners


class _Catcher:
    """Holds the first callback's query and answers every connection."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.query: dict[str, str] | None = None

    def result(self) -> AuthorizationCodeResult:
        from mcp.shared.auth import AuthorizationCodeResult

        query = self.query or {}
        if "error" in query:
            detail = query.get("error_description") or ""
            raise LoginCallbackError(f"the authorization server refused: {query['error']} {detail}".strip())
        code = query.get("code")
        if not code:
            raise LoginCallbackError("the redirect carried no authorization code")
        return AuthorizationCodeResult(code=code, state=query.get("state"), iss=query.get("iss"))

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            with anyio.move_on_after(_READ_TIMEOUT_S):
                head = await _read_head(stream)
                status, page = self._answer(head)
                body = page.encode()
                await stream.send(
                    f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\nCache-Control: no-store\r\n\r\n".encode()
                    + body
                )

    def _answer(self, head: bytes) -> tuple[str, str]:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            return "405 Method Not Allowed", _OVER_PAGE
        target = urlsplit(parts[1])
        if target.path != "/callback":
            return "404 Not Found", _OVER_PAGE
        if self.done.is_set():
            return "200 OK", _OVER_PAGE
        self.query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items() if v}
        self.done.set()
        if "error" in self.query:
            return "200 OK", _FAILED_PAGE.format(_html(self.query["error"]))
        return "200 OK", _DONE_PAGE


async def _read_head(stream: SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _MAX_HEADER:
        try:
            chunk = await stream.receive(_MAX_HEADER)
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            break
        data += chunk
    return data[:_MAX_HEADER]


def _html(text: str) -> str:
    return "".join(c if c.isalnum() or c in " _-." else "?" for c in text[:100])
