"""Per-session write locks: `locks/<session-id>.lock`, an `fcntl.flock` held for as long as a store writes it.

The holder writes its pid into the file after locking, so a second writer (another process, or another store object
in this process: flock locks belong to open file descriptions) fails at once with `SessionLockedError` naming that
pid. The kernel drops the lock when the holder exits, kill -9 included, so a stale lock file is harmless and is never
deleted (deleting lock files races with lockers). Locks never wait: fail loud, never hang.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from tau.sessions.errors import SessionLockedError, StoreWriteError


class SessionLock:
    """An acquired, exclusive lock on one session. `release()` is idempotent."""

    def __init__(self, session_id: str, path: Path, fd: int) -> None:
        self.session_id = session_id
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, locks_dir: Path, session_id: str) -> SessionLock:
        path = locks_dir / f"{session_id}.lock"
        try:
            locks_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreWriteError(path, error) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(fd)
            os.close(fd)
            raise SessionLockedError(session_id, holder, path) from None
        except OSError as error:
            os.close(fd)
            raise StoreWriteError(path, error) from error
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(session_id, path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def is_held(locks_dir: Path, session_id: str) -> bool:
    """Whether a live process holds `session_id`'s write lock. Read-only: the lock file is neither created nor
    written (a shared lock is tried and dropped at once)."""
    try:
        fd = os.open(locks_dir / f"{session_id}.lock", os.O_RDONLY)
    except OSError:
        return False  # no lock file: no writer ever locked it here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _holder_pid(fd: int) -> int | None:
    """The holder's pid; it writes it just after locking, so an empty file is read again for up to 0.2 s."""
    for _ in range(40):
        pid = _read_pid(fd)
        if pid is not None:
            return pid
        time.sleep(0.005)
    return None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
