"""Where the snapshot store lives: a pure function of the explicit flag, the environment and the cwd.

Order: `--state-dir` (the `explicit` argument) > `TAU_STATE_DIR` > a project-local `.tau/state/` for the nearest
project from `cwd` up (not at or above `$HOME`, so `~/.tau` is never taken for a project) > `$XDG_STATE_HOME/tau` >
`~/.local/state/tau`. A directory is a project when its `.tau/` holds `state/`, `config.toml` or `settings.json` —
not any `.tau/`: runs create `.tau/plans/` and `.tau/memory/` in workspaces, and that must not move the store between
`tau run` and `tau plan approve`. A project `.tau/` or `.tau/state` that a symlink leads out of the project is
refused (ConfigError), so a cloned repository cannot redirect where tau writes. Nothing here reads `os.environ`.

`check_state_dir` is the preflight of every command that opens a store, before any work: one ConfigError line (exit 2)
naming where the directory came from (`--state-dir`, `TAU_STATE_DIR`, `state dir`) when it is a file, cannot be read,
or — for a writer — cannot be created or written (a read-only mount). Only it creates directories (a writer's store).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tau.confine import inside, path_problem
from tau.errors import ConfigError

PROJECT_MARKERS: tuple[str, ...] = ("state", "config.toml", "settings.json")  # in `.tau/`: what makes a project


_MAX_STATE_ENTRIES = 1_000_000


def _refuse_escape(state: Path) -> None:
    """A project's `.tau/state` (or its `.tau/`) that a symlink leads out of the project is refused: a cloned
    repository must not choose where tau writes its sessions. So is any symbolic link inside the state directory
    (tau's store never makes one; a committed `objects/`, `refs/` or `locks/` link would lead its writes and reads
    elsewhere). ConfigError (exit 2), one line."""
    project = state.parent.parent
    real_project = os.path.realpath(project)
    for path in (state.parent, state):
        real = os.path.realpath(path)
        if os.path.islink(path) and not inside(real, real_project):
            raise ConfigError(
                f"{path} is a symbolic link to {real}, outside the project: tau does not write its sessions "
                "through it (remove the link, or pass --state-dir / TAU_STATE_DIR)"
            )
    link = _first_link(str(state))
    if link is not None:
        raise ConfigError(
            f"{link} is a symbolic link inside the project's tau state directory: tau does not read or write its "
            "sessions through links (remove it, or pass --state-dir / TAU_STATE_DIR)"
        )


def _first_link(root: str) -> str | None:
    """The first symbolic link found under `root` (d_type only: no stat per entry), or None. Past a million entries
    the walk stops and the root itself is named: what cannot be checked is refused."""
    stack, seen = [root], 0
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        seen += len(entries)
        if seen > _MAX_STATE_ENTRIES:
            return f"{root} (more than {_MAX_STATE_ENTRIES} entries to check)"  # unchecked is refused
        for entry in entries:
            if entry.is_symlink():
                return entry.path
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return None


def project_state_dir(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """`<project>/.tau/state` for the nearest `.tau/` holding one of `PROJECT_MARKERS` from `cwd` up, stopping
    below `$HOME`."""
    home = Path(env["HOME"]).resolve() if env.get("HOME") else None
    for directory in (cwd, *cwd.parents):
        if home is not None and (directory == home or directory in home.parents):
            return None
        dot_tau = directory / ".tau"
        if any((dot_tau / marker).exists() for marker in PROJECT_MARKERS):
            return dot_tau / "state"
    return None


def default_state_dir(env: Mapping[str, str], cwd: Path, explicit: str | Path | None = None) -> Path:
    """The state directory for this invocation (see the module docstring for the order)."""
    if explicit or env.get("TAU_STATE_DIR"):
        given = str(explicit or env["TAU_STATE_DIR"])
        source = state_dir_source(env, explicit)
        problem = path_problem(given)
        if problem is not None:
            raise ConfigError(f"path {problem}", source=source)
        try:
            return (cwd / Path(given)).resolve()
        except (RuntimeError, OSError) as error:  # a symlink loop
            raise ConfigError(f"cannot resolve {given}: {error}", source=source) from None
    project = project_state_dir(cwd, env)
    if project is not None:
        _refuse_escape(project)
        return project
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tau"
    home = env.get("HOME", "")
    if home:
        return Path(home) / ".local" / "state" / "tau"
    return cwd / ".tau" / "state"


def state_dir_source(env: Mapping[str, str], explicit: str | Path | None = None) -> str:
    """Where the state directory came from, for error messages."""
    if explicit:
        return "--state-dir"
    return "TAU_STATE_DIR" if env.get("TAU_STATE_DIR") else "state dir"


def check_state_dir(path: Path, *, source: str, write: bool) -> None:
    """Raise a one-line ConfigError unless `path` can serve as a store: a directory (or, for a reader, nothing yet)
    that can be listed; a writer's is created if missing and must take a new file."""
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{path} is not a directory", source=source)
        if write:
            path.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            os.listdir(path)
        if write:
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=path)
            os.close(fd)
            os.unlink(probe)
    except OSError as error:
        verb = "use" if not write else "create or write to"
        raise ConfigError(f"cannot {verb} {path}: {error.strerror or error}", source=source) from None
