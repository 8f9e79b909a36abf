"""The per-command wall of the docker sandbox: what the in-container executor must enforce for one command.

Owns `command_wall(...)`: from the run's `SandboxConfig` and the enclosing tool call's `policy_scope`, tightened
exactly as the host does (`tighter(config.policy, current_policy())`), the `landlock` field of the executor's `run`
request, or a refusal. Pure: the caller passes what the executor reported (`landlock` ABI and reason from its ping).

Decision table (effective policy -> what happens):
- `full`: nothing per command (the container is the wall).
- `read-only` / `workspace-write` with Landlock ABI >= `LANDLOCK_MIN_ABI` in the container: the executor enforces
  the policy with Landlock (`sandbox/executor.py`): read-only writes only a private temp dir, workspace-write only
  the workspace, /tmp and /dev/shm.
- `workspace-write` without it: the container's mounts already hold the policy (a read-only root, protected paths
  and deny-write paths bound read-only), so the command runs.
- `read-only` without it: runs only where a mount holds it (the workspace mounted read-only: plan mode), or when
  the configured policy is `full` (as on the host, where `full` runs plainly without bubblewrap); otherwise the
  command is refused (exit 126, the reason on stderr): never run with a weaker wall than it was judged for.

Why ABI 3 (Linux 6.2): below it Landlock cannot stop `truncate(2)` on a path, so a read-only command could still
empty a workspace file; ABI 1 also refuses every rename across directories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai.workspaces import CommandResult

from tau.environment.policy import SandboxConfig, current_policy, tighter

__all__ = ["LANDLOCK_MIN_ABI", "Wall", "command_wall"]

LANDLOCK_MIN_ABI = 3


@dataclass(frozen=True)
class Wall:
    """`landlock`: the executor request's field (None: run without one); `refusal`: answer this instead of running."""

    landlock: dict[str, Any] | None = None
    refusal: CommandResult | None = None


def _why_not(abi: int | None, reason: str) -> str:
    if abi is None:
        return f"Landlock is not available in the container ({reason})"
    return f"the container's Landlock ABI {abi} cannot stop truncate(2) (ABI {LANDLOCK_MIN_ABI}, Linux 6.2, is needed)"


def command_wall(
    config: SandboxConfig | None,
    *,
    landlock: tuple[int | None, str],
    workspace_read_only: bool,
    workdir: str,
) -> Wall:
    """The wall for the command about to run (see the module docstring). `config` None: no policy (embedding)."""
    if config is None:
        return Wall()
    chosen = current_policy()
    policy = config.policy if chosen is None else tighter(config.policy, chosen)
    if policy == "full":
        return Wall()
    abi, reason = landlock
    if abi is not None and abi >= LANDLOCK_MIN_ABI:
        return Wall(landlock={"policy": policy, "writable": [workdir]})
    if policy == "workspace-write" or workspace_read_only or config.policy == "full":
        return Wall()
    message = (
        f"tau sandbox: this command may only read, and {_why_not(abi, reason)}, so it was not run; plan mode (the "
        "workspace mounted read-only) or the host environment can run it\n"
    )
    return Wall(refusal=CommandResult(exit_code=126, stdout="", stderr=message))
