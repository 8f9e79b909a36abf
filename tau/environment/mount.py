"""MountMap: container paths of a bind-mounted workspace, resolved the way the container's kernel would, on the host.

Owns: the translation between a container path under the mount point (`/workspace/...`) and the host directory that
backs it, and symlink resolution with the *container's* meaning: an absolute link target such as `/workspace/x` or
`/etc/passwd` names a path in the container, never the host's. Pure apart from `os.readlink` on host paths.

Invariants:
- `resolve` follows every symlink it can see (those stored inside the mount), keeps missing components as written,
  collapses `..` after a link from the link's target, and raises `OSError(ELOOP)` after 40 links (never hangs).
- Components outside the mount cannot be inspected from the host; `resolve` keeps them lexically and reports that it
  left the mount, so callers can ask the container instead.
- `to_host` answers only for the mount point or paths under it; everything else is `None` (refused by callers).

Contract with neighbours: `DockerBackend` answers `realpath` here and uses `resolve` for the "(resolves to ...)" part
of escape messages. It is a query on path strings, never a fence: file operations confine themselves race-free in
`ConfinedFiles` (same symlink meaning, resolved from fds).
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections import deque

from tau.confine import inside

__all__ = ("MAX_LINKS", "MountMap")

MAX_LINKS = 40


class MountMap:
    """One bind mount: `host_root` (absolute, symlinks resolved) appears at `container_root` in the container."""

    def __init__(self, host_root: str, container_root: str) -> None:
        if not (os.path.isabs(host_root) and posixpath.isabs(container_root)):
            raise ValueError("both mount roots must be absolute")
        self.host_root = os.path.normpath(host_root)
        self.container_root = posixpath.normpath(container_root)

    def contains(self, path: str) -> bool:
        """Whether the (normalized) container path is the mount point or under it."""
        return inside(posixpath.normpath(path), self.container_root)

    def to_host(self, path: str) -> str | None:
        """The host path behind a container path under the mount, else None. No symlink is followed."""
        path = posixpath.normpath(path)
        if not inside(path, self.container_root):
            return None
        rest = path[len(self.container_root) :].lstrip("/")
        return os.path.join(self.host_root, rest) if rest else self.host_root

    def to_container(self, host_path: str) -> str | None:
        """The container path of a host path under the host root, else None."""
        host_path = os.path.normpath(host_path)
        if not inside(host_path, self.host_root):
            return None
        rest = host_path[len(self.host_root) :].lstrip("/")
        return posixpath.join(self.container_root, rest) if rest else self.container_root

    def resolve(self, path: str) -> tuple[str, bool]:
        """Resolve `path` like `realpath(strict=False)` in the container; return (path, whether it left the mount)."""
        if not posixpath.isabs(path):
            raise ValueError(f"path must be absolute, got {path!r}")
        parts = deque(path.split("/"))
        current = "/"
        links = 0
        left = False
        while parts:
            name = parts.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, name)
            host = self.to_host(candidate)
            if host is None:
                left = left or not inside(self.container_root, candidate)
                current = candidate
                continue
            try:
                target = os.readlink(host)
            except OSError:
                current = candidate  # not a symlink, or missing: kept as written
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            if target.startswith("/"):
                current = "/"
            parts.extendleft(reversed(target.split("/")))
        return current, left

    def entry(self, path: str) -> str:
        """The container path of the directory entry itself: its parent resolved, its last name kept (lstat-like)."""
        if not posixpath.isabs(path):
            raise ValueError(f"path must be absolute, got {path!r}")
        parent, name = posixpath.split(posixpath.normpath(path))
        real_parent, _ = self.resolve(parent)
        return posixpath.join(real_parent, name) if name else real_parent
