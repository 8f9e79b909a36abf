"""ConfinedFiles: the file operations of a workspace, acting only on fds resolved beneath its root.

Owns: read, write, stat, list, make_dir, remove and exists on one directory tree, for the host backend and for the
host side of the docker backend's bind mount. Synchronous (backends run it in a worker thread). Paths come in and
go out in the *shown* space: the host path for the host backend, the container path for the docker backend
(`shown_root` is where the root appears; absolute symlink targets are read relative to it as well).

Invariants:
- Every operation resolves its path with `tau.environment.beneath` (openat2 / component walk from the root fd) and
  then acts on fds and `*at` calls relative to the resolved parent, so a symlink swapped during the call cannot
  redirect it. Leaving the root is `PermissionError("path escapes the workspace: <path> is outside <root>")`.
- Writes replace atomically: a temp file made with O_EXCL beside the target, written, renamed over it. A hard link
  to an outside file is therefore replaced, never written through; an existing target keeps its permission bits
  (setuid/setgid dropped) and, where allowed, its owner. No fsync (the previous in-place write had none either).
- `remove` unlinks the entry itself via its parent fd (a final symlink is removed, never followed); the root and its
  ancestors are a `ValueError` before any confinement check (the upstream contract).
- Deny masks: `deny_read` covers reading, stat-ing, listing and `exists` (PermissionError "... is denied by a Read
  rule"), checked on the path as written (so a missing covered path is refused, not reported missing) and on the
  real path reached; `list_dir` omits covered entries (a symlink also when its target is covered); `deny_write(real)`
  refuses write, make_dir and remove (of a tree holding a covered path too). `real` is the host path actually taken.
- Paths with a NUL byte or that cannot be encoded are `OSError(EINVAL)`; a relative path is a `ValueError`. OS
  errors name the path as given. A missing root is `WorkspaceUnavailableError`.
- `user` (uid, gid), for the docker backend when tau is root: what the backend creates is given to that user, and
  reads and writes of existing files are refused when that user's permission bits would refuse them.

Contract with neighbours: `HostBackend` and `DockerBackend` delegate their file operations here.
"""

from __future__ import annotations

import errno
import os
import posixpath
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from pydantic_ai.workspaces import FileEntry, WorkspaceUnavailableError

from tau.confine import inside, normalise
from tau.environment.beneath import Beneath, EscapeError, MissingError, Slot
from tau.environment.policy import DenyRead

__all__ = ["ConfinedFiles"]

_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class ConfinedFiles:
    """File operations on the tree under `root`.

    Args:
        root: The host directory (absolute, symlinks resolved).
        shown_root: Where callers see the root (default `root`); paths in and out, and absolute link targets, use it.
        explain: Where a shown path really leads, for messages and for absolute aliases of the root (a query, never
            trusted for access). Default: `os.path.realpath` when the shown space is the host's.
        deny_read / deny_write: Predicates on real host paths (None: nothing masked / nothing read-only).
        user: (uid, gid) to give created files to and to check permission bits for (gid -1: keep the group).
        kernel: Use the openat2 fast path where the kernel has it.
    """

    def __init__(
        self,
        root: str,
        *,
        shown_root: str | None = None,
        explain: Callable[[str], str] | None = None,
        deny_read: DenyRead | None = None,
        deny_write: DenyRead | None = None,
        user: tuple[int, int] | None = None,
        kernel: bool = True,
    ) -> None:
        self.root = root
        self.shown_root = shown_root or root
        self._explain = explain or (os.path.realpath if self.shown_root == root else normalise)
        self._deny_read = deny_read
        self._deny_write = deny_write
        self._user = user if user is not None and user[0] != 0 and os.geteuid() == 0 else None
        self._beneath = Beneath(root, anchor=self.shown_root, kernel=kernel)

    # Paths and messages ---------------------------------------------------------------------------------------

    def _shown(self, real: str) -> str:
        rest = real[len(self.root) :].lstrip("/") if inside(real, self.root) else ""
        return posixpath.join(self.shown_root, rest) if rest else self.shown_root

    def _escape(self, path: str, why: EscapeError | None = None) -> PermissionError:
        try:
            resolved = self._explain(path)
        except (OSError, ValueError):
            resolved = path
        if why is not None and why.target.startswith("the /proc magic link"):
            return PermissionError(f"path escapes the workspace: {path} goes through {why.target}")
        shown = path if resolved == normalise(path) else f"{path} (resolves to {resolved})"
        return PermissionError(f"path escapes the workspace: {shown} is outside {self.shown_root}")

    def parts(self, path: str) -> list[str]:
        """The root-relative names of a shown path, or the escape / invalid-path error."""
        if not posixpath.isabs(path):
            raise ValueError(f"path must be absolute, got {path!r}")
        if "\x00" in path:
            raise OSError(errno.EINVAL, "invalid path: it contains a NUL byte", path.replace("\x00", "\\0"))
        try:
            os.fsencode(path)
        except UnicodeError:
            raise OSError(errno.EINVAL, "invalid path: it is not valid text", ascii(path)) from None
        lexical = normalise(path)
        if not inside(lexical, self.shown_root):
            alias = self._explain(path)  # an absolute alias of the root (a symlink to it from outside) is fine
            if not inside(alias, self.shown_root):
                raise self._escape(path)
            lexical = alias
        rest = lexical[len(self.shown_root) :]
        return [part for part in rest.split("/") if part]

    def _open(self, root_fd: int, parts: list[str], flags: int, path: str) -> tuple[int, str]:
        """`Beneath.open`, with a missing path refused as well when a Read rule covers where it would be."""
        try:
            return self._beneath.open(root_fd, parts, flags)
        except MissingError as error:
            self._readable(str(error.filename), path)
            raise

    def _reading(self, path: str) -> list[str]:
        """`parts(path)`, refused up front when a Read rule covers the path as written (so a covered path that does
        not exist is refused too, not reported missing); the real path is checked again once resolved."""
        parts = self.parts(path)
        self._readable(os.path.join(self.root, *parts), path)
        return parts

    @contextmanager
    def _named(self, path: str) -> Iterator[None]:
        """Errors from `*at` calls name a component; name the caller's path instead. Escapes get the message."""
        try:
            yield
        except EscapeError as error:
            raise self._escape(path, error) from None
        except OSError as error:
            if error.errno is None or error.filename == path:
                raise
            raise type(error)(error.errno, error.strerror, path) from None

    @contextmanager
    def _root_fd(self) -> Iterator[int]:
        try:
            fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError) as error:
            raise WorkspaceUnavailableError(f"workspace directory {self.shown_root} does not exist") from error
        try:
            yield fd
        finally:
            os.close(fd)

    def _readable(self, real: str, path: str) -> None:
        if self._deny_read is not None and self._deny_read(real):
            raise PermissionError(f"{self._via(path, real)} is denied by a Read rule")

    def _writable(self, real: str, path: str) -> None:
        if self._deny_write is not None and self._deny_write(real):
            raise PermissionError(f"{self._via(path, real)} is denied by an Edit rule")

    def _via(self, path: str, real: str) -> str:
        shown = self._shown(real)
        return path if shown == normalise(path) else f"{path} (resolves to {shown})"

    def _may(self, info: os.stat_result, want: int, path: str) -> None:
        """As `user`, refuse what its owner/group/other bits refuse (tau itself is root and would not be)."""
        if self._user is None:
            return
        uid, gid = self._user
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
        if not (info.st_mode >> shift) & want:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    def _give(self, fd: int) -> None:
        if self._user is not None:
            os.fchown(fd, self._user[0], self._user[1])

    # Operations -------------------------------------------------------------------------------------------------

    def read_bytes(self, path: str) -> bytes:
        with self._named(path):
            parts = self._reading(path)
            with self._root_fd() as root_fd:
                fd, real = self._open(root_fd, parts, os.O_RDONLY | os.O_NONBLOCK, path)
            try:
                self._readable(real, path)
                info = os.fstat(fd)  # checked before wrapping: FileIO refuses a directory fd itself
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
                if not stat.S_ISREG(info.st_mode):
                    raise OSError(f"not a regular file: {path!r}")
                self._may(info, os.R_OK, path)
                with open(fd, "rb", closefd=False) as file:
                    return file.read()
            finally:
                os.close(fd)

    def _object(self, path: str) -> tuple[os.stat_result, str]:
        """stat (following symlinks) and real path of what `path` names, checked against the read masks."""
        parts = self._reading(path)
        with self._root_fd() as root_fd:
            fd, real = self._open(root_fd, parts, os.O_PATH, path)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        self._readable(real, path)
        return info, real

    def stat(self, path: str) -> FileEntry:
        with self._named(path):
            info, _ = self._object(path)
        is_dir = stat.S_ISDIR(info.st_mode)
        name = posixpath.basename(normalise(path))
        return FileEntry(name=name, path=path, is_dir=is_dir, size=None if is_dir else info.st_size)

    def exists(self, path: str) -> bool:
        try:
            with self._named(path):
                self._object(path)
        except OSError as error:
            if error.errno in _MISSING:
                return False
            raise
        return True

    def list_dir(self, path: str) -> list[FileEntry]:
        with self._named(path):
            parts = self._reading(path)
            with self._root_fd() as root_fd:
                fd, real = self._open(root_fd, parts, os.O_PATH, path)
                try:
                    self._readable(real, path)
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
                    listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                finally:
                    os.close(fd)
                try:
                    with os.scandir(listing) as scan:
                        children = sorted(scan, key=lambda child: child.name)
                    entries = [self._entry(root_fd, child, path, real) for child in children]
                finally:
                    os.close(listing)
        return [entry for entry in entries if entry is not None]

    def _entry(self, root_fd: int, child: os.DirEntry[str], path: str, real: str) -> FileEntry | None:
        """One listed child, or None when a Read rule covers it (or the target of the symlink it is)."""
        child_real = os.path.join(real, child.name)
        if self._deny_read is not None and self._deny_read(child_real):
            return None
        shown = posixpath.join(path, child.name)
        if child.is_symlink():
            return self._link_entry(root_fd, child_real, shown)
        try:
            is_dir = child.is_dir(follow_symlinks=False)
            size = None if is_dir else child.stat(follow_symlinks=False).st_size
        except OSError:
            is_dir, size = False, None
        return FileEntry(name=child.name, path=shown, is_dir=is_dir, size=size)

    def _link_entry(self, root_fd: int, link_real: str, shown: str) -> FileEntry | None:
        """A symlink entry described by its target when that stays inside (else: not a directory, no size)."""
        name = posixpath.basename(shown)
        parts = [part for part in link_real[len(self.root) :].split("/") if part]
        try:
            fd, real = self._beneath.open(root_fd, parts, os.O_PATH)
        except OSError:  # broken, a loop, or leading outside
            return FileEntry(name=name, path=shown, is_dir=False, size=None)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if self._deny_read is not None and self._deny_read(real):
            return None
        is_dir = stat.S_ISDIR(info.st_mode)
        return FileEntry(name=name, path=shown, is_dir=is_dir, size=None if is_dir else info.st_size)

    def write_bytes(self, path: str, data: bytes) -> None:
        with self._named(path):
            parts = self.parts(path)
            with self._root_fd() as root_fd:
                slot = self._beneath.slot(
                    root_fd, parts, follow_last=True, creating=lambda real: self._writable(real, path), owner=self._user
                )
            try:
                if not slot.name:
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
                self._writable(slot.real, path)
                self._replace(slot, path, data)
            finally:
                os.close(slot.dir_fd)

    def _replace(self, slot: Slot, path: str, data: bytes) -> None:
        try:
            info: os.stat_result | None = os.stat(slot.name, dir_fd=slot.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISLNK(info.st_mode):
            info = None  # swapped in since the walk: the link itself is replaced, never written through
        if info is not None:
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"not a regular file: {path!r}")
            self._may(info, os.W_OK, path)
            if not os.access(slot.name, os.W_OK, dir_fd=slot.dir_fd, effective_ids=True, follow_symlinks=False):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        temp = f".tau-{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o666 if info is None else 0o600, dir_fd=slot.dir_fd)
        try:
            with open(fd, "wb", closefd=False) as file:
                file.write(data)
            if info is None:
                self._give(fd)
            else:
                os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
                with suppress(PermissionError):
                    os.fchown(fd, info.st_uid, info.st_gid)
            os.close(fd)
            fd = -1
            os.rename(temp, slot.name, src_dir_fd=slot.dir_fd, dst_dir_fd=slot.dir_fd)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with suppress(OSError):
                os.unlink(temp, dir_fd=slot.dir_fd)
            raise

    def make_dir(self, path: str) -> None:
        with self._named(path):
            parts = self.parts(path)
            with self._root_fd() as root_fd:
                fd, _ = self._beneath.make_dirs(root_fd, parts, lambda real: self._writable(real, path), self._user)
            os.close(fd)

    def remove(self, path: str) -> None:
        if posixpath.isabs(path) and inside(self.shown_root, normalise(path)):
            raise ValueError("cannot remove the workspace root or its ancestor")
        with self._named(path):
            parts = self.parts(path)
            with self._root_fd() as root_fd:
                slot = self._beneath.slot(root_fd, parts, follow_last=False)
            try:
                if not slot.name:
                    raise ValueError("cannot remove the workspace root or its ancestor")
                info = os.stat(slot.name, dir_fd=slot.dir_fd, follow_symlinks=False)
                self._writable(slot.real, path)
                if not stat.S_ISDIR(info.st_mode):
                    os.unlink(slot.name, dir_fd=slot.dir_fd)
                    return
                self._check_tree(slot, path)
                shutil.rmtree(slot.name, dir_fd=slot.dir_fd)
            finally:
                os.close(slot.dir_fd)

    def _check_tree(self, slot: Slot, path: str) -> None:
        """Refuse removing a directory that holds a path an Edit rule keeps (nothing removed then)."""
        deny = self._deny_write
        if deny is None:
            return
        for directory, dirs, files, _ in os.fwalk(slot.name, dir_fd=slot.dir_fd, follow_symlinks=False):
            for name in dirs + files:
                real = os.path.join(os.path.dirname(slot.real), directory, name)
                if deny(real):
                    raise PermissionError(f"{path} holds {self._shown(real)}, which is denied by an Edit rule")
