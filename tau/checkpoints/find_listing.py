"""The listing `find` of a tree scan: the shell command, its NUL-separated records, and when a record proves a file
unchanged.

`find_command(pruned, max_entries)` lists every entry below the working directory with its stat key (size, mtime,
ctime, inode, device) between a start-time header and an exit-status trailer; `parse_listing` returns the start time
and records of a complete, successful listing and None for anything else (a cut or failed listing, a name that is not
UTF-8). `settled(entry, start_ns)`: a key match proves the content unchanged only for a regular file whose mtime and
ctime are both at least 2 s older than the scan's start (git's "racily clean" rule).

Pure: no I/O; `tau.checkpoints.tree_scan` runs the command through the workspace.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Key", "Listed", "find_command", "parse_listing", "settled", "time_ns"]

_RACY_NS = 2_000_000_000  # a file whose mtime/ctime is this close to the scan start is re-read at the next scan too
_FIND_FORMAT = r"%y%Y %s %T@ %C@ %i %D %p\0"  # type, target type, size, mtime, ctime, inode, device, ./path

Key = tuple[str, str, str, str, str]  # size, mtime, ctime, inode, device, as `find` prints them


@dataclass(frozen=True)
class Listed:
    """One `find` record: `kind` is `%y` (f regular, d directory, l symlink, p/s/c/b/D other), `target` is `%Y`
    (a symlink's target type, N = dangling, L = loop; else the same as `kind`)."""

    kind: str
    target: str
    size: int
    key: Key


def _glob_escape(rel: str) -> str:
    return "".join("\\" + char if char in "[]*?\\" else char for char in rel)


def find_command(pruned: Sequence[str], max_entries: int) -> str:
    """One shell command listing every entry with its stat key, NUL-separated, between a start-time header and an
    exit-status trailer; `head` cuts it after `max_entries` records, which drops the trailer (the caller walks)."""
    skip = "".join(f" -o -path {shlex.quote('./' + _glob_escape(rel))}" for rel in pruned)
    return (
        "{ printf 'tau-scan %s\\0' \"$(date +%s.%N)\"; "
        "LC_ALL=C find . -mindepth 1 \\( -name .git -o -path ./.tau/state"
        f" -o -type d \\( ! -readable -o ! -executable{skip} \\) \\) -prune -o -printf '{_FIND_FORMAT}'; "
        "printf 'tau-end %s\\0' \"$?\"; }"
        f" | head -z -n {max_entries + 2}"
    )


def time_ns(text: str) -> int | None:
    seconds, _, fraction = text.partition(".")
    if not seconds.isdigit() or not (fraction.isdigit() or not fraction):
        return None
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])


def _parse_record(record: str) -> tuple[str, Listed] | None:
    fields = record.split(" ", 6)
    if len(fields) != 7 or len(fields[0]) != 2 or not fields[6].startswith("./") or not fields[1].isdigit():
        return None
    types, size, mtime, ctime, inode, device, path = fields
    return path[2:], Listed(types[0], types[1], int(size), (size, mtime, ctime, inode, device))


def parse_listing(stdout: str) -> tuple[int | None, dict[str, Listed]] | None:
    """The start time (ns) and records of a complete, successful listing; None for anything else (a cut or failed
    listing, a name that is not UTF-8: the output is decoded with replacement characters)."""
    if "\ufffd" in stdout:
        return None
    lines = stdout.split("\0")
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) < 2 or not lines[0].startswith("tau-scan ") or lines[-1] != "tau-end 0":
        return None
    header = lines[0].removeprefix("tau-scan ")
    seconds = header.partition(".")[0]  # a `date` without %N prints it verbatim: whole seconds then
    start_ns = time_ns(header) or (int(seconds) * 1_000_000_000 if seconds.isdigit() else None)
    records: dict[str, Listed] = {}
    for line in lines[1:-1]:
        parsed = _parse_record(line)
        if parsed is None:
            return None
        records[parsed[0]] = parsed[1]
    return start_ns, records


def settled(entry: Listed, start_ns: int | None) -> bool:
    """Whether a key match proves the content unchanged: a regular file whose mtime and ctime are both >= 2 s older
    than the scan's start (a later edit within the same timestamp tick could keep the key; ctime also covers a
    tool that writes and then restores the mtime)."""
    if entry.kind != "f" or start_ns is None:
        return False
    times = (time_ns(entry.key[1]), time_ns(entry.key[2]))
    return all(time_ns is not None and time_ns < start_ns - _RACY_NS for time_ns in times)
