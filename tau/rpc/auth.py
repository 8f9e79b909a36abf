"""Bearer-token auth for every RuntimeService method, and the bind rule that makes a token mandatory off-loopback.

`BearerAuth` is a connectrpc metadata interceptor placed first in the chain, so a request is refused (UNAUTHENTICATED)
before its body is read or parsed, for unary and streaming methods and for every protocol (Connect, gRPC-Web) alike.
The token is compared in constant time (`hmac.compare_digest`) over bytes. `load_token` reads a token file (first
line, stripped; an empty or unreadable file is a ConfigError). `require_token_off_loopback` refuses to serve a
non-loopback address without a token (ConfigError, exit 2, before anything listens).
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from tau.errors import ConfigError

_MISSING = "missing bearer token: send the header 'Authorization: Bearer <token>'"
_WRONG = "invalid bearer token"


class BearerAuth:
    """A `connectrpc.interceptor.MetadataInterceptor` checking `Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty token")
        self._expected = token.encode()

    def check(self, header: str | None) -> None:
        """Raise ConnectError(UNAUTHENTICATED) unless `header` carries the token."""
        if not header:
            raise ConnectError(Code.UNAUTHENTICATED, _MISSING)
        scheme, _, value = header.strip().partition(" ")
        given = value.strip().encode()
        # compare_digest even when the scheme is wrong, so timing says nothing about which part failed
        matches = hmac.compare_digest(given, self._expected)
        if scheme.lower() != "bearer" or not matches:
            raise ConnectError(Code.UNAUTHENTICATED, _WRONG)

    async def on_start(self, ctx: RequestContext[object, object]) -> None:
        self.check(ctx.request_headers.get("authorization"))

    async def on_end(self, token: None, ctx: RequestContext[object, object], error: Exception | None) -> None:
        return None


def load_token(token_file: Path) -> str:
    """The token in `token_file` (its first line, stripped)."""
    try:
        text = token_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read token file: {exc.strerror or exc}", source=str(token_file)) from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise ConfigError("token file is empty", source=str(token_file))
    return token


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; any other name counts as reachable from outside."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_token_off_loopback(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without a token: pass --token-file FILE, or bind to 127.0.0.1",
            source="--host",
        )
