"""Errors of the snapshot store, all one line and all part of tau's error tree (tau.errors).

    RunError
    ├── SessionLockedError   exit 1   another live process holds the session's write lock (names its pid)
    ├── CorruptObjectError   exit 1   an object or ref is missing, truncated or fails its hash (names the path)
    └── StoreWriteError      exit 1   the store could not be written (disk full, permissions); nothing half-written
                                      became reachable
    ConfigError
    ├── SessionNotFoundError exit 2   no session/snapshot matches the id or prefix the operator gave
    └── BundleError          exit 2   an import file is not a complete tau bundle, or diverges from the local session

A locked session is a run that could not start (retrying later may succeed), so it is a RunError, not an operator
mistake. Damage is reported, never repaired here: `fsck` lists it, `gc` never touches reachable objects.
"""

from __future__ import annotations

from pathlib import Path

from tau.errors import ConfigError, RunError


class SessionLockedError(RunError):
    """A second writer tried to open a session another live process is writing."""

    reason = "session_locked"

    def __init__(self, session_id: str, holder_pid: int | None, lock_path: Path) -> None:
        holder = f"pid {holder_pid}" if holder_pid is not None else "another process"
        super().__init__(f"session {session_id} is locked by {holder} (lock file {lock_path})")
        self.session_id = session_id
        self.holder_pid = holder_pid
        self.lock_path = lock_path


class CorruptObjectError(RunError):
    """An object or ref needed to load a session is missing or damaged."""

    reason = "session_corrupt"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"damaged session store: {path}: {problem} (run `tau sessions fsck`)")
        self.path = path
        self.problem = problem


class SessionNotFoundError(ConfigError):
    """No session or snapshot matches what the operator named."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, field="session")


class StoreWriteError(RunError):
    """Writing an object or ref failed; the temp file was removed and no ref moved."""

    reason = "session_write_failed"

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"cannot write session store: {path}: {error.strerror or error}")
        self.path = path
        self.errno = error.errno


class BundleError(ConfigError):
    """A bundle file that is not a valid, complete tau bundle, or that conflicts with a local session."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(problem, source=str(path))
