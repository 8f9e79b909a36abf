"""Workspace trust: whether the person running tau trusts the repository whose files a run reads.

A repository's own files — everything under its root: `.tau/`, `.claude/`, `.codex/`, `.mcp.json`, memory files —
may only *tighten* a run unless its root is trusted (see `trust_keys` for what tightening means per key). Trust is
decided per root: the nearest directory at or above a path holding `.git` or `.tau/` (a `.tau/` in `$HOME` is user
configuration, not a project), else the path itself.

Ways to trust, the first that applies wins:

1. `--trust-workspace` / `TAU_TRUST_WORKSPACE=1`: this invocation trusts the workspace's root, whatever its files
   say (CI jobs that check out their own repository).
2. `trusted_workspaces = [...]` in the user config (`~/.config/tau/config.toml`): those directories and everything
   below them, unconditionally.
3. `tau trust [DIR]`: recorded in `$XDG_CONFIG_HOME/tau/trust.json` (mode 0600), keyed by the root's real path, with
   the sha256 of every trust-relevant file (`TRUST_FILES`, in the root and in each directory down to DIR; pins of
   other directories, from an earlier `tau trust` in another subdirectory, are kept). A run compares the files of
   the directories from the root down to its workspace with the pins of those directories: when any of them
   changes, appears or disappears (a `git pull` that edits hooks or servers), the root is untrusted again until
   `tau trust` runs again, and the notice names the files. Pins of other directories do not matter to that run.

Nothing else trusts: not the repository's own config (a project cannot trust itself), not a file's owner.
Reads only the files named here; `env` and `home` are injected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.confine import inside
from tau.errors import ConfigError

__all__ = [
    "NEVER_TRUSTED",
    "TRUST_ENV",
    "TRUST_FILES",
    "Pins",
    "Trust",
    "TrustStore",
    "decide_trust",
    "project_root",
    "trust_files",
    "trust_for",
    "trust_hint",
]

TRUST_ENV = "TAU_TRUST_WORKSPACE"
TRUST_FILES: tuple[str, ...] = (
    ".tau/config.toml",
    ".tau/settings.json",
    ".tau/hooks.json",
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".codex/hooks.json",
    ".mcp.json",
)
"""Workspace-relative files that can execute, loosen or redirect when trusted: `tau trust` pins their content."""
NEVER_TRUSTED = "never trusted"
_TRUE = frozenset({"1", "true", "yes", "on"})
_STORE_VERSION = 1


def project_root(path: Path, home: Path | None) -> Path:
    """The nearest directory at or above `path` holding `.git` or `.tau/` (not `home`'s `.tau/`), else `path`."""
    start = Path(os.path.realpath(path))
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
        if (directory / ".tau").is_dir() and (home is None or directory != Path(os.path.realpath(home))):
            return directory
    return start


class Pins(dict[str, str]):
    """sha256 per trust-relevant file, keyed by its path relative to the root, of the `directories` looked at
    (relative to the root; `.` is the root itself)."""

    def __init__(self, files: Mapping[str, str], directories: Iterable[str]) -> None:
        super().__init__(files)
        self.directories = tuple(directories)


def _directory_of(name: str) -> str:
    """The directory (relative to the root, `.` for the root) a pinned file's name belongs to."""
    for suffix in TRUST_FILES:
        if name == suffix:
            return "."
        if name.endswith("/" + suffix):
            return name[: -len(suffix) - 1]
    return name  # not a trust file's name (a hand-edited store): in no directory's pins


def trust_files(root: Path, workspace: Path) -> Pins:
    """sha256 of each existing trust-relevant file, keyed by its path relative to `root`, for every directory from
    `root` down to `workspace` (only `root` when the workspace is not below it). Unreadable files hash as errors."""
    real_root = os.path.realpath(root)
    real_ws = os.path.realpath(workspace)
    relative = ["."]
    if real_ws != real_root and inside(real_ws, real_root):
        parts = Path(os.path.relpath(real_ws, real_root)).parts
        relative += [os.path.join(*parts[: i + 1]) for i in range(len(parts))]
    found: dict[str, str] = {}
    for directory in relative:
        for name in TRUST_FILES:
            path = os.path.normpath(os.path.join(real_root, directory, name))
            if not os.path.lexists(path):
                continue
            found[os.path.relpath(path, real_root)] = _digest(path)
    return Pins(found, relative)


def _digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError as error:
        return f"unreadable: {error.strerror or error}"


@dataclass(frozen=True)
class Trust:
    """The verdict for one root. `via` says how it is trusted; `problem` why it is not (both one phrase)."""

    root: str
    trusted: bool
    via: str = ""
    problem: str = NEVER_TRUSTED

    def owns(self, path: str | Path) -> bool:
        """Whether `path` (absolute) is one of this repository's own files: the root or below it."""
        return inside(os.path.realpath(path), self.root)

    def describe(self) -> str:
        return f"trusted ({self.via})" if self.trusted else f"untrusted ({self.problem})"


def trust_hint(root: str) -> str:
    return f"trust it with `tau trust {root}`, --trust-workspace or {TRUST_ENV}=1"


class TrustStore:
    """`trust.json` in tau's user config directory: trusted roots with their pinned files."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def for_env(cls, env: Mapping[str, str]) -> TrustStore:
        xdg = env.get("XDG_CONFIG_HOME", "")
        if xdg and os.path.isabs(xdg):
            return cls(Path(xdg) / "tau" / "trust.json")
        home = env.get("HOME", "")
        return cls(Path(home) / ".config" / "tau" / "trust.json" if home else None)

    def entries(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read the trust store: {error}", source=str(self.path)) from None
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"invalid JSON: {error}", source=str(self.path)) from None
        roots = data.get("workspaces") if isinstance(data, dict) else None
        if not isinstance(roots, dict):
            raise ConfigError("expected an object with a `workspaces` table", source=str(self.path))
        return {str(k): v for k, v in roots.items() if isinstance(v, dict)}

    def trust(self, root: Path, files: Mapping[str, str]) -> None:
        """Pin `files` for `root`. `Pins` replace the pins of their directories only (others are kept); a plain
        mapping replaces them all."""
        entries = self.entries()
        key = os.path.realpath(root)
        kept: dict[str, str] = {}
        if isinstance(files, Pins):
            old = entries.get(key, {}).get("files")
            old_files: dict[str, Any] = old if isinstance(old, dict) else {}
            kept = {n: str(d) for n, d in old_files.items() if _directory_of(n) not in files.directories}
        entries[key] = {"files": dict(sorted({**kept, **files}.items()))}
        self._write(entries)

    def revoke(self, root: Path) -> bool:
        entries = self.entries()
        removed = entries.pop(os.path.realpath(root), None) is not None
        if removed:
            self._write(entries)
        return removed

    def _write(self, entries: Mapping[str, Any]) -> None:
        if self.path is None:
            raise ConfigError("no user config directory: set HOME or XDG_CONFIG_HOME", source="tau trust")
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=directory, prefix=".trust-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"version": _STORE_VERSION, "workspaces": entries}, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temp, 0o600)
                os.replace(temp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as error:
            raise ConfigError(
                f"cannot write the trust store: {error.strerror or error}", source=str(self.path)
            ) from None


def _listed(root: str, listed: Iterable[str], home: str | None) -> str | None:
    for entry in listed:
        expanded = home + entry[1:] if home and (entry == "~" or entry.startswith("~/")) else entry
        if os.path.isabs(expanded) and inside(root, os.path.realpath(expanded)):
            return entry
    return None


def trust_for(workspace: Path, env: Mapping[str, str], *, flag: bool = False) -> Trust:
    """`decide_trust` with the user config's `trusted_workspaces` read from the user config file."""
    from tau.config.layers import read_config_file, user_config_path

    path = user_config_path(env)
    listed: list[str] = []
    if path is not None and path.is_file():
        listed = [str(entry) for entry in read_config_file("user", path).data.get("trusted_workspaces", [])]
    return decide_trust(workspace, env=env, flag=flag, listed=listed)


def decide_trust(
    workspace: Path,
    *,
    env: Mapping[str, str],
    flag: bool = False,
    listed: Iterable[str] = (),
    store: TrustStore | None = None,
) -> Trust:
    """The trust verdict for `workspace`'s root (see the module docstring for the order)."""
    home = env.get("HOME") or None
    root = project_root(workspace, Path(home) if home else None)
    key = str(root)
    if flag:
        return Trust(key, True, "--trust-workspace")
    if env.get(TRUST_ENV, "").strip().lower() in _TRUE:
        return Trust(key, True, f"{TRUST_ENV}=1")
    if (entry := _listed(key, listed, home)) is not None:
        return Trust(key, True, f"trusted_workspaces entry {entry!r} in the user config")
    entries = (store or TrustStore.for_env(env)).entries()
    pinned = entries.get(key)
    if pinned is None:
        return Trust(key, False, problem=NEVER_TRUSTED)
    files = pinned.get("files")
    have = trust_files(root, workspace)
    want = {n: d for n, d in files.items() if _directory_of(n) in have.directories} if isinstance(files, dict) else {}
    changed = sorted(name for name in set(want) | set(have) if want.get(name) != have.get(name))
    if changed:
        return Trust(key, False, problem=f"changed since `tau trust`: {', '.join(changed)}")
    return Trust(key, True, "tau trust")
