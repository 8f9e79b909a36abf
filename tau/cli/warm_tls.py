"""The warm server's TLS context: built once in `tau serve --local`'s parent, handed to the first HTTP client of
each forked run instead of a new one (issue #19: a default context loads the CA bundle, 30-150 ms measured here,
paid by every warm run for its provider's client even with an http:// base URL).

Contract: `prepare(env)` (the parent, after the preload) builds the context `httpcore2.default_ssl_context()` would
build under `env`: from `SSL_CERT_FILE`, else `SSL_CERT_DIR`, else the system's paths, and remembers those two
values. `adopt(env)` (a forked run, with the client's environment) installs it only when the run's environment
names the same two values, so the context is exactly the one the run would have built (a relative path is never
prepared: it would name another file from the run's working directory). It is handed out once per run: httpx may
change a context it is given (a client certificate, ALPN), so a second client of the run builds its own, as it
would without a server. Nothing happens when httpcore2 is not installed or the bundle cannot be loaded.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["adopt", "prepare"]

_TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_PREPARED: list[tuple[tuple[str, ...], ssl.SSLContext]] = []


def _trust(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(env.get(name) or "" for name in _TRUST_ENV)


def prepare(env: Mapping[str, str]) -> None:
    trust = _trust(env)
    if any(value and not os.path.isabs(value) for value in trust):
        return
    cafile, capath = trust
    with contextlib.suppress(ImportError, OSError, ssl.SSLError):
        import httpcore2

        if cafile:
            context = ssl.create_default_context(cafile=cafile)
        elif capath:
            context = ssl.create_default_context(capath=capath)
        else:
            context = httpcore2.default_ssl_context(_trust_env=False)  # the system's paths, as with neither set
        _PREPARED[:] = [(trust, context)]


def adopt(env: Mapping[str, str]) -> None:
    if not _PREPARED or _PREPARED[0][0] != _trust(env):
        return
    import httpcore2

    original: Callable[..., ssl.SSLContext] = httpcore2.default_ssl_context
    _trust_key, spare = _PREPARED.pop()

    def once(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        httpcore2.default_ssl_context = original  # one context per run
        return spare if not args and kwargs.get("_trust_env", True) else original(*args, **kwargs)

    httpcore2.default_ssl_context = once
