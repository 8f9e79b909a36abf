"""The gitlinks of a git index file: the paths `git status`, `git diff` and friends recurse into as submodules.

Owns: reading index versions 2, 3 and 4 far enough to see each entry's mode and path (`gitlinks`). No subprocess.

Why: a submodule (or an embedded repository committed as a gitlink) has its own git config, and git runs the
programs that config names (core.fsmonitor, diff.external, ...) when it recurses into it. The sandbox must sanitise
those configs too, so it needs the exact set of directories git will recurse into: the index entries of mode 160000.

Invariants: bounded (an index over 256 MiB or with more than 2,000,000 entries is read no further); a malformed
index ends the parse with what was read so far (git itself refuses a corrupt index: its trailing checksum fails).
Paths are returned as git stores them (relative, `/`-separated), decoded with surrogateescape.
"""

from __future__ import annotations

import struct

__all__ = ["gitlinks"]

_MAX_INDEX_BYTES = 256 << 20
_MAX_ENTRIES = 2_000_000
_GITLINK = 0o160000
_TYPE_MASK = 0o170000
_FIXED = 40  # ctime, mtime (sec, nsec each), dev, ino, mode, uid, gid, size: ten 32-bit fields


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset varint (index v4 path prefix lengths): (value, next position)."""
    byte = data[pos]
    pos += 1
    value = byte & 0x7F
    while byte & 0x80:
        byte = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, pos


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_INDEX_BYTES)
    except OSError:
        return b""


def gitlinks(index_path: str, hash_len: int = 20) -> list[str]:
    """The paths of the gitlink entries of the index at `index_path` (`hash_len`: 20 for SHA-1, 32 for SHA-256)."""
    data = _read(index_path)
    if len(data) < 12 or data[:4] != b"DIRC":
        return []
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        return []
    out: list[str] = []
    pos, previous = 12, b""
    try:
        for _ in range(min(count, _MAX_ENTRIES)):
            start = pos
            mode = struct.unpack_from(">I", data, pos + 24)[0]
            (flags,) = struct.unpack_from(">H", data, pos + _FIXED + hash_len)
            pos += _FIXED + hash_len + 2
            if version >= 3 and flags & 0x4000:
                pos += 2  # extended flags
            if version == 4:
                strip, pos = _varint(data, pos)
                end = data.index(b"\0", pos)
                if strip > len(previous):
                    break
                name = previous[: len(previous) - strip] + data[pos:end]
                pos = end + 1
            else:
                end = data.index(b"\0", pos)
                name = data[pos:end]
                pos = start + (((end - start) + 8) & ~7)  # NUL-padded to a multiple of 8
            previous = name
            if mode & _TYPE_MASK == _GITLINK:
                out.append(name.decode("utf-8", "surrogateescape"))
    except (struct.error, ValueError, IndexError):
        pass
    return out
