"""Path confinement, lexically: the one "is this path the root or under it" test every package uses.

Pure string logic on absolute, normalised POSIX paths; it follows no symlinks. Callers that need to know where a path
really leads resolve it first (the environment does so race-free with `openat2(RESOLVE_BENEATH)` or a component walk
with `O_NOFOLLOW`), then ask `inside`. `path_problem` says why a string can be no path at all (NUL byte, not UTF-8,
over PATH_MAX / NAME_MAX), so every package refuses the same strings with the same words. A leaf: imports nothing
from tau.
"""

from __future__ import annotations

import posixpath

__all__ = ["MAX_NAME_BYTES", "MAX_PATH_BYTES", "inside", "inside_any", "normalise", "path_problem"]

MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255


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


def path_problem(path: str) -> str | None:
    """Why no filesystem can take `path` (a NUL byte, not UTF-8 text, over PATH_MAX or NAME_MAX), or None."""
    if "\x00" in path:
        return "contains a NUL byte"
    try:
        data = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 text (it holds lone surrogates)"
    if len(data) > MAX_PATH_BYTES:
        return f"is {len(data)} bytes long, over the {MAX_PATH_BYTES}-byte limit for a path"
    longest = max(len(part) for part in data.split(b"/"))
    if longest > MAX_NAME_BYTES:
        return f"has a name of {longest} bytes, over the {MAX_NAME_BYTES}-byte limit for one file or directory name"
    return None
