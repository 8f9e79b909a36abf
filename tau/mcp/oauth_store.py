"""Where tau keeps what an MCP OAuth login leaves behind: one owner-only JSON file per (server name, URL).

Location: `$XDG_CONFIG_HOME/tau/mcp-oauth/` (an absolute XDG_CONFIG_HOME), else `$HOME/.config/tau/mcp-oauth/`; the
directory is created mode 0700 and every file is written mode 0600 by an atomic rename, so a reader never sees half a
file and no other user can read a token. Without HOME or XDG_CONFIG_HOME nothing is written: the state lives in
memory for the process (`OAuthStore(None)`), which is also what client-credentials servers use on purpose (a CI
secret can mint a new token at any time; there is nothing worth keeping on disk).

A file is keyed by the server's name *and* its URL (`sha256(name NUL url)`): a login for `github` is never presented
to another server that merely reuses the name, nor to the same name pointing somewhere else. It holds the tokens with
their absolute expiry (`expires_at`, so a later run knows whether to refresh), the client registration (dynamic,
pre-registered or a metadata-document URL), the authorization server and protected-resource metadata the login
discovered (a headless refresh must reach the real token endpoint without rediscovery), and `pending_scope`: scopes a
headless run was refused for (`insufficient_scope`), which the next `tau mcp login` adds to what it asks for.

`ServerTokens` is the MCP SDK's `TokenStorage` over one such record. Unreadable or malformed files read as empty: the
server then needs `tau mcp login` again, which rewrites them. `ServerTokens.refresh_lock` serialises refreshes of one
record across processes (an empty `<key>.lock` file beside it, `flock`ed, waited for a bounded time) so parallel runs
do not each spend a rotating refresh token. The environment is injected, nothing else is read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata

__all__ = ["OAuthStore", "ServerTokens", "StoredLogin"]

_VERSION = 1
_MAX_FILE_BYTES = 1024 * 1024
REFRESH_LOCK_WAIT_S = 30.0


@dataclass
class StoredLogin:
    """One server's record as it is on disk (JSON-ready values; the SDK models are built on demand)."""

    server: str
    url: str
    tokens: dict[str, Any] | None = None
    expires_at: float | None = None
    client_info: dict[str, Any] | None = None
    auth_server: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    auth_server_url: str | None = None
    pending_scope: str | None = None
    updated_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"version": _VERSION, **{k: v for k, v in self.__dict__.items() if v is not None}}

    @classmethod
    def from_json(cls, data: Any, server: str, url: str) -> StoredLogin | None:
        if not isinstance(data, dict) or data.get("server") != server or data.get("url") != url:
            return None
        record = cls(server=server, url=url)
        for key in ("tokens", "client_info", "auth_server", "resource"):
            value = data.get(key)
            setattr(record, key, value if isinstance(value, dict) else None)
        for key in ("auth_server_url", "pending_scope"):
            value = data.get(key)
            setattr(record, key, value if isinstance(value, str) else None)
        for key in ("expires_at", "updated_at"):
            value = data.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(record, key, float(value))
        return record


class OAuthStore:
    """The directory of login records (None: keep them in memory only)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, StoredLogin] = {}

    @classmethod
    def for_env(cls, env: Mapping[str, str]) -> OAuthStore:
        xdg = env.get("XDG_CONFIG_HOME", "")
        if xdg and os.path.isabs(xdg):
            return cls(Path(xdg) / "tau" / "mcp-oauth")
        home = env.get("HOME", "")
        return cls(Path(home) / ".config" / "tau" / "mcp-oauth" if home and os.path.isabs(home) else None)

    @staticmethod
    def key(server: str, url: str) -> str:
        return hashlib.sha256(f"{server}\0{url}".encode()).hexdigest()[:32]

    def path(self, server: str, url: str) -> Path | None:
        return self.directory / f"{self.key(server, url)}.json" if self.directory is not None else None

    def load(self, server: str, url: str) -> StoredLogin | None:
        path = self.path(server, url)
        if path is None:
            return self._memory.get(self.key(server, url))
        data = _read_json(path)
        return StoredLogin.from_json(data, server, url) if data is not None else None

    def save(self, record: StoredLogin) -> None:
        record.updated_at = time.time()
        path = self.path(record.server, record.url)
        if path is None:
            self._memory[self.key(record.server, record.url)] = record
            return
        _write_private(path, record.to_json())

    def remove(self, server: str) -> list[str]:
        """Forget every record of `server` (whatever its URL); the URLs they were for."""
        gone = [r.url for k, r in list(self._memory.items()) if r.server == server and self._memory.pop(k)]
        if self.directory is None or not self.directory.is_dir():
            return gone
        for path in sorted(self.directory.glob("*.json")):
            data = _read_json(path)
            if isinstance(data, dict) and data.get("server") == server:
                for leftover in (path, path.with_suffix(".lock")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()
                gone.append(str(data.get("url")))
        return gone

    def tokens(self, server: str, url: str) -> ServerTokens:
        return ServerTokens(self, server, url)


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(raw) > _MAX_FILE_BYTES:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _write_private(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".login-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


async def _lock(fd: int) -> None:
    deadline = time.monotonic() + REFRESH_LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return
            await anyio.sleep(0.05)
        except OSError:
            return


class ServerTokens:
    """The MCP SDK's `TokenStorage` for one server, plus the metadata a headless refresh needs.

    Reads the record once (`record`) and writes it back on every change."""

    def __init__(self, store: OAuthStore, server: str, url: str) -> None:
        self.store = store
        self.server = server
        self.url = url
        self._record: StoredLogin | None = None

    @property
    def record(self) -> StoredLogin:
        if self._record is None:
            self._record = self.store.load(self.server, self.url) or StoredLogin(self.server, self.url)
        return self._record

    def reload(self) -> StoredLogin:
        """The record as stored now (another process may have written it since it was read)."""
        self._record = None
        return self.record

    def _save(self) -> None:
        self.store.save(self.record)

    @contextlib.asynccontextmanager
    async def refresh_lock(self) -> AsyncIterator[None]:
        """Held while a refresh is decided and made, so parallel runs spend a rotating refresh token once: an
        exclusive `flock` on the record's `.lock` file beside it, waited for at most `REFRESH_LOCK_WAIT_S` (then the
        refresh goes ahead unlocked: never hang). No lock for a store kept in memory."""
        path = self.store.path(self.server, self.url)
        if path is None:
            yield
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            yield
            return
        try:
            await _lock(fd)
            yield
        finally:
            os.close(fd)  # releases the lock

    def stored_token(self) -> OAuthToken | None:
        from mcp.shared.auth import OAuthToken
        from pydantic import ValidationError

        if self.record.tokens is None:
            return None
        try:
            return OAuthToken.model_validate(self.record.tokens)
        except ValidationError:
            return None

    async def get_tokens(self) -> OAuthToken | None:
        return self.stored_token()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.record.tokens = tokens.model_dump(mode="json", exclude_none=True)
        self.record.expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        self._save()

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        from mcp.shared.auth import OAuthClientInformationFull
        from pydantic import ValidationError

        if self.record.client_info is None:
            return None
        try:
            return OAuthClientInformationFull.model_validate(self.record.client_info)
        except ValidationError:
            return None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.record.client_info = client_info.model_dump(mode="json", exclude_none=True)
        self._save()

    def discovery(self) -> tuple[OAuthMetadata | None, ProtectedResourceMetadata | None, str | None]:
        """The authorization server metadata, protected-resource metadata and authorization server URL stored."""
        from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
        from pydantic import ValidationError

        record = self.record
        try:
            server = OAuthMetadata.model_validate(record.auth_server) if record.auth_server else None
            resource = ProtectedResourceMetadata.model_validate(record.resource) if record.resource else None
        except ValidationError:
            return None, None, None
        return server, resource, record.auth_server_url

    def set_discovery(
        self, server: OAuthMetadata | None, resource: ProtectedResourceMetadata | None, server_url: str | None
    ) -> None:
        record = self.record
        record.auth_server = server.model_dump(mode="json", exclude_none=True) if server else None
        record.resource = resource.model_dump(mode="json", exclude_none=True) if resource else None
        record.auth_server_url = server_url
        self._save()

    def set_pending_scope(self, scope: str | None) -> None:
        if scope != self.record.pending_scope:
            self.record.pending_scope = scope
            self._save()

    def forget_tokens(self) -> None:
        """Drop the tokens (a fresh login follows); the registration and discovered metadata stay."""
        self.record.tokens = None
        self.record.expires_at = None
        self._save()
