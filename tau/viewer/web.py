"""The viewer's HTTP routes in `tau serve`, beside the RuntimeService on the same port (`with_viewer`).

    GET /                     302 to /ui/
    GET /ui/                  the page (index.html); /ui/<asset> its stylesheet and scripts (`page.ASSETS` only)
    GET /ui/api/sessions      ?status=&q=&limit=&all=1   the store's sessions (`api.load_sessions`)
    GET /ui/api/session       ?id=ID                     a session's document (`api.load_document`)
    GET /ui/api/diff          ?a=SNAPSHOT&b=SNAPSHOT     a workspace diff (`api.load_diff`)

Everything else goes to the wrapped application (the Connect / gRPC service, or whatever mounts beside it).
Invariants: only GET and HEAD (405 otherwise); the page and its assets are public (they hold no data); the API
answers only with the server's bearer token when it has one (`authorize` raises on a refused header: 401), and
without a token only to a loopback Host name (403 otherwise: a page on another site that rebinds a DNS name to
127.0.0.1 reads nothing); JSON answers are `no-store`; the page is sent with `page.SERVED_CSP` (same-origin scripts,
style and fetches only) and `nosniff`. Errors are one line of JSON: `{"error": "..."}` (404 for an unknown session or
snapshot, 400 for a bad parameter, 500 for a damaged store).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from tau.errors import ConfigError
from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.viewer.api import load_diff, load_document, load_sessions
from tau.viewer.page import ASSETS, SERVED_CSP, asset

if TYPE_CHECKING:
    from tau.sessions import FileSessionStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authorize = Callable[[str | None], None]

__all__ = ["ViewerRoutes", "is_viewer_path", "with_viewer"]

_MAX_PARAM = 512
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class BadRequest(Exception):
    """A request the API cannot answer: its HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_viewer_path(path: str) -> bool:
    return path in ("/", "/ui") or path.startswith("/ui/")


def with_viewer(app: ASGIApp, store: FileSessionStore | None, *, authorize: Authorize | None) -> ASGIApp:
    """`app` with the viewer's routes in front of it (see the module docstring)."""
    viewer = ViewerRoutes(store, authorize=authorize)

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http" and is_viewer_path(str(scope.get("path", ""))):
            await viewer(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


class ViewerRoutes:
    """The routes themselves: an ASGI application over a `FileSessionStore` (None: a server without one)."""

    def __init__(self, store: FileSessionStore | None, *, authorize: Authorize | None) -> None:
        self.store = store
        self.authorize = authorize

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = str(scope.get("method", "GET"))
        path = str(scope.get("path", ""))
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain", [(b"allow", b"GET, HEAD")])
        elif path in ("/", "/ui"):
            await _respond(send, 302, b"", "text/plain", [(b"location", b"/ui/")])
        elif path.startswith("/ui/api/"):
            await self._api(scope, path.removeprefix("/ui/api/"), send, head=head)
        else:
            await self._asset(path.removeprefix("/ui/") or "index.html", send, head=head)

    async def _asset(self, name: str, send: Send, *, head: bool) -> None:
        if name not in ASSETS:
            await _respond(send, 404, b"not found\n", "text/plain")
            return
        data, media = asset(name)
        extra = [(b"cache-control", b"no-cache")]
        if name == "index.html":
            extra.append((b"content-security-policy", SERVED_CSP.encode()))
        await _respond(send, 200, data, media, extra, head=head)

    async def _api(self, scope: Scope, route: str, send: Send, *, head: bool) -> None:
        try:
            self._check_access(scope)
            answer = await self._answer(route, _params(scope))
            status, body = 200, json.dumps(answer, ensure_ascii=False).encode("utf-8")
        except BadRequest as error:
            status, body = error.status, _error(str(error))
        except SessionNotFoundError as error:
            status, body = 404, _error(error.problem)
        except ConfigError as error:
            status, body = 400, _error(str(error))
        except CorruptObjectError as error:
            status, body = 500, _error(str(error))
        await _respond(send, status, body, "application/json", [(b"cache-control", b"no-store")], head=head)

    def _check_access(self, scope: Scope) -> None:
        headers = {bytes(k).lower(): bytes(v).decode("latin-1") for k, v in scope.get("headers", ())}
        if self.authorize is not None:
            try:
                self.authorize(headers.get(b"authorization"))
            except Exception as error:  # the server's token check raises its own error type: one line, 401
                raise BadRequest(401, str(error) or "invalid bearer token") from None
        elif not _loopback_host(headers.get(b"host", "")):
            raise BadRequest(403, "without a token, the viewer answers only on a loopback name (127.0.0.1, localhost)")
        if self.store is None:
            raise BadRequest(404, "this server keeps no session store (start tau serve with --state-dir)")

    async def _answer(self, route: str, params: dict[str, str]) -> dict[str, Any]:
        store = self.store
        assert store is not None
        if route == "sessions":
            limit = params.get("limit", "200")
            if not limit.isdigit():
                raise BadRequest(400, "limit must be a number")
            return await load_sessions(
                store,
                status=params.get("status"),
                text=params.get("q"),
                limit=int(limit),
                include_subagents=params.get("all") == "1",
            )
        if route == "session":
            return await load_document(store, _required(params, "id"))
        if route == "diff":
            return await load_diff(store, _required(params, "a"), _required(params, "b"))
        raise BadRequest(404, f"no route /ui/api/{route}")


def _params(scope: Scope) -> dict[str, str]:
    raw = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    params = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    for key, value in params.items():
        if len(value) > _MAX_PARAM:
            raise BadRequest(400, f"parameter {key!r} is longer than {_MAX_PARAM} characters")
    return params


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise BadRequest(400, f"parameter {name!r} is required")
    return value


def _loopback_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback (`localhost`, 127.0.0.0/8, [::1]; any port)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _error(message: str) -> bytes:
    return json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode()), *_COMMON]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
