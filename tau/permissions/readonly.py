"""The read-only command safelist plan mode allows (after Codex's): `is_read_only(command) -> bool`.

A simple command (see `shell.py`) is read-only when it writes no file through a redirection and its program is on the
list below with none of the flags that make it write or run other programs. Deliberately small and conservative:
`sed`, `awk`, `tee`, `uniq`, `tree`, `hostname`, `date` and every interpreter are left out because some argument
form of each writes or executes. Pure; no I/O.
"""

from __future__ import annotations

import posixpath

from tau.permissions.shell import SimpleCommand

__all__ = ["is_read_only"]

_PLAIN = frozenset(
    {
        "ls",
        "cat",
        "head",
        "tail",
        "wc",
        "grep",
        "egrep",
        "fgrep",
        "pwd",
        "echo",
        "printf",
        "true",
        "false",
        "which",
        "type",
        "stat",
        "du",
        "df",
        "cut",
        "diff",
        "cmp",
        "basename",
        "dirname",
        "realpath",
        "readlink",
        "whoami",
        "id",
        "uname",
        "printenv",
        "env",
        "nl",
        "jq",
        "sha256sum",
        "sha1sum",
        "md5sum",
        "cd",
        "test",
        "[",
    }
)
_FIND_UNSAFE = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"})
_GIT_READ = frozenset({"status", "diff", "log", "show", "ls-files", "rev-parse", "blame", "grep", "shortlog"})
_GIT_GLOBAL_WITH_VALUE = frozenset({"-C"})
_GIT_GLOBAL_FLAGS = frozenset({"--no-pager", "-P", "--no-optional-locks"})
_GIT_UNSAFE_ARGS = ("--output", "--ext-diff", "--exec")


def is_read_only(command: SimpleCommand) -> bool:
    """True if running `command` cannot change files or run a program outside this list."""
    if command.writes_files or not command.argv:
        return False
    name = posixpath.basename(command.argv[0])
    if name != command.argv[0]:
        return False  # `/tmp/x/ls` is not `ls`
    args = command.argv[1:]
    if name in _PLAIN:
        return True
    if name == "find":
        return not any(arg in _FIND_UNSAFE for arg in args)
    if name == "rg":
        return not any(arg == "--pre" or arg.startswith("--pre=") for arg in args)
    if name == "sort":
        return not any(arg.startswith(("-o", "--output")) for arg in args)
    if name == "git":
        return _git_read_only(args)
    return False


def _git_read_only(args: tuple[str, ...]) -> bool:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in _GIT_GLOBAL_WITH_VALUE:
            i += 2
        elif args[i] in _GIT_GLOBAL_FLAGS:
            i += 1
        else:
            return False  # `-c key=value` can set a pager or hook; anything unknown is refused
    if i >= len(args) or args[i] not in _GIT_READ:
        return False
    return not any(arg.startswith(_GIT_UNSAFE_ARGS) for arg in args[i + 1 :])
