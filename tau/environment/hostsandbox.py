"""HostSandbox: turns one host command into the shell line that runs it behind bubblewrap, for one backend.

Owns the per-backend state of the host sandbox: a private directory (mode 0700, created on first use, removed by
`close()`; stale ones of dead tau processes, found by their unlocked `.owner` flock, are removed when a new one is
made) holding the seccomp program, the empty mode-000 file and directory masks are made of, the sanitised git
configs and, under `workspace-write`, the command's /tmp; the deny walk and hard-link scan caches
(`tau.environment.masks`).

`prepare(command, ...)` returns a `Prepared`: the line to hand to `LocalWorkspaceBackend.run(..., shell=True)`,
`exec <bwrap> <options> -- <command> 9< <seccomp file>`, or a refusal (a `CommandResult` the model can read), or
neither (run plainly: only when the run's configured policy is `full` and bubblewrap cannot run here). The outer
`/bin/sh` exists only to open the filter on fd 9 (pydantic-ai spawns with `close_fds` and no `pass_fds`); `exec`
makes bwrap replace it, so bwrap is tau's direct child, spawned from the event-loop thread, and the process group
pydantic-ai kills on a timeout is bwrap's.

Invariants: the effective policy is never looser than the configured one (`tighter`); every path in a plan is real
(symlinks resolved); what cannot be checked is refused (`TooManyPaths`), never skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import anyio.to_thread
from pydantic_ai.workspaces import CommandResult

from tau.confine import inside, inside_any, normalise
from tau.environment.bwrap import Launcher, MountPlan, ProbeReport, bwrap_args, find_launcher
from tau.environment.gitconfig import ConfigTarget, config_targets, find_git_dirs, sanitised_text
from tau.environment.masks import DenyResult, DenyWalk, LinkScan, TooManyPaths
from tau.environment.policy import SandboxConfig, SandboxPolicy, current_policy, tighter
from tau.environment.seccomp import UnsupportedArchitecture, program

__all__ = ["SECCOMP_FD", "HostSandbox", "Prepared", "in_container", "no_sandbox_message", "protected_paths"]

SECCOMP_FD = 9
_PREFIX = "tau-sandbox-"


_CONTAINER_MARKS = ("/.dockerenv", "/run/.containerenv")


def in_container() -> bool:
    """Whether this process runs in a Docker or Podman container (the files those engines put at the root)."""
    return any(os.path.exists(mark) for mark in _CONTAINER_MARKS)


def no_sandbox_message(report: ProbeReport) -> str:
    """The one line a run that cannot be sandboxed fails with (exit 3); in a container, with the two ways out."""
    where = (
        " (in a container: run it with `--security-opt seccomp=unconfined --security-opt systempaths=unconfined` "
        "so tau can build its sandbox, or let the container be the wall with TAU_SANDBOX_POLICY=full)"
        if in_container()
        else ""
    )
    return (
        f"host sandbox unavailable: {report.cause}; run `tau sandbox check` for details, or opt out of the "
        f"sandbox explicitly with --sandbox-policy full{where}"
    )


@dataclass(frozen=True)
class Prepared:
    """What to run: `line` (a /bin/sh line) with `env` on top, or `refusal` instead; neither: run plainly."""

    line: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    refusal: CommandResult | None = None
    absent: tuple[str, ...] = ()  # protected paths that did not exist: a command must not create them


def _refuse(reason: str) -> Prepared:
    return Prepared(refusal=CommandResult(exit_code=126, stdout="", stderr=f"tau sandbox: {reason}\n"))


def _writable_tree(path: str) -> None:
    """Make everything under `path` removable by its owner (a command may leave mode-000 directories)."""
    for top, dirs, _files in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(top, name), 0o700, follow_symlinks=False)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)


def _remove(path: str) -> None:
    if os.path.lexists(path):
        _writable_tree(path)
        shutil.rmtree(path, ignore_errors=True)


def _reap_stale(parent: str) -> None:
    """Remove private dirs whose owner is gone (a SIGKILL leaves them behind). The owner holds an exclusive flock
    on the dir's `.owner` file for its whole life, so a lock that can be taken means a dead owner, whatever PID
    namespace it ran in."""
    try:
        names = [name for name in os.listdir(parent) if name.startswith(_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            fd = os.open(os.path.join(path, ".owner"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # alive
        finally:
            os.close(fd)
        _remove(path)


class _Private:
    """The private directory and the fixed files in it."""

    def __init__(self) -> None:
        parent = tempfile.gettempdir()
        _reap_stale(parent)
        self.path = os.path.realpath(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=parent))  # 0700
        self.owner_fd = os.open(os.path.join(self.path, ".owner"), os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o400)
        fcntl.flock(self.owner_fd, fcntl.LOCK_EX)  # held until close(): see _reap_stale
        self.tmp = os.path.join(self.path, "tmp")
        os.mkdir(self.tmp, 0o700)
        self.mask_file = self._file("mask", b"", 0o000)
        self.mask_dir = os.path.join(self.path, "maskdir")
        os.mkdir(self.mask_dir, 0o000)
        self.blank = self._file("blank", b"", 0o444)
        try:
            self.seccomp: str | None = self._file("seccomp.bpf", program(), 0o400)
        except UnsupportedArchitecture:
            self.seccomp = None
        self._git: dict[tuple[str, int, int, int, str], str] = {}

    def _file(self, name: str, data: bytes, mode: int) -> str:
        path = os.path.join(self.path, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(path, mode)
        return path

    def git_config(self, target: ConfigTarget) -> str:
        """The sanitised copy of the config file `target`, cached per (path, mtime, size, inode, bound)."""
        if target.blank:
            return self.blank
        try:
            st = os.stat(target.path)
            key = (target.path, st.st_mtime_ns, st.st_size, st.st_ino, target.bound)
        except OSError:
            return self.blank
        cached = self._git.get(key)
        if cached is None:
            digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
            cached = self._file(f"git-{digest}", sanitised_text(target.path, target.bound).encode(), 0o444)
            self._git[key] = cached
        return cached


class HostSandbox:
    """The sandbox of one `HostBackend` (see module docstring). `report`: a probe result (tests, embedding);
    default: this process's cached probe, taken on first use."""

    def __init__(self, config: SandboxConfig, *, report: ProbeReport | None = None) -> None:
        self.config = config
        self._report = report
        self._private: _Private | None = None
        self._lock = threading.Lock()
        self._walk = DenyWalk(config.mask_roots, config.deny_read, config.deny_write)
        self._links: LinkScan | None = None
        self._writable_roots = tuple(normalise(os.path.realpath(root)) for root in config.writable_roots)

    def effective_policy(self) -> SandboxPolicy:
        """The enclosing tool call's choice, never looser than the configured policy."""
        chosen = current_policy()
        return self.config.policy if chosen is None else tighter(self.config.policy, chosen)

    async def prepare(self, command: str | Sequence[str], *, shell: bool, root: str) -> Prepared:
        if self._report is None:
            self._report = await anyio.to_thread.run_sync(find_launcher)
        launcher = self._report.launcher
        if launcher is None:
            if self.config.policy == "full":
                return Prepared()
            return _refuse(no_sandbox_message(self._report))
        policy = self.effective_policy()
        heavy = self._walk.active or (policy == "workspace-write" and self._links is None) or self._private is None
        if heavy:
            return await anyio.to_thread.run_sync(lambda: self._prepare(launcher, command, shell, root, policy))
        return self._prepare(launcher, command, shell, root, policy)

    def _prepare(
        self, launcher: Launcher, command: str | Sequence[str], shell: bool, root: str, policy: SandboxPolicy
    ) -> Prepared:
        with self._lock:
            if self._private is None:
                self._private = _Private()
            private = self._private
            try:
                plan = self._plan(private, policy, normalise(os.path.realpath(root)), root, launcher)
            except TooManyPaths as error:
                return _refuse(str(error))
        inner = ["/bin/sh", "-c", command] if shell and isinstance(command, str) else list(command)
        line = "exec " + shlex.join([launcher.path, *bwrap_args(plan), "--", *inner])
        if plan.seccomp_fd is not None and private.seccomp is not None:
            line += f" {plan.seccomp_fd}< {shlex.quote(private.seccomp)}"
        env = () if policy == "full" else (("TMPDIR", "/tmp"),)
        absent = tuple(self._absent(root)) if policy == "workspace-write" else ()
        return Prepared(line=line, env=env, absent=absent)

    def _absent(self, root: str) -> list[str]:
        """Protected paths that do not exist but whose directory does (a `git init` may create `.git/config`)."""
        return [
            path
            for rel in self.config.protected
            if not os.path.lexists(path := os.path.join(root, rel)) and os.path.isdir(os.path.dirname(path))
        ]

    def refuse_created(self, prepared: Prepared) -> list[str]:
        """Move aside the protected paths a command created (`<path>.tau-refused`): bwrap can only keep existing
        paths read-only, so a `.mcp.json`, `.claude/` or `.tau/` a command made is taken back once it ends, before
        anything reads it. Returns one line per path moved."""
        moved: list[str] = []
        for path in prepared.absent:
            if not os.path.lexists(path):
                continue
            target = path + ".tau-refused"
            n = 1
            while os.path.lexists(target):
                n += 1
                target = f"{path}.tau-refused-{n}"
            try:
                os.rename(path, target)
            except OSError as error:
                moved.append(f"tau: could not take back {path}: {error.strerror or error}")
                continue
            moved.append(f"tau: {path} configures later runs and commands may not create it; moved to {target}")
        return moved

    def _plan(
        self, private: _Private, policy: SandboxPolicy, real_root: str, root: str, launcher: Launcher
    ) -> MountPlan:
        denied = self._walk.find() if self._walk.active else DenyResult()
        replace = [(private.mask_file, path) for path in denied.read_files]
        replace += [(private.mask_dir, path) for path in denied.read_dirs]
        if policy == "full":
            return MountPlan(policy="full", workdir=root, network=True, replace=tuple(replace))
        seccomp_fd = SECCOMP_FD if private.seccomp is not None and launcher.seccomp else None
        if policy == "read-only" or self.config.sanitise_git:  # the repository's config names no program
            replace = self._git_replacements(private, real_root) + replace
        if policy == "read-only":
            # what /tmp's tmpfs would hide: the workspace and the additional directories (readable in every policy)
            shown = (real_root, *(path for path in self._writable_roots if os.path.isdir(path)))
            visible: tuple[str, ...] = tuple(path for path in shown if inside(path, "/tmp"))
            writable: tuple[str, ...] = ()
            read_only: list[str] = []
        else:
            visible = ()
            writable = (real_root, *(path for path in self._writable_roots if os.path.isdir(path)))
            git = os.path.join(real_root, ".git")
            if os.path.isdir(git) and not os.path.islink(git):
                writable += (git,)  # a mount point: `mv .git .git-old` (and a planted new .git) fails with EBUSY
            read_only = self._protected(real_root) + list(denied.write) + self._hard_links(real_root)
            read_only = [path for path in read_only if inside_any(path, writable)]
        return MountPlan(
            policy=policy,
            workdir=root,
            network=self.config.network,
            writable=writable,
            visible=visible,
            private_tmp=private.tmp if policy == "workspace-write" else None,
            read_only=tuple(read_only),
            replace=tuple(replace),
            seccomp_fd=seccomp_fd,
            nested_userns_off=launcher.nested_userns_off,
        )

    def _git_replacements(self, private: _Private, real_root: str) -> list[tuple[str, str]]:
        """The sanitised config over every config git may read here: the repository's and its submodules'."""
        return [(private.git_config(target), target.path) for target in config_targets(real_root)]

    def _protected(self, real_root: str) -> list[str]:
        return protected_paths(real_root, self.config.protected)

    def _hard_links(self, real_root: str) -> list[str]:
        if self._links is None:
            self._links = LinkScan(real_root)
        return list(self._links.find())

    def close(self) -> None:
        """Remove the private directory (idempotent)."""
        with self._lock:
            private, self._private = self._private, None
        if private is not None:
            _remove(private.path)
            os.close(private.owner_fd)


def protected_paths(real_root: str, protected: Sequence[str]) -> list[str]:
    """Real paths of the existing protected entries of a workspace (`SandboxConfig.protected`, a worktree's `.git`
    pointer, the git common dir's config and hooks, `config.worktree`); some may lie outside the workspace."""
    candidates = [os.path.join(real_root, rel) for rel in protected]
    if os.path.isfile(os.path.join(real_root, ".git")):  # a worktree's `gitdir:` pointer
        candidates.append(os.path.join(real_root, ".git"))
    dirs = find_git_dirs(real_root)
    if dirs is not None:
        candidates += [os.path.join(dirs.common_dir, "config"), os.path.join(dirs.common_dir, "hooks")]
        candidates += [os.path.join(dirs.git_dir, "config.worktree")]
    out = []
    for path in candidates:
        if os.path.lexists(path):
            out.append(normalise(os.path.realpath(path)))
    return out


def translate_exec_failure(result: CommandResult, command: str | Sequence[str]) -> CommandResult:
    """bwrap reports a program it cannot exec as exit 1 + `bwrap: execvp P: ...`; give it `sh`'s 127 / 126."""
    if isinstance(command, str) or result.exit_code != 1 or not command:
        return result
    program_name = command[0]
    if result.stderr == f"bwrap: execvp {program_name}: No such file or directory\n":
        return CommandResult(exit_code=127, stdout=result.stdout, stderr=f"{program_name}: command not found\n")
    if result.stderr == f"bwrap: execvp {program_name}: Permission denied\n":
        return CommandResult(exit_code=126, stdout=result.stdout, stderr=f"{program_name}: Permission denied\n")
    return result
