"""Path confinement, lexically: the one "is this path the root or under it" test every package uses.

Pure string logic on absolute, normalised POSIX paths; it follows no symlinks. Callers that need to know where a path
really leads resolve it first (the environment does so race-free with `openat2(RESOLVE_BENEATH)` or a component walk
with `O_NOFOLLOW`), then ask `inside`. A leaf: imports nothing from tau.
"""

from __future__ import annotations

import posixpath

__all__ = ["inside", "inside_any", "normalise"]


def inside(path: str, root: str) -> bool:
    """True when `path` is `root` or below it. Both absolute and normalised; `/` contains everything."""
    if root == "/":
        return path.startswith("/")
    return path == root or path.startswith(root.rstrip("/") + "/")


def inside_any(path: str, roots: tuple[str, ...] | list[str]) -> bool:
    """True when `path` is inside one of `roots`."""
    return any(inside(path, root) for root in roots)


def normalise(path: str) -> str:
    """`posixpath.normpath` that keeps exactly one leading slash (`//x` is `/x`)."""
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("/") else out
