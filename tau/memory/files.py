"""HostFiles: the read-only view of the host filesystem that bootstrap-memory discovery uses.

Bootstrap memory files (TAU.md, AGENTS.md, CLAUDE.md and what they `@import`) are configuration, read on the host
before a run starts; they are not tool operations and do not go through the workspace. The port is injected so
discovery is a pure function of (`home`, `cwd`, files) and tests can run against a temporary tree.

Contract: paths are absolute POSIX strings; `read_bytes` raises `OSError` (e.g. `FileNotFoundError`) when the file
cannot be read; the predicates and `list_dir` (names in a directory, [] when it cannot be listed) never raise.
"""

from __future__ import annotations

import os
from typing import Protocol

__all__ = ["HostFiles", "LocalFiles"]


class HostFiles(Protocol):
    """What discovery needs from a filesystem: five queries and one read."""

    def read_bytes(self, path: str) -> bytes: ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def exists(self, path: str) -> bool: ...

    def realpath(self, path: str) -> str: ...

    def list_dir(self, path: str) -> list[str]: ...


class LocalFiles:
    """This machine's filesystem (the default)."""

    def read_bytes(self, path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def list_dir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except OSError:
            return []
