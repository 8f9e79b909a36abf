"""Sandbox policies for commands: which kernel wall a command runs behind, chosen per tool call.

Owns the vocabulary (`SandboxPolicy`), the per-call choice (`policy_scope` / `current_policy`, a ContextVar, so
concurrent tool calls of one run never mix) and the run's sandbox configuration (`SandboxConfig`). Pure: no I/O.

Policies (README "Security model"):

- `read-only`: the whole filesystem read-only (a private, empty /tmp aside). Plan mode, and the commands default
  mode auto-allows because they are on the read-only safelist.
- `workspace-write`: writes only under the workspace root, `writable_roots` and a private temp dir; inside the
  workspace the `PROTECTED` paths stay read-only, so a run cannot plant a hook or a pager for the next one.
- `full`: no filesystem or network wall (still a PID namespace and death with tau where the kernel allows it).
  Only with `bypassPermissions` or an explicit `--sandbox-policy full`.

In every policy: paths that deny `Read(...)` rules match are masked, commands cannot see tau's process, and the
command tree dies with tau. Who decides: the permission layer sets `policy_scope(...)` around each tool call it
allows; a backend's `run` uses `tighter(SandboxConfig.policy, current_policy())`, i.e. a scope can only make the
wall stricter, never looser than the run's configured policy (tau's own commands, outside any tool call, e.g. the
checkpoint scanner's `find`, get the configured policy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "POLICIES",
    "PROTECTED",
    "SandboxConfig",
    "SandboxPolicy",
    "current_policy",
    "policy_scope",
    "tighter",
]

SandboxPolicy = Literal["read-only", "workspace-write", "full"]
POLICIES: tuple[SandboxPolicy, ...] = ("read-only", "workspace-write", "full")  # strictest first
PROTECTED: tuple[str, ...] = (".git/config", ".git/hooks", ".tau", ".claude", ".mcp.json")
"""Workspace-relative paths that stay read-only for commands under `workspace-write`."""

_current: ContextVar[SandboxPolicy | None] = ContextVar("tau_sandbox_policy", default=None)


def tighter(a: SandboxPolicy, b: SandboxPolicy) -> SandboxPolicy:
    """The stricter of two policies."""
    return a if POLICIES.index(a) <= POLICIES.index(b) else b


def current_policy() -> SandboxPolicy | None:
    """The policy the enclosing tool call chose, or None outside any `policy_scope`."""
    return _current.get()


@contextmanager
def policy_scope(policy: SandboxPolicy | None) -> Iterator[None]:
    """Run the body's commands under `policy` (None: leave the enclosing choice in place)."""
    if policy is None:
        yield
        return
    token = _current.set(policy)
    try:
        yield
    finally:
        _current.reset(token)


DenyRead = Callable[[str], bool]
"""Predicate on an absolute, fully resolved path: True when a deny `Read(...)` rule covers it."""


@dataclass(frozen=True)
class SandboxConfig:
    """How one run's commands are confined.

    `policy` is the policy for commands outside a `policy_scope` and the loosest any command gets (a scope only
    tightens it); `network` lets commands reach the network; `writable_roots` are extra absolute directories
    writable under `workspace-write`; `deny_read` masks paths (None: nothing masked), `deny_write` keeps paths
    read-only (deny `Edit(...)` rules), and `mask_roots` are the absolute directories to search for paths they
    cover (the workspace, and the fixed prefixes of deny rules that point outside it); `protected` are
    workspace-relative paths kept read-only when they exist.
    """

    policy: SandboxPolicy = "workspace-write"
    network: bool = False
    writable_roots: tuple[str, ...] = ()
    deny_read: DenyRead | None = None
    deny_write: DenyRead | None = None
    mask_roots: tuple[str, ...] = ()
    protected: tuple[str, ...] = PROTECTED
    sanitise_git: bool = False  # the repository is not trusted: its git config names no program under any wall
