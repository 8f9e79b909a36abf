"""`tau serve`'s telemetry routes around its ASGI app: `GET /metrics` and the `traceparent` of incoming requests.

`telemetry_routes(app, token=..., public=...)`:
- `/metrics` answers in the Prometheus text format (or OpenMetrics when asked, `prometheus_client`'s negotiation) from
  the process's `ServeMetrics`. With a server token it needs `Authorization: Bearer <token>` like every RPC (compared
  in constant time; 401 otherwise) unless `public` (`--metrics-public` / `telemetry.metrics_public`). Only GET and
  HEAD (405 otherwise). The path is matched exactly; everything else goes to `app`.
- every other HTTP request runs inside `Tracer.incoming(traceparent, tracestate)`: a run started by it (`Run`,
  `Respond`) is a task created in that context, so its root span's parent is the caller's span. Malformed headers
  are ignored. With tracing off this is a no-op block.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tau.telemetry import install_metrics, tracer

__all__ = ["ASGIApp", "telemetry_routes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


def authorized(header: str | None, expected: bytes) -> bool:
    """`Authorization: Bearer <token>` carries `expected` (constant-time comparison)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    matches = hmac.compare_digest(value.strip().encode("latin-1", "replace"), expected)
    return scheme.lower() == "bearer" and matches


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


def telemetry_routes(app: ASGIApp, *, token: str | None, public: bool = False) -> ASGIApp:
    """`app` with `/metrics` and incoming trace context (see the module docstring)."""
    from prometheus_client import make_asgi_app

    exposition = make_asgi_app(install_metrics().registry)
    expected = token.encode() if token and not public else None

    async def metrics(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await _plain(send, 405, "use GET\n", [(b"allow", b"GET, HEAD")])
        elif expected is not None and not authorized(_header(scope, b"authorization"), expected):
            await _plain(send, 401, "missing or invalid bearer token\n", [(b"www-authenticate", b"Bearer")])
        else:
            await exposition(scope, receive, send)

    async def routes(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
        elif scope.get("path") == METRICS_PATH:
            await metrics(scope, receive, send)
        else:
            with tracer().incoming(_header(scope, b"traceparent"), _header(scope, b"tracestate")):
                await app(scope, receive, send)

    return routes
