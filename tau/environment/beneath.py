"""Race-free path resolution beneath one directory: every lookup starts at the root's fd and never leaves it.

Owns: turning a root-relative path into an open file descriptor (or a parent directory fd plus a name) such that
every component was looked up relative to a directory fd already known to be under the root. A symlink swapped in
at any moment can change *which* in-root object is reached, never lead outside: there is no check-then-act on path
strings.

How:
- Fast path: `openat2(root_fd, path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)` (Linux >= 5.6,
  through ctypes; syscall 437 on x86_64 and aarch64). One syscall for the common path without symlinks; the kernel
  refuses `..` above the root, absolute paths, magic links and every symlink. Any failure falls back to the walk
  (it is the one that gives definitive answers and errors); ENOSYS / EPERM (seccomp) / EINVAL / E2BIG switch the
  fast path off for the process.
- Walk: one component at a time with `O_PATH | O_NOFOLLOW` from a stack of directory fds. Symlinks are followed here
  (at most `MAX_LINKS`, then ELOOP): a relative target continues from the link's directory, `..` pops the stack (and
  refuses above the root), an absolute target is read as if the root were mounted at `anchor` (the root itself on the
  host, the mount point for a container's bind mount) and anything else is refused. Links stored on procfs
  (`/proc/self/root`, `/proc/<pid>/cwd`, ...) are refused whatever they point at.

Invariants:
- Every returned fd and `real` path name an object under the root; `real` is the host path the walk actually took
  (symlinks replaced by their targets), which is what deny masks are matched against.
- An escape raises `EscapeError` (a `PermissionError` without errno); callers turn it into their own message.
- `RESOLVE_NO_XDEV` is not used: mount points inside the workspace (volumes, a bind-mounted cache) stay usable.
- Fds the walk opens are closed on every path out; the caller owns what it returns. The root fd is never closed here.

Contract with neighbours: `tau.environment.confined.ConfinedFiles` builds every file operation on this; nothing
else in tau opens workspace paths by name.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_LINKS", "Beneath", "EscapeError", "MissingError", "Slot", "kernel_resolve_available"]

MAX_LINKS = 40
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(platform.machine())
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_PROC_SUPER_MAGIC = 0x9FA0
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG})
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC

Creating = Callable[[str], None]
"""Called with the real path a create will end at, before the first directory is made (raise to refuse)."""


class EscapeError(PermissionError):
    """The path leaves the root (through `..`, an absolute or magic symlink); `target` says where it was headed."""

    def __init__(self, target: str) -> None:
        super().__init__(f"leaves the root towards {target}")
        self.target = target


class MissingError(FileNotFoundError):
    """What `Beneath.open` raises for a missing path: `filename` is the real path it would have had (where the walk
    stopped, plus the names still to go), so masks can be matched against a path that does not exist."""


@dataclass
class Slot:
    """A directory entry to act on: `dir_fd` (owned by the caller) and `name` in it; `real` is its host path.

    `name` is empty when the entry is the directory `dir_fd` itself (the path named the root, or ended in `..`).
    """

    dir_fd: int
    name: str
    real: str


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _Kernel:
    """openat2 and fstatfs through libc's `syscall`, with openat2 switched off once the kernel refuses it."""

    def __init__(self) -> None:
        self.libc: ctypes.CDLL | None = None
        self.openat2 = _SYS_OPENAT2 is not None
        try:
            self.libc = ctypes.CDLL(None, use_errno=True)
            self.libc.syscall.restype = ctypes.c_long
        except (OSError, AttributeError):  # no libc to call: the walk does everything
            self.openat2 = False

    def open_beneath(self, dir_fd: int, path: bytes, flags: int) -> int | None:
        """An fd for `path` resolved strictly beneath `dir_fd` without any symlink, or None (use the walk)."""
        if not self.openat2 or self.libc is None:
            return None
        how = _OpenHow(flags | os.O_CLOEXEC, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS | _RESOLVE_NO_SYMLINKS)
        fd = int(self.libc.syscall(_SYS_OPENAT2, dir_fd, path, ctypes.byref(how), ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        if ctypes.get_errno() in _UNSUPPORTED:
            self.openat2 = False
        return None

    def on_procfs(self, fd: int) -> bool:
        """Whether `fd` lives on procfs (where symlinks are magic). Unknown (no libc) counts as no."""
        if self.libc is None:
            return False
        buffer = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
        if self.libc.fstatfs(fd, buffer) != 0:
            return False
        return ctypes.c_long.from_buffer(buffer).value == _PROC_SUPER_MAGIC


_KERNEL = _Kernel()


def kernel_resolve_available() -> bool:
    """Whether the openat2 fast path is in use (False before the first call on a kernel that lacks it)."""
    return _KERNEL.openat2


def _names(parts: deque[str]) -> list[str]:
    return [part for part in parts if part not in ("", ".")]


class _Walk:
    """One resolution in progress: a stack of directory fds from the root, their names, the parts still to go."""

    def __init__(self, tree: Beneath, root_fd: int, parts: list[str]) -> None:
        self.tree = tree
        self.fds = [root_fd]  # fds[0] belongs to the caller
        self.names: list[str] = []
        self.parts = deque(parts)
        self.links = 0
        self.name = ""  # the name being looked up

    @property
    def cur(self) -> int:
        return self.fds[-1]

    def real(self, name: str = "") -> str:
        return os.path.join(self.tree.root, *self.names, name) if (self.names or name) else self.tree.root

    def close(self) -> None:
        for fd in self.fds[1:]:
            os.close(fd)
        del self.fds[1:]
        self.names.clear()

    def next_name(self) -> str | None:
        """The next plain name to look up (`..` and `.` are applied here), or None when the path is used up."""
        while self.parts:
            name = self.parts.popleft()
            if name in ("", "."):
                continue
            if name != "..":
                self.name = name
                return name
            if self.names:
                os.close(self.fds.pop())
                self.names.pop()
            elif self.tree.root != "/":
                raise EscapeError(os.path.dirname(self.tree.root))
        return None

    def missing(self) -> str:
        """The real path a lookup that just failed would have reached (no symlinks followed past the failure)."""
        return os.path.join(self.real(self.name), *_names(self.parts))

    def is_last(self) -> bool:
        return not _names(self.parts)

    def follow(self, name: str) -> None:
        """Replace the symlink `name` (in the current directory) by its target in the parts still to resolve."""
        self.links += 1
        if self.links > MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        if _KERNEL.on_procfs(self.cur):
            raise EscapeError(f"the /proc magic link {self.real(name)}")
        target = os.readlink(name, dir_fd=self.cur)
        pieces = target.split("/")
        if target.startswith("/"):
            anchored = self.tree.anchored(target)
            if anchored is None:
                raise EscapeError(target)
            self.close()
            pieces = anchored
        self.parts.extendleft(reversed(pieces))

    def enter(self, name: str, creating: Creating | None, owner: tuple[int, int] | None) -> None:
        """Step into the directory `name` (following it if it is a symlink; making it if missing and `creating`)."""
        try:
            fd = os.open(name, _PATH, dir_fd=self.cur)
        except FileNotFoundError:
            if creating is None:
                raise
            self.make(name, creating, owner)
            fd = os.open(name, _PATH, dir_fd=self.cur)
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            self.fds.append(fd)
            self.names.append(name)
            return
        os.close(fd)
        if not stat.S_ISLNK(mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        self.follow(name)

    def make(self, name: str, creating: Creating, owner: tuple[int, int] | None) -> None:
        rest = list(self.parts)
        if ".." in rest:  # `missing/..` cannot be walked by the kernel either
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        creating(os.path.join(self.real(name), *_names(deque(rest))))
        try:
            os.mkdir(name, 0o777, dir_fd=self.cur)
        except FileExistsError:
            return  # made meanwhile: open it as it is
        if owner is not None:
            os.chown(name, owner[0], owner[1], dir_fd=self.cur, follow_symlinks=False)


class Beneath:
    """Resolution of root-relative paths to fds under `root` (an absolute real host path).

    Args:
        root: The directory nothing may leave (symlinks in it already resolved).
        anchor: Where absolute symlink targets are read from: the root appears at `anchor` (default `root`).
        kernel: Use the openat2 fast path when the kernel has it (False: always walk, for tests and comparisons).
    """

    def __init__(self, root: str, *, anchor: str | None = None, kernel: bool = True) -> None:
        self.root = root
        self.anchor = anchor or root
        self._anchor_parts = [part for part in self.anchor.split("/") if part]
        self.kernel = kernel

    def anchored(self, target: str) -> list[str] | None:
        """The root-relative parts of an absolute link target, or None when it does not lead under the anchor."""
        at: list[str] = []
        parts = target.split("/")
        for index, part in enumerate(parts):
            if at == self._anchor_parts:
                return parts[index:]
            if part in ("", "."):
                continue
            if part == "..":
                at = at[:-1]
                continue
            at.append(part)
            if at != self._anchor_parts[: len(at)]:
                return None
        return [] if at == self._anchor_parts else None

    def _fast(self, root_fd: int, parts: list[str], flags: int) -> int | None:
        if not (self.kernel and parts):
            return None
        return _KERNEL.open_beneath(root_fd, os.fsencode("/".join(parts)), flags)

    def _parent_fast(self, root_fd: int, parts: list[str]) -> int | None:
        if not (self.kernel and parts):
            return None
        if len(parts) == 1:
            return os.dup(root_fd)
        return self._fast(root_fd, parts[:-1], os.O_PATH | os.O_DIRECTORY)

    def open(self, root_fd: int, parts: list[str], flags: int) -> tuple[int, str]:
        """Open the object `parts` names (every symlink followed) with `flags`; return (fd, real path).

        `parts` are plain names (no `.`, `..` or empty ones). `flags` must hold neither O_CREAT nor O_DIRECTORY
        (open with O_PATH and check the type); with O_PATH the fd is of the object, never of a symlink.
        """
        fd = self._fast(root_fd, parts, flags)
        if fd is not None:
            return fd, os.path.join(self.root, *parts)
        walk = _Walk(self, root_fd, parts)
        try:
            return self._open_walk(walk, flags)
        except FileNotFoundError as error:
            raise MissingError(error.errno, error.strerror, walk.missing()) from None
        finally:
            walk.close()

    def _open_walk(self, walk: _Walk, flags: int) -> tuple[int, str]:
        while True:
            name = walk.next_name()
            if name is None:
                return os.open(".", flags | os.O_CLOEXEC, dir_fd=walk.cur), walk.real()
            if not walk.is_last():
                walk.enter(name, None, None)
                continue
            opened = self._open_last(walk, name, flags)
            if opened is not None:
                return opened, walk.real(name)

    @staticmethod
    def _open_last(walk: _Walk, name: str, flags: int) -> int | None:
        """Open the final `name` without following it; None (and the link queued) when it is a symlink."""
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=walk.cur)
        except OSError as error:
            if error.errno != errno.ELOOP or not _is_link(walk.cur, name):
                raise
            walk.follow(name)
            return None
        if flags & os.O_PATH and stat.S_ISLNK(os.fstat(fd).st_mode):
            os.close(fd)
            walk.follow(name)
            return None
        return fd

    def slot(
        self,
        root_fd: int,
        parts: list[str],
        *,
        follow_last: bool,
        creating: Creating | None = None,
        owner: tuple[int, int] | None = None,
    ) -> Slot:
        """The directory holding the entry `parts` names, and its name there.

        Intermediate symlinks are followed; the last one too when `follow_last` (a write goes to a link's target;
        a removal takes the link itself). A missing final entry is fine; missing directories before it are made
        when `creating` is given (after it approved the final real path), owned by `owner` when given.
        """
        fd = self._parent_fast(root_fd, parts)
        if fd is not None:
            if not (follow_last and _is_link(fd, parts[-1])):
                return Slot(fd, parts[-1], os.path.join(self.root, *parts))
            os.close(fd)
        walk = _Walk(self, root_fd, parts)
        try:
            while True:
                name = walk.next_name()
                if name is None:
                    return Slot(os.dup(walk.cur), "", walk.real())
                if not walk.is_last():
                    walk.enter(name, creating, owner)
                    continue
                if follow_last and _is_link(walk.cur, name):
                    walk.follow(name)
                    continue
                return Slot(os.dup(walk.cur), name, walk.real(name))
        finally:
            walk.close()

    def make_dirs(
        self, root_fd: int, parts: list[str], creating: Creating, owner: tuple[int, int] | None = None
    ) -> tuple[int, str]:
        """The directory `parts` names, made with its missing parents: (an O_PATH fd of it, its real path).

        An existing directory (or a symlink to one) is fine; an existing non-directory at the end is FileExistsError.
        """
        fd = self._fast(root_fd, parts, os.O_PATH | os.O_DIRECTORY)
        if fd is not None:
            return fd, os.path.join(self.root, *parts)
        walk = _Walk(self, root_fd, parts)
        try:
            while True:
                name = walk.next_name()
                if name is None:
                    return os.open(".", _PATH | os.O_DIRECTORY, dir_fd=walk.cur), walk.real()
                try:
                    walk.enter(name, creating, owner)
                except NotADirectoryError:
                    if walk.is_last():
                        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST)) from None
                    raise
        finally:
            walk.close()


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False
