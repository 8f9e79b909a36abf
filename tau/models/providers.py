"""Model providers shared across runs in a long-lived process (`tau serve`): one provider, and one HTTP client, per
configuration, closed with the process that owns them.

Why: a pydantic-ai provider built without an `http_client` creates its own HTTP client (a connection pool) and
closes it only when it is used as an async context manager. `build_model` builds a provider per run, which is right
for `tau run` (one run per process: the process exit frees it) and a leak for a server (measured: ~1.5 MB and one
socket per run, left in CLOSE-WAIT once the model endpoint closed its side).

Contract:
- `ProviderPool.lease()` (an async context manager) scopes one run: every `build_model` inside it (the run's model,
  its subagents' models, built later in tasks of the run, which inherit the context) gets the pool's provider for
  its `ProviderKey` instead of a new one. Outside any lease `shared_provider` builds a fresh provider, as before.
- A pooled provider is built with an HTTP client the pool creates (`pydantic_ai.models.create_async_httpx2_client`)
  and owns: pydantic-ai never closes a client it was handed. `aclose()` closes every client; the pool is unusable
  afterwards (a lease then raises RuntimeError).
- The key is what makes two providers interchangeable: provider kind, base URL, a digest of the API key (the key
  itself is not kept in the key), API version and request timeout. Runs hold a reference count on the keys they
  used; when a lease ends, configurations nobody uses beyond the `max_idle` most recently used are closed and
  forgotten, so a server that sees many distinct configurations holds a bounded number of idle clients.
Everything here runs on one event loop; nothing is shared across threads.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tau.config.spec import ModelSpec

if TYPE_CHECKING:
    import httpx2
    from pydantic_ai.providers import Provider

__all__ = ["ProviderKey", "ProviderPool", "provider_key", "shared_provider"]

ProviderKey = tuple[str, str, str, str, float]
MakeProvider = Callable[["httpx2.AsyncClient | None"], "Provider[Any]"]


def provider_key(spec: ModelSpec) -> ProviderKey:
    digest = hashlib.sha256((spec.api_key or "").encode()).hexdigest() if spec.api_key else ""
    return (spec.provider, spec.base_url or "", digest, spec.api_version or "", float(spec.request_timeout))


@dataclass
class _Entry:
    provider: Provider[Any]
    client: httpx2.AsyncClient
    users: int = 0


@dataclass
class _Lease:
    pool: ProviderPool
    keys: dict[ProviderKey, int] = field(default_factory=dict)


_LEASE: ContextVar[_Lease | None] = ContextVar("tau_provider_lease", default=None)


class ProviderPool:
    """Providers by `ProviderKey`, each with an HTTP client the pool owns. See the module docstring."""

    def __init__(self, *, max_idle: int = 16, client_factory: Callable[[], httpx2.AsyncClient] | None = None) -> None:
        self.max_idle = max_idle
        self._client_factory = client_factory
        self._entries: OrderedDict[ProviderKey, _Entry] = OrderedDict()
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[None]:
        """Scope one run: models built inside share this pool's providers (see the module docstring)."""
        if self._closed:
            raise RuntimeError("the provider pool is closed")
        lease = _Lease(self)
        token = _LEASE.set(lease)
        try:
            yield
        finally:
            _LEASE.reset(token)
            await self._release(lease)

    def acquire(self, key: ProviderKey, make: MakeProvider) -> Provider[Any]:
        entry = self._entries.get(key)
        if entry is None:
            client = self._new_client()
            entry = _Entry(make(client), client)
            self._entries[key] = entry
        self._entries.move_to_end(key)
        entry.users += 1
        return entry.provider

    async def _release(self, lease: _Lease) -> None:
        for key, count in lease.keys.items():
            entry = self._entries.get(key)
            if entry is not None:
                entry.users -= count
        idle = [key for key, entry in self._entries.items() if entry.users <= 0]  # oldest first
        for key in idle[: max(0, len(idle) - self.max_idle)]:
            await self._entries.pop(key).client.aclose()

    async def aclose(self) -> None:
        """Close every client (server shutdown). Idempotent."""
        self._closed = True
        while self._entries:
            _, entry = self._entries.popitem(last=False)
            await entry.client.aclose()

    def _new_client(self) -> httpx2.AsyncClient:
        if self._client_factory is not None:
            return self._client_factory()
        from pydantic_ai.models import create_async_httpx2_client

        return create_async_httpx2_client()


def shared_provider(spec: ModelSpec, make: MakeProvider) -> Provider[Any]:
    """The provider for `spec`: the leased pool's (inside `ProviderPool.lease()`), else `make(None)`, a provider
    with its own HTTP client."""
    lease = _LEASE.get()
    if lease is None or lease.pool._closed:
        return make(None)
    key = provider_key(spec)
    provider = lease.pool.acquire(key, make)
    lease.keys[key] = lease.keys.get(key, 0) + 1
    return provider
