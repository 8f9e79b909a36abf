"""Where the snapshot store lives: a pure function of the explicit flag, the environment and the cwd.

Order: `--state-dir` (the `explicit` argument) > `TAU_STATE_DIR` > a project-local `.tau/state/` when a `.tau/`
directory exists from `cwd` up (not at or above `$HOME`, so `~/.tau` is never taken for a project) >
`$XDG_STATE_HOME/tau` > `~/.local/state/tau`. Nothing here creates directories or reads `os.environ`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def project_state_dir(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """`<project>/.tau/state` for the nearest `.tau/` directory from `cwd` up, stopping below `$HOME`."""
    home = Path(env["HOME"]).resolve() if env.get("HOME") else None
    for directory in (cwd, *cwd.parents):
        if home is not None and (directory == home or directory in home.parents):
            return None
        if (directory / ".tau").is_dir():
            return directory / ".tau" / "state"
    return None


def default_state_dir(env: Mapping[str, str], cwd: Path, explicit: str | Path | None = None) -> Path:
    """The state directory for this invocation (see the module docstring for the order)."""
    if explicit:
        return (cwd / Path(explicit)).resolve()
    if env.get("TAU_STATE_DIR"):
        return (cwd / Path(env["TAU_STATE_DIR"])).resolve()
    project = project_state_dir(cwd, env)
    if project is not None:
        return project
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tau"
    home = env.get("HOME", "")
    if home:
        return Path(home) / ".local" / "state" / "tau"
    return cwd / ".tau" / "state"
