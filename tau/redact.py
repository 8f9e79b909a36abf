"""Secret redaction for everything tau prints or stores about a run: notices, errors, MCP server status, URLs.

What is a secret here:
- the value of an environment variable whose name looks like a credential (`*KEY*`, `*TOKEN*`, `*SECRET*`,
  `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`, `*AUTH*`, `*COOKIE*`, `*PRIVATE*`, `*SESSION*`, `*_PAT`) and at least
  6 characters long (shorter values such as `1` or `yes` would redact ordinary words);
- values a caller adds explicitly (`with_values`: e.g. what `${VAR}` expanded to in an MCP header);
- the userinfo of a URL (`https://user:token@host` -> `https://***@host`) and the values of URL query parameters
  whose names look like credentials (`?access_token=...`, `&sig=...`).

`Redactor.text` is pure and total; a leaf module (imports nothing from tau), usable from every layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["MASK", "Redactor", "credential_name"]

MASK = "***"
_CREDENTIAL = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|PRIVATE|SESSION|_PAT$|^PAT_", re.IGNORECASE
)
_MIN_LENGTH = 6
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/\s@]+)@")
_QUERY = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_.\-]*(?:token|key|secret|sig|signature|password|passwd|auth|credential|code)"
    r"[A-Za-z0-9_.\-]*))=(?P<value>[^&#\s\"']+)",
    re.IGNORECASE,
)


def credential_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    return _CREDENTIAL.search(name) is not None


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values and URL credentials in text with `***`."""

    values: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        return cls().with_values(value for name, value in env.items() if credential_name(name))

    def with_values(self, values: Iterable[str]) -> Redactor:
        fresh = {v for v in values if len(v) >= _MIN_LENGTH and v.strip()}
        merged = sorted(set(self.values) | fresh, key=len, reverse=True)  # longest first: no partial leftovers
        return Redactor(tuple(merged))

    def text(self, text: str) -> str:
        if not text:
            return text
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        if "://" in text:
            text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
        if "=" in text:
            text = _QUERY.sub(lambda m: f"{m.group('name')}={MASK}", text)
        return text

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)
