"""Which session store a process uses: the `[store]` settings table, `TAU_STORE`, and `--store`.

    [store]
    url = "postgres://tau@db.internal/tau"   # sessions in Postgres (tau.sessions.postgres); unset: files + SQLite

Order: `--store URL` > `TAU_STORE` (empty = unset) > `[store] url` in the USER config only. A repository's own
config never chooses the store, trusted or not (`store` is a `user` key in `trust_keys`: a cloned repository must
not redirect where sessions — prompts, tool output, file contents — are written, nor read them from a server of its
choosing). Without any of them the file store of `tau.sessions.default_state_dir` is used (the default).

Only `postgres://` and `postgresql://` URLs (libpq's URI form) are stores; anything else is a ConfigError naming
where it came from, with the URL's userinfo masked (`tau.redact`): a password in a store URL never appears in an
error. Credentials are better kept out of the URL (`PGPASSWORD`, `~/.pgpass`, which libpq reads itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator

from tau.errors import ConfigError
from tau.redact import Redactor

__all__ = ["StoreChoice", "StoreLayer", "resolve_store"]

SCHEMES = ("postgres://", "postgresql://")


def _check_url(value: str) -> str:
    if value and not value.startswith(SCHEMES):
        raise ValueError(f"must be a postgres:// URL, got {Redactor().text(value)!r}")
    return value


class StoreLayer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


@dataclass(frozen=True)
class StoreChoice:
    """A selected store: its URL and where it came from (`--store`, `TAU_STORE`, or the user config's path)."""

    url: str
    source: str

    @property
    def shown(self) -> str:
        return Redactor().text(self.url)


def _user_url(env: Mapping[str, str]) -> StoreChoice | None:
    from tau.config.layers import read_config_file, user_config_path
    from tau.config.paths import is_file

    path = user_config_path(env)
    if path is None or not is_file(path):
        return None
    store = read_config_file("user", path).data.get("store") or {}
    url = str(store.get("url") or "")
    return StoreChoice(url, f"{path} [store] url") if url else None


def resolve_store(env: Mapping[str, str], explicit: str | None = None) -> StoreChoice | None:
    """The store this process uses (see the module docstring), or None for the default file store."""
    for value, source in ((explicit, "--store"), (env.get("TAU_STORE"), "TAU_STORE")):
        if value:
            try:
                return StoreChoice(_check_url(value), source)
            except ValueError as error:
                raise ConfigError(f"{error} (a directory is --state-dir / TAU_STATE_DIR)", source=source) from None
    return _user_url(env)
