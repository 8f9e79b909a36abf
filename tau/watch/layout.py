"""The on-disk state machine of `tau watch`: inbox -> processing/ -> done/ | failed/, every transition a rename.

    DIR/report.md                          waiting (the inbox: direct children named `*.md`, no dotfiles)
    DIR/processing/report/report.md        claimed: one atomic rename of the job file into its job directory
    DIR/processing/report/events.jsonl     the run's events as `--output stream-json` lines, written as they happen
    DIR/processing/report/result.json      the `--output json` object, written atomically when the run has ended
    DIR/processing/report/session_id       the run's session id (one line)
    DIR/processing/report/error.txt        why it failed (one line; failures only)
    DIR/done/report/...                    committed with exit code 0: the job directory renamed as a whole
    DIR/failed/report/...                  committed with any other exit code, a config error, or interrupted

Invariants:
- The inbox file disappears exactly when its job directory appears in `processing/` (`os.rename`), so a job is run at
  most once. `result.json` exists only once the run has ended (temp file + fsync + rename). Committing moves the whole
  job directory: with `done/`/`failed/` on another filesystem it is copied to a hidden temp name, renamed into place,
  and the source removed; a `.commit-to` marker written first makes that resumable.
- Recovery (`recover`, at start, under the lock) is idempotent: a directory with a `.commit-to` marker finishes its
  commit; one holding `result.json` is committed by its exit code; one holding only the job file was interrupted
  mid-run and goes to `failed/` with reason `interrupted` (not re-run); an empty one (a claim cut short before the
  rename) is removed — its job is still in the inbox.
- Names in `done/`/`failed/` never collide: `report`, then `report.2`, `report.3`, ...
- One watcher per inbox: `locked()` holds an exclusive `flock` on `DIR/.tau-watch.lock` (released by the kernel when
  the process dies, even by SIGKILL); a second watcher gets a ConfigError.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.errors import ConfigError

JOB_SUFFIX = ".md"
LOCK_NAME = ".tau-watch.lock"
COMMIT_MARKER = ".commit-to"
EVENTS = "events.jsonl"
RESULT = "result.json"
SESSION_ID = "session_id"
ERROR = "error.txt"


def is_job_name(name: str) -> bool:
    """`*.md`, not hidden (`.x.md`, editor and temp files like `.x.md.tmp`), not an editor lock/backup."""
    return (
        name.endswith(JOB_SUFFIX)
        and len(name) > len(JOB_SUFFIX)
        and not name.startswith((".", "#", "~"))
        and not name.endswith("~")
    )


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never a part."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class JobDir:
    """One job's directory (in processing/, done/ or failed/) and the files it holds."""

    path: Path

    @property
    def job_file(self) -> Path | None:
        found = sorted(p for p in self.path.iterdir() if is_job_name(p.name))
        return found[0] if found else None

    @property
    def events(self) -> Path:
        return self.path / EVENTS

    @property
    def result(self) -> Path:
        return self.path / RESULT

    def read_result(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_outcome(self, result: Mapping[str, Any], *, session_id: str, error: str | None) -> None:
        """Session id and error first, `result.json` last: its presence means the run has ended."""
        if session_id:
            write_atomic(self.path / SESSION_ID, session_id + "\n")
        if error:
            write_atomic(self.path / ERROR, " ".join(error.split()) + "\n")
        write_atomic(self.result, json.dumps(dict(result), ensure_ascii=False, default=str) + "\n")


@dataclass(frozen=True)
class Recovered:
    """What recovery did with one leftover of `processing/`."""

    name: str
    action: str  # "committed" | "interrupted" | "removed"
    destination: Path | None


class WatchLayout:
    def __init__(self, inbox: Path, *, done: Path | None = None, failed: Path | None = None) -> None:
        self.inbox = inbox
        self.processing = inbox / "processing"
        self.done = done if done is not None else inbox / "done"
        self.failed = failed if failed is not None else inbox / "failed"

    def ensure(self) -> None:
        """The inbox must be a directory; processing/, done/ and failed/ are created. ConfigError (one line) when
        that cannot be: a missing inbox, a file where a directory should be, a read-only filesystem."""
        if not self.inbox.is_dir():
            problem = "does not exist" if not self.inbox.exists() else "is not a directory"
            raise ConfigError(f"{self.inbox} {problem}", source="tau watch", field="DIR")
        for directory in (self.processing, self.done, self.failed):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                why = error.strerror or str(error)
                raise ConfigError(f"cannot create {directory}: {why}", source="tau watch") from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the inbox's watcher lock (ConfigError if another process holds it, or it cannot be created)."""
        path = self.inbox / LOCK_NAME
        try:
            handle = path.open("a+", encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot open {path}: {error.strerror or error}", source="tau watch") from None
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise ConfigError(f"{self.inbox} is already watched by pid {holder}", source="tau watch") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.close()

    # -- the inbox -----------------------------------------------------------------------------------------------

    def inbox_entries(self) -> list[Path]:
        """Job files waiting in the inbox (regular files only)."""
        entries = []
        with os.scandir(self.inbox) as scan:
            for entry in scan:
                if is_job_name(entry.name) and entry.is_file():
                    entries.append(Path(entry.path))
        return entries

    def claim(self, entry: Path) -> JobDir | None:
        """Move `entry` into its own directory under processing/. None if it vanished or its name is busy."""
        target = self.processing / entry.name.removesuffix(JOB_SUFFIX)
        try:
            target.mkdir()
        except FileExistsError:
            return None  # a job of the same name is running; try again when it has been committed
        try:
            os.rename(entry, target / entry.name)
        except FileNotFoundError:
            target.rmdir()
            return None
        _fsync_dir(self.processing)
        return JobDir(target)

    # -- committing ----------------------------------------------------------------------------------------------

    def commit(self, job: JobDir, *, succeeded: bool) -> Path:
        """Move the finished job directory into done/ (succeeded) or failed/; returns where it went."""
        target = self._free_name(self.done if succeeded else self.failed, job.path.name)
        write_atomic(job.path / COMMIT_MARKER, str(target) + "\n")
        return self._move(job.path, target)

    @staticmethod
    def _free_name(parent: Path, name: str) -> Path:
        candidate, number = parent / name, 1
        while candidate.exists() or (parent / f".{candidate.name}.partial").exists():
            number += 1
            candidate = parent / f"{name}.{number}"
        return candidate

    @staticmethod
    def _move(source: Path, target: Path) -> Path:
        try:
            os.rename(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            partial = target.with_name(f".{target.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial)
            os.rename(partial, target)
            shutil.rmtree(source)
        (target / COMMIT_MARKER).unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return target

    # -- recovery ------------------------------------------------------------------------------------------------

    def recover(self, interrupted: Mapping[str, Any]) -> list[Recovered]:
        """Settle every leftover of processing/ (see the module docstring). `interrupted` is the result object
        written for a job that was cut off mid-run (its `error` explains what happened)."""
        recovered = []
        for path in sorted(p for p in self.processing.iterdir() if p.is_dir()):
            recovered.append(self._recover_one(JobDir(path), interrupted))
        return recovered

    def _recover_one(self, job: JobDir, interrupted: Mapping[str, Any]) -> Recovered:
        name = job.path.name
        marker = job.path / COMMIT_MARKER
        if marker.exists():
            target = Path(marker.read_text(encoding="utf-8").strip())
            if target.exists():
                shutil.rmtree(job.path)
                return Recovered(name, "committed", target)
            return Recovered(name, "committed", self._move(job.path, target))
        if job.job_file is None and not any(job.path.iterdir()):
            job.path.rmdir()
            return Recovered(name, "removed", None)
        result = job.read_result()
        if result is not None:
            return Recovered(name, "committed", self.commit(job, succeeded=result.get("exit_code") == 0))
        session_id = _session_of(job)
        error = str(interrupted.get("error") or "interrupted")
        job.write_outcome({**interrupted, "session_id": session_id}, session_id=session_id, error=error)
        return Recovered(name, "interrupted", self.commit(job, succeeded=False))


def _session_of(job: JobDir) -> str:
    """The session id of a half-run job, from the first event it logged ('' if none)."""
    try:
        with job.events.open(encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (OSError, ValueError):
        return ""
    value = first.get("session_id") if isinstance(first, dict) else None
    return value if isinstance(value, str) else ""
