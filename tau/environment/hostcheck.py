"""What the host sandbox can do on this machine, measured: the data behind `tau sandbox check`.

Owns `host_check()`: the launcher probe (`tau.environment.bwrap`), whether unprivileged user namespaces work and
why not (the kernel switches that decide it), whether the seccomp program loads, the Landlock ABI, and whether a
network namespace can be made. Every answer comes from running the real thing once, never from version tables.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

from tau.environment.bwrap import ProbeReport, find_launcher
from tau.environment.landlock import abi_version
from tau.environment.seccomp import UnsupportedArchitecture, machine_arch

__all__ = ["HostCheck", "host_check"]

_SWITCHES = (
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
)


@dataclass(frozen=True)
class HostCheck:
    sandbox_possible: bool
    bwrap: dict[str, Any]
    user_namespaces: dict[str, Any]
    seccomp: dict[str, Any]
    landlock: dict[str, Any]
    network_namespace: dict[str, Any]
    running_as_root: bool
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _switches() -> dict[str, str]:
    found = {}
    for path in _SWITCHES:
        try:
            with open(path) as handle:
                found[path.removeprefix("/proc/sys/").replace("/", ".")] = handle.read().strip()
        except OSError:
            continue
    return found


def _runs(argv: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return False, str(error)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode == 0, lines[0] if lines else ""


def _user_namespaces(report: ProbeReport) -> dict[str, Any]:
    switches = _switches()
    if report.launcher is None:
        ok, why = _runs(["unshare", "--user", "true"])
        return {"available": ok, "reason": why or "tested with unshare --user", "switches": switches}
    ok, why = _runs([report.launcher.path, "--unshare-user", "--ro-bind", "/", "/", "--", "/bin/true"])
    reason = "bwrap --unshare-user works" if ok else why
    return {
        "available": ok,
        "reason": reason,
        "nested_disabled_in_sandbox": report.launcher.nested_userns_off,
        "switches": switches,
    }


def _seccomp(report: ProbeReport) -> dict[str, Any]:
    try:
        arch = machine_arch().name
    except UnsupportedArchitecture as error:
        return {"active": False, "reason": str(error)}
    active = report.launcher is not None and report.launcher.seccomp
    reason = "AF_UNIX sockets, TIOCSTI/TIOCLINUX and io_uring refused (EPERM)" if active else "no working bwrap"
    return {"active": active, "arch": arch, "reason": reason}


def _network(report: ProbeReport) -> dict[str, Any]:
    if report.launcher is None:
        return {"available": False, "reason": "no working bwrap"}
    ok, why = _runs([report.launcher.path, "--unshare-net", "--ro-bind", "/", "/", "--", "/bin/true"])
    return {"available": ok, "reason": "commands get a private loopback unless network is on" if ok else why}


def host_check(*, refresh: bool = True) -> HostCheck:
    """Measure everything (`refresh` re-runs the launcher probe instead of reusing this process's answer)."""
    report = find_launcher(refresh=refresh)
    launcher = report.launcher
    bwrap: dict[str, Any] = {"found": launcher is not None, "problems": list(report.problems)}
    if launcher is not None:
        bwrap.update(path=launcher.path, version=launcher.version, source=launcher.source)
    abi, why = abi_version()
    return HostCheck(
        sandbox_possible=launcher is not None,
        bwrap=bwrap,
        user_namespaces=_user_namespaces(report),
        seccomp=_seccomp(report),
        landlock={"abi": abi, "reason": why},
        network_namespace=_network(report),
        running_as_root=os.geteuid() == 0,
        problems=list(report.problems) if launcher is None else [],
    )
