"""Session refs: `refs/sessions/<session-id>` holds the id of the session's head snapshot and a newline.

A ref moves only by `write_durably` (temp file + fsync + rename + directory fsync), and only by the process holding
the session's lock (locks.py), after every object the new head reaches is durable. So a reader sees the old head or
the new one, never a torn ref. Session ids are file names: 1-128 of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from tau.errors import ConfigError
from tau.sessions.errors import CorruptObjectError
from tau.sessions.objects import OBJECT_ID, fsync_dir, write_durably

SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def check_session_id(session_id: str) -> str:
    if not SESSION_ID.fullmatch(session_id):
        raise ConfigError(
            f"invalid session id {session_id!r} (use 1-128 letters, digits, '.', '_' or '-')", field="--session-id"
        )
    return session_id


class RefStore:
    """The `refs/sessions/` directory of a state dir."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.dir = root / "refs" / "sessions"
        self.tmp_dir = root / "tmp"
        self.durable = durable

    def ensure_dirs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, session_id: str) -> Path:
        return self.dir / check_session_id(session_id)

    def read(self, session_id: str) -> str | None:
        """The head snapshot id of `session_id`, or None when the session does not exist."""
        path = self.path(session_id)
        try:
            text = path.read_text("ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise CorruptObjectError(path, f"unreadable ref: {error}") from error
        if not OBJECT_ID.fullmatch(text):
            raise CorruptObjectError(path, "ref does not hold a snapshot id")
        return text

    def write(self, session_id: str, snapshot_id: str) -> None:
        write_durably(self.path(session_id), f"{snapshot_id}\n".encode(), self.tmp_dir, durable=self.durable)

    def delete(self, session_id: str) -> bool:
        path = self.path(session_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        if self.durable:
            with contextlib.suppress(OSError):
                fsync_dir(self.dir)
        return True

    def sessions(self) -> Iterator[str]:
        """Every session id with a ref, sorted."""
        if not self.dir.is_dir():
            return
        for entry in sorted(self.dir.iterdir()):
            if SESSION_ID.fullmatch(entry.name) and entry.is_file():
                yield entry.name
