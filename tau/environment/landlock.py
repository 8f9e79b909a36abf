"""Landlock, measured only: the ABI version this kernel offers, for `tau sandbox check`.

Owns: `abi_version()`, one `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)` through ctypes.
On the host tau does not apply Landlock (docs/decisions.md, "Landlock on the host: measured, not applied"); in the
docker sandbox the in-container executor applies it per command (ABI >= 3). On the host a ruleset restricts the
calling thread and its future children, and the commands are spawned by pydantic-ai's `LocalWorkspaceBackend` without
a pre-exec hook, so it could only be applied inside the sandbox by a helper program; bubblewrap's mount namespace
already enforces everything Landlock would (and more: PID isolation, capabilities, sockets), on every kernel tau
supports. Pure query: no ruleset is ever enforced here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["abi_version"]

_SYS_LANDLOCK_CREATE_RULESET = {"x86_64": 444, "aarch64": 444}
_LANDLOCK_CREATE_RULESET_VERSION = 1


def abi_version() -> tuple[int | None, str]:
    """(ABI version, explanation). None when the kernel lacks Landlock, it is disabled, or the arch is unknown."""
    number = _SYS_LANDLOCK_CREATE_RULESET.get(os.uname().machine)
    if number is None:
        return None, f"unknown syscall number on {os.uname().machine}"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError as error:
        return None, f"libc not loadable: {error}"
    result = libc.syscall(number, None, ctypes.c_size_t(0), ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    if result >= 0:
        return int(result), "available (host: bubblewrap enforces the policy; docker: applied per command)"
    errno = ctypes.get_errno()
    reason = {38: "kernel built without Landlock", 95: "Landlock disabled at boot (lsm= does not list it)"}
    return None, reason.get(errno, os.strerror(errno))
