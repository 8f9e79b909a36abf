"""Paths an operator (or a repository's config) names: checked, expanded and resolved into a ConfigError or a Path.

`user_path` is the one way config turns a path string into an absolute `Path`: refused when no filesystem could take
it (`tau.confine.path_problem`: NUL byte, lone surrogates, over PATH_MAX/NAME_MAX), `~` and `~user` expanded (an
unknown user is a ConfigError, not pathlib's RuntimeError), resolved against `base_dir` (a symlink loop is a
ConfigError too). `is_dir`/`is_file` answer False instead of raising for a path the kernel refuses to stat
(EACCES, ENAMETOOLONG). Both touch the filesystem only to resolve symlinks and stat.
"""

from __future__ import annotations

from pathlib import Path

from tau.confine import path_problem
from tau.errors import ConfigError

__all__ = ["is_dir", "is_file", "shown", "user_path"]


def shown(text: str, limit: int = 80) -> str:
    """`repr(text)`, cut to `limit` characters for a one-line message."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else quoted[: limit - 2] + "…'"


def user_path(text: str, *, base_dir: Path, source: str, field: str | None = None) -> Path:
    """`text` as an absolute, resolved path (relative to `base_dir`); ConfigError naming `source`/`field`."""
    problem = path_problem(text)
    if problem is not None:
        raise ConfigError(f"path {shown(text)} {problem}", source=source, field=field)
    try:
        expanded = Path(text).expanduser()
    except RuntimeError:
        user = text.split("/", 1)[0]
        raise ConfigError(f"cannot expand {shown(user)}: no such user", source=source, field=field) from None
    try:
        return (base_dir / expanded).resolve()
    except (RuntimeError, OSError) as error:  # a symlink loop; an unreadable directory on the way
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)[:200]
        raise ConfigError(f"cannot resolve path {shown(text)}: {why}", source=source, field=field) from None


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
