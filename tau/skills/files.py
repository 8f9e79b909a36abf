"""SkillFiles: the read-only view of the host filesystem that skill discovery (and out-of-workspace skills) use.

Skill libraries are configuration read on the host before a run (like bootstrap memory), so discovery goes through
this injected port rather than the workspace. `tau.memory.files` has the same shape minus `list_dir`; the two are
separate because domain packages do not import each other (DESIGN.md §2).

Contract: paths are absolute POSIX strings; `read_bytes` and `list_dir` raise `OSError`; predicates never raise.
"""

from __future__ import annotations

import os
from typing import Protocol

__all__ = ["LocalFiles", "SkillFiles"]


class SkillFiles(Protocol):
    def read_bytes(self, path: str) -> bytes: ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[str]: ...

    def realpath(self, path: str) -> str: ...


class LocalFiles:
    """This machine's filesystem (the default)."""

    def read_bytes(self, path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def list_dir(self, path: str) -> list[str]:
        return os.listdir(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)
