"""Content-addressed, write-once objects and the durable file write they (and refs) rely on.

Layout: `<root>/objects/ab/cdef…` where `abcdef…` is the sha256 (hex) of the object's canonical bytes. On disk an
object is either those bytes verbatim (JSON a person can read with `cat`) or, when the store was opened with
`compress=True`, a zlib stream of them; readers tell the two apart by the first byte (canonical JSON never starts
with 0x78 `x`, every zlib stream here does), so one store may hold both. The hash is always of the uncompressed bytes.

Invariants:
- an object file is complete or absent: bytes go to `<root>/tmp/<unique>`, are fsynced, then renamed into place, and
  the fan-out directory is fsynced (and `objects/` too when the fan-out directory is new);
- an object is never rewritten: `put` of bytes already present is a no-op;
- every read verifies the hash, so truncation or a flipped bit surfaces as `CorruptObjectError` naming the path.
A crash can leave a stray file in `tmp/` or an unreferenced object; `gc` removes both, `fsck` ignores them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

from tau.sessions.errors import CorruptObjectError, StoreWriteError

OBJECT_ID = re.compile(r"[0-9a-f]{64}")
_ZLIB_FIRST_BYTE = 0x78


def digest(data: bytes) -> str:
    """The object id of `data` (its canonical, uncompressed bytes)."""
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, data: bytes, tmp_dir: Path, *, durable: bool = True) -> None:
    """Atomically replace `target` with `data`: temp file in `tmp_dir`, write, fsync, rename, fsync the directory.

    On any OSError the temp file is removed and `StoreWriteError` raised; `target` is untouched.
    """
    tmp = tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreWriteError(target, error) from error


def decode_stored(raw: bytes) -> bytes:
    """The canonical bytes of an object file's content (inflating it when it is compressed)."""
    if raw[:1] == bytes([_ZLIB_FIRST_BYTE]):
        return zlib.decompress(raw)
    return raw


class ObjectStore:
    """The `objects/` directory of a state dir: put bytes, get them back verified, list what is there."""

    def __init__(self, root: Path, *, compress: bool = False, durable: bool = True) -> None:
        self.root = root
        self.dir = root / "objects"
        self.tmp_dir = root / "tmp"
        self.compress = compress
        self.durable = durable
        self._fanouts: set[str] = set()
        self._dir_str = str(self.dir)

    def ensure_dirs(self) -> None:
        for directory in (self.dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def path(self, object_id: str) -> Path:
        return self.dir / object_id[:2] / object_id[2:]

    def exists(self, object_id: str) -> bool:
        return self.path(object_id).is_file()

    def put(self, data: bytes) -> str:
        """Store `data` (canonical bytes) once; return its id."""
        object_id = digest(data)
        target = self.path(object_id)
        if target.exists():
            with contextlib.suppress(OSError):
                os.utime(target)  # freshen: gc's grace period protects objects a commit is about to reference
            return object_id
        self._ensure_fanout(object_id[:2])
        payload = zlib.compress(data, 6) if self.compress else data
        write_durably(target, payload, self.tmp_dir, durable=self.durable)
        return object_id

    def put_verified(self, object_id: str, data: bytes) -> None:
        """Store `data` that must hash to `object_id` (bundle import)."""
        if digest(data) != object_id:
            raise CorruptObjectError(self.path(object_id), "content does not match its name")
        self.put(data)

    def get(self, object_id: str) -> bytes:
        """The canonical bytes of `object_id`, verified; `CorruptObjectError` naming the path otherwise."""
        # str paths, not pathlib: this is the hot loop of a resume (thousands of objects)
        try:
            with open(f"{self._dir_str}/{object_id[:2]}/{object_id[2:]}", "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise CorruptObjectError(self.path(object_id), "object is missing") from None
        except OSError as error:
            raise CorruptObjectError(self.path(object_id), f"unreadable: {error.strerror}") from error
        return self.verify(object_id, raw)

    def verify(self, object_id: str, raw: bytes) -> bytes:
        try:
            data = decode_stored(raw)
        except zlib.error:
            raise CorruptObjectError(self.path(object_id), "compressed object is truncated or corrupt") from None
        if hashlib.sha256(data).hexdigest() != object_id:
            problem = f"hash mismatch ({len(raw)} bytes on disk; truncated or bit-flipped)"
            raise CorruptObjectError(self.path(object_id), problem)
        return data

    def ids(self) -> Iterator[str]:
        """Every object id present (by file name; contents are not read)."""
        if not self.dir.is_dir():
            return
        for fanout in sorted(self.dir.iterdir()):
            if len(fanout.name) != 2 or not fanout.is_dir():
                continue
            for entry in sorted(fanout.iterdir()):
                object_id = fanout.name + entry.name
                if OBJECT_ID.fullmatch(object_id):
                    yield object_id

    def stray_files(self) -> Iterator[Path]:
        """Files under `objects/` that are not named like objects (left by hand or by another tool)."""
        if not self.dir.is_dir():
            return
        for fanout in sorted(self.dir.iterdir()):
            entries = sorted(fanout.iterdir()) if fanout.is_dir() else [fanout]
            for entry in entries:
                if not OBJECT_ID.fullmatch(fanout.name + entry.name) or not entry.is_file():
                    yield entry

    def remove(self, object_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(object_id).unlink()

    def _ensure_fanout(self, prefix: str) -> None:
        if prefix in self._fanouts:
            return
        fanout = self.dir / prefix
        if not fanout.is_dir():
            try:
                fanout.mkdir(parents=True, exist_ok=True)
                if self.durable:
                    fsync_dir(self.dir)
            except OSError as error:
                raise StoreWriteError(fanout, error) from error
        self._fanouts.add(prefix)
