"""The warm server's TLS context: built once in `tau serve --local`'s parent, handed to the first HTTP client of
each forked run instead of a new one (issue #19: a default context loads the system CA bundle, 30-150 ms measured
here, paid by every warm run for its provider's client even with an http:// base URL).

Contract: `prepare(env)` (the parent, after the preload) builds `httpcore2.default_ssl_context()` when the server's
environment sets neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` (what that function would read). `adopt(env)` (a forked
run, with the client's environment) installs it when the run's environment sets neither either, so the context is
exactly the one the run would have built. It is handed out once per run: httpx may change a context it is given
(a client certificate, ALPN), so a second client of the run builds its own, as it would without a server.
Nothing happens when httpcore2 is not installed.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["adopt", "prepare"]

_TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_PREPARED: list[ssl.SSLContext] = []


def prepare(env: Mapping[str, str]) -> None:
    if any(env.get(name) for name in _TRUST_ENV):
        return
    with contextlib.suppress(ImportError):
        import httpcore2

        _PREPARED[:] = [httpcore2.default_ssl_context()]


def adopt(env: Mapping[str, str]) -> None:
    if not _PREPARED or any(env.get(name) for name in _TRUST_ENV):
        return
    import httpcore2

    original: Callable[..., ssl.SSLContext] = httpcore2.default_ssl_context
    spare = _PREPARED.pop()

    def once(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        httpcore2.default_ssl_context = original  # one context per run
        return spare if not args and kwargs.get("_trust_env", True) else original(*args, **kwargs)

    httpcore2.default_ssl_context = once
