"""One lifetime for the processes tau starts outside a tool call: hooks and MCP stdio servers die with tau.

Tool commands already run inside the command sandbox (`hostsandbox`). Hooks and MCP servers are the user's own
trusted programs, so they get no filesystem or network wall — but they must not outlive tau, however tau dies
(SIGKILL included), nor leave grandchildren behind. `lifetime_argv(argv)` wraps a command in bubblewrap's `full`
profile: `/` read-write, host network and capabilities, plus a PID namespace (`--unshare-pid`) and
`--die-with-parent`, so when tau dies the namespace's init dies and the kernel kills every process in it.

The caller must spawn the result from the event-loop thread (PDEATHSIG follows the spawning thread) and should still
start it in its own session and kill its process group on close: that is the orderly path; this wrapper is the one
for a tau that cannot clean up. Where bubblewrap cannot run, the command is returned unchanged and
`lifetime_available()` says so (hooks then still die by process group when tau closes normally).
"""

from __future__ import annotations

from collections.abc import Sequence

from tau.environment.bwrap import find_launcher

__all__ = ["lifetime_argv", "lifetime_available"]

_FULL = [
    "--bind",
    "/",
    "/",
    "--dev-bind",
    "/dev",
    "/dev",
    "--proc",
    "/proc",
    "--unshare-pid",
    "--die-with-parent",
]


def lifetime_available() -> bool:
    return find_launcher().launcher is not None


def lifetime_argv(argv: Sequence[str], *, cwd: str | None = None) -> list[str]:
    """`argv` wrapped so that it and all its descendants die with tau (unchanged when bwrap cannot run here)."""
    launcher = find_launcher().launcher
    if launcher is None:
        return list(argv)
    chdir = ["--chdir", cwd] if cwd else []
    return [launcher.path, *_FULL, *chdir, "--", *argv]
