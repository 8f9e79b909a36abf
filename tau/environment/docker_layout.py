"""The filesystem of a managed docker sandbox: how the run's `SandboxConfig` becomes the container's mounts.

Owns `plan_layout(...)`, which turns the configured policy and the workspace as it is now into a `Layout`: whether
the workspace is mounted read-only, and the read-only binds laid over it; and `MaskSources`, the host files those
binds come from. Pure apart from reading the workspace (the host sandbox's own walks: `tau.environment.masks`) and
writing the mask sources.

The layout per configured policy (the same table as the host sandbox, `tau.environment.hostsandbox`):
- `read-only` (plan mode): the workspace mounted read-only; the repository's git config replaced by its sanitised
  copy (`tau.environment.gitconfig`: no fsmonitor, pager, diff or filter programs) and `config.worktree` by an empty
  file; masks.
- `workspace-write`: the workspace read-write; read-only binds of the existing protected paths
  (`hostsandbox.protected_paths`), of the paths `deny_write` covers and of multi-link files with names outside the
  workspace (`LinkScan`); masks.
- `full`: the workspace read-write; masks.
Masks: what `deny_read` covers (`DenyWalk`) hidden behind an empty mode-000 file or directory, in every policy.

Invariants: every bind target is a real path inside the workspace (found by walking it, symlinks resolved),
translated to the container; targets outside it are dropped (the container cannot see them). Precedence on one
target or beneath it: a mask, then a replacement (git config), then a read-only bind; anything beneath a masked
directory is dropped (it would have no mount point), nested read-only binds collapse into the outer one, and a
read-only bind of the workspace root makes the whole mount read-only. What cannot be laid out is refused
(`SandboxError`: a walk past its bounds, a mask of the whole workspace, a path that is not UTF-8), never skipped.
The layout is fixed when the container is made (unlike the host sandbox, which walks before every command): a path
that appears during the run (a new `.env` a deny rule covers, a `.claude/` made by a command) is not masked or bound
for commands until the next container (`Layout.digest` labels it: a reused container whose layout is out of date is
made again); the file tools refuse it at once (they check the rules on every operation).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass

from tau.confine import inside, path_problem
from tau.environment.gitconfig import config_targets, sanitised_text
from tau.environment.hostsandbox import protected_paths
from tau.environment.masks import DenyResult, DenyWalk, LinkScan, TooManyPaths
from tau.environment.mount import MountMap
from tau.environment.policy import SandboxConfig
from tau.environment.sandbox_spec import SandboxError

__all__ = ["Bind", "Layout", "MaskSources", "plan_layout"]


@dataclass(frozen=True)
class Bind:
    """One read-only bind: the host `source` at the container path `target`."""

    source: str
    target: str


@dataclass(frozen=True)
class Layout:
    """A container's filesystem beyond the image: the workspace mount's mode and the read-only binds over it."""

    workspace_read_only: bool = False
    binds: tuple[Bind, ...] = ()

    @property
    def digest(self) -> str:
        """A short hash of the layout (the container's `tau.layout` label)."""
        data = {"ro": self.workspace_read_only, "binds": sorted([bind.source, bind.target] for bind in self.binds)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _is(path: str, kind: int, mode: int, size: int | None = 0) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    right_size = size is None or st.st_size == size
    return stat.S_IFMT(st.st_mode) == kind and st.st_mode & 0o7777 == mode and st.st_uid == os.geteuid() and right_size


class MaskSources:
    """Host files the sandbox binds from, under `<parent or the temp dir>/tau-docker-masks-<euid>` (mode 0700): an
    empty mode-000 file and directory (masks), an empty readable file, and content-addressed read-only texts
    (sanitised git configs). Made when missing and never removed: a container binds them again on every (re)start
    and may outlive this process (`sandbox.keep`). Every file is created beside its name and renamed into place, so
    concurrent tau processes never see one half made."""

    def __init__(self, parent: str | None = None) -> None:
        self.base = os.path.join(parent or tempfile.gettempdir(), f"tau-docker-masks-{os.geteuid()}")
        self.file = os.path.join(self.base, "file")
        self.dir = os.path.join(self.base, "dir")
        self.blank = os.path.join(self.base, "blank")

    def ensure(self) -> MaskSources:
        """Make what is missing (also after something removed them); raises `SandboxError`."""
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.base, 0o700)
            st = os.lstat(self.base)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                raise SandboxError(f"{self.base} is not a private directory of this user: remove it or set TMPDIR")
            self._place(self.file, stat.S_IFREG, 0o000)
            self._place(self.dir, stat.S_IFDIR, 0o000)
            self._place(self.blank, stat.S_IFREG, 0o444)
        except OSError as error:
            raise SandboxError(f"cannot make the sandbox's mask files in {self.base}: {error}") from error
        return self

    def text(self, content: str) -> str:
        """A read-only file holding `content` (named by its hash)."""
        data = content.encode()
        path = os.path.join(self.base, "text-" + hashlib.sha256(data).hexdigest()[:24])
        try:
            self._place(path, stat.S_IFREG, 0o444, data)
        except OSError as error:
            raise SandboxError(f"cannot write {path}: {error}") from error
        return path

    @staticmethod
    def _place(path: str, kind: int, mode: int, data: bytes = b"") -> None:
        size = None if kind == stat.S_IFDIR else len(data)
        if _is(path, kind, mode, size):
            return
        temporary = f"{path}.{os.getpid()}.{os.urandom(4).hex()}"
        if kind == stat.S_IFDIR:
            os.mkdir(temporary, 0o700)
        else:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        os.chmod(temporary, mode)
        try:
            os.rename(temporary, path)
        except OSError:
            (os.rmdir if kind == stat.S_IFDIR else os.unlink)(temporary)
            if not _is(path, kind, mode, size):
                raise


class _Targets:
    """Container targets and their sources, first claim wins (masks, then replacements, then read-only binds)."""

    def __init__(self, mount: MountMap) -> None:
        self.mount = mount
        self.sources: dict[str, str] = {}
        self.mask_dirs: list[str] = []
        self.workspace_read_only = False

    def target(self, path: str) -> str | None:
        """The container path of a real host path inside the workspace (None outside it)."""
        target = self.mount.to_container(path)
        if target is not None and path_problem(target) is not None:
            raise SandboxError(f"cannot bind {path!r} into the sandbox: it {path_problem(target)}")
        return target

    def claim(self, path: str, source: str, *, mask_dir: bool = False) -> None:
        target = self.target(path)
        if target is None or target in self.sources or _beneath_any(target, tuple(self.mask_dirs)):
            return
        if target == self.mount.container_root:
            if source != path:
                raise SandboxError("a deny Read rule covers the whole workspace; nothing would be left to work on")
            self.workspace_read_only = True
            return
        self.sources[target] = source
        if mask_dir:
            self.mask_dirs.append(target)


def _denied(config: SandboxConfig) -> DenyResult:
    walk = DenyWalk(config.mask_roots, config.deny_read, config.deny_write)
    return walk.find() if walk.active else DenyResult()


def _git_replacements(real_root: str, sources: MaskSources) -> list[tuple[str, str]]:
    """(real path, source): the sanitised config over every config git may read here (the repository's and its
    submodules'), an empty file over each `config.worktree`."""
    return [
        (target.path, sources.blank if target.blank else sources.text(sanitised_text(target.path, target.bound)))
        for target in config_targets(real_root)
    ]


def plan_layout(host_root: str, container_root: str, config: SandboxConfig, sources: MaskSources) -> Layout:
    """The layout of a container for `config` over the workspace at `host_root` (real), mounted at
    `container_root`. Raises `SandboxError` when it cannot be laid out (see the module docstring)."""
    targets = _Targets(MountMap(host_root, container_root))
    try:
        denied = _denied(config)
        for path in sorted(denied.read_dirs, key=len):  # outer directories first: what lies beneath is dropped
            targets.claim(path, sources.dir, mask_dir=True)
        for path in denied.read_files:
            targets.claim(path, sources.file)
        if config.policy == "read-only":
            targets.workspace_read_only = True
            for path, source in _git_replacements(host_root, sources):
                targets.claim(path, source)
        elif config.policy == "workspace-write":
            read_only = [*protected_paths(host_root, config.protected), *denied.write, *LinkScan(host_root).find()]
            for path in sorted(read_only, key=len):
                targets.claim(os.path.normpath(path), os.path.normpath(path))
    except TooManyPaths as error:
        raise SandboxError(str(error)) from error
    binds = []
    self_bound = tuple(target for target, source in targets.sources.items() if targets.mount.to_host(target) == source)
    for target, source in sorted(targets.sources.items()):
        is_self = target in self_bound
        if is_self and (targets.workspace_read_only or _beneath_any(target, self_bound)):
            continue  # already read-only: the whole mount, or an outer read-only bind
        binds.append(Bind(source, target))
    return Layout(workspace_read_only=targets.workspace_read_only, binds=tuple(binds))


def _beneath_any(path: str, roots: tuple[str, ...]) -> bool:
    """Strictly below one of `roots` (not equal to it)."""
    return any(path != root and inside(path, root) for root in roots)
