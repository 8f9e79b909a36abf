"""The serve journal: `tau serve`'s sessions on disk, so a restarted server lists them, answers for them, replays
their events and continues them.

Layout, under `<state dir>/serve/<session id>/` (beside the `FileSessionStore` the runs commit to):
- `session.json`: the session's RPC state as `registry.session_record` writes it (job config without secrets,
  bootstrap context, labels, status, runs and their idempotency keys, pending requests and the answers given so
  far, queued context, usage, times), compact JSON (`jq` reads it). Replaced atomically (temp file, rename)
  whenever it changes outside the event flow: CreateSession, ForkSession, InjectContext (queued), Respond, a run's
  start and its end.
- `events.log`: every `RunResponse` of the session's event log, appended as the log appends it: records of a
  4-byte big-endian length and the message's bytes; a torn last record is cut off on load, and events beyond the
  bounded log's capacity (StreamEvents could no longer serve them) are dropped from the file then. The `event_json`
  of events written before the v2 event vocabulary is read as v2 (`tau.protocol.parse_event`).
Neither is fsynced: the journal survives the server's crash or SIGKILL (the kernel has the bytes), not the
machine's; the snapshots, which carry the work itself, are fsynced by the store.

Failures never take the server down: a journal that cannot be written is reported once on stderr and the session
goes on in memory; a session directory that cannot be read is skipped at load with one line saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from google.protobuf.message import DecodeError

from tau.errors import PreflightError
from tau.protocol import parse_event
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.events import event_json
from tau.sessions.errors import StoreWriteError
from tau.sessions.objects import write_durably

RECORD_VERSION = 1
_LENGTH = struct.Struct(">I")
_SESSION_FILE = "session.json"
_EVENTS_FILE = "events.log"
_TMP_DIR = ".tmp"
_LOCK_FILE = ".lock"
_SESSION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # a store session id: one path component


@dataclass(frozen=True)
class Stored:
    """One session as the journal holds it: its `session.json` record and its events (oldest first)."""

    session_id: str
    record: dict[str, Any]
    events: list[pb.RunResponse]


class ServeJournal:
    """Reads and writes the serve journal under `root` (`<state dir>/serve`). One server per journal: `open` takes
    an exclusive lock (`serve/.lock`, freed by the kernel when the process dies) that `close` releases."""

    shared = False  # one server per journal (rpc.pg_journal's is shared by several front ends)

    def __init__(self, root: Path) -> None:
        self.root = root
        self._warned = False
        self._lock: BinaryIO | None = None

    def open(self) -> None:
        """Lock the journal for this process. PreflightError when another live server holds it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / _LOCK_FILE, "a+b")  # noqa: SIM115 - held until close()
        except OSError as error:
            raise PreflightError(f"cannot open the serve journal {self.root}: {error}") from None
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().decode(errors="replace").strip() or "?"
            lock.close()
            raise PreflightError(
                f"another tau serve (pid {holder}) is using the state directory {self.root.parent}: "
                "give this one its own --state-dir"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()).encode())
        lock.flush()
        self._lock = lock

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None

    def next_ordinal(self, last: int) -> int:
        """The listing ordinal of a new session (after `last`, the highest this server knows)."""
        return last + 1

    def save(self, session_id: str, record: Mapping[str, Any]) -> None:
        """Replace the session's `session.json` atomically."""
        data = json.dumps({"version": RECORD_VERSION, **record}, separators=(",", ":")).encode()
        try:
            (self.root / _TMP_DIR).mkdir(parents=True, exist_ok=True)
            (self.root / session_id).mkdir(exist_ok=True)
            write_durably(self.root / session_id / _SESSION_FILE, data, self.root / _TMP_DIR, durable=False)
        except (OSError, StoreWriteError) as error:
            self._warn(error)

    def append(self, session_id: str, item: pb.RunResponse) -> None:
        """Append one event to the session's `events.log`."""
        self.append_raw(session_id, item.SerializeToString())

    def append_raw(self, session_id: str, raw: bytes) -> None:
        """Append one serialized `RunResponse` (as the event log keeps it) to the session's `events.log`."""
        view = memoryview(_LENGTH.pack(len(raw)) + raw)
        try:
            fd = os.open(self.root / session_id / _EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            self._warn(error)
            return
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # a partial record would misframe every later one
            self._warn(error)
        finally:
            os.close(fd)

    def trim(self, session_id: str, keep: Sequence[pb.RunResponse]) -> None:
        """Replace the session's `events.log` with `keep` (the events its bounded log still holds) atomically."""
        data = b"".join(_LENGTH.pack(len(raw)) + raw for raw in (item.SerializeToString() for item in keep))
        try:
            (self.root / _TMP_DIR).mkdir(parents=True, exist_ok=True)
            write_durably(self.root / session_id / _EVENTS_FILE, data, self.root / _TMP_DIR, durable=False)
        except (OSError, StoreWriteError) as error:
            self._warn(error)

    def remove(self, session_id: str) -> None:
        shutil.rmtree(self.root / session_id, ignore_errors=True)

    def load(self) -> Iterator[Stored]:
        """Every readable session, in no particular order; unreadable ones are reported on stderr and skipped."""
        try:
            directories = sorted(self.root.iterdir()) if self.root.is_dir() else []
        except OSError as error:
            report(f"cannot read the serve journal {self.root}: {error} (no sessions restored)")
            return
        for directory in directories:
            if directory.name == _TMP_DIR or not directory.is_dir():
                continue
            try:
                record = json.loads((directory / _SESSION_FILE).read_text(encoding="utf-8"))
                if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
                    raise ValueError(f"not a version-{RECORD_VERSION} session record")
                if record.get("session_id") != directory.name:
                    raise ValueError("its session_id does not match the directory")
                events = _read_events(directory / _EVENTS_FILE)
            except (OSError, ValueError, DecodeError) as error:
                report(f"skipping journal {directory}: {error}")
                continue
            yield Stored(directory.name, record, events)

    def _warn(self, error: BaseException) -> None:
        if not self._warned:
            self._warned = True
            report(f"cannot write the session journal under {self.root}: {error} (sessions go on in memory)")


def _read_events(path: Path) -> list[pb.RunResponse]:
    """The complete records of `events.log`; a torn tail (a crash mid-append) is cut off the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    events: list[pb.RunResponse] = []
    offset = 0
    while offset + _LENGTH.size <= len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        end = offset + _LENGTH.size + size
        if end > len(data):
            break
        events.append(_current(pb.RunResponse.FromString(data[offset + _LENGTH.size : end])))
        offset = end
    if offset != len(data):
        with open(path, "r+b") as file:
            file.truncate(offset)
            os.fsync(file.fileno())
    return events


def _current(item: pb.RunResponse) -> pb.RunResponse:
    """The stored event with its `event_json` in the current vocabulary (a journal written by a tau before the v2
    event names is read as v2, so a replay never mixes the two); a line that does not parse is kept as it is."""
    if item.event_json:
        with contextlib.suppress(ValueError):
            item.event_json = event_json(parse_event(item.event_json))
    return item


def journaled(state: Path, session_id: str) -> bool:
    """Whether the serve journal under the state directory `state` holds `session_id` (read-only, no lock: a running
    server holds it). `tau mail send` accepts such a session even before its first run committed anything."""
    return bool(_SESSION_NAME.fullmatch(session_id)) and (state / "serve" / session_id / _SESSION_FILE).is_file()


def report(text: str) -> None:
    """One line on stderr, as `tau serve` says things."""
    sys.stderr.write(f"tau serve: {text}\n")
    sys.stderr.flush()
