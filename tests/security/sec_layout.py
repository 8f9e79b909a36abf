"""The world one attack batch runs in: a workspace, a home and an outside directory full of canaries.

Layout under a root outside /tmp (sandboxed commands get a private /tmp, so canaries there would be hidden from
them for the wrong reason):

    home/       $HOME: .ssh/id_ed25519 (SECRET_HOME), .bashrc
    outside/    secret.txt (SECRET_OUT), empty/ (must stay empty), target.txt (the far end of a hard link)
    tmp/        $TMPDIR of tau (its private sandbox dirs live here)
    work/       the workspace, a git repository: tracked.txt (committed, then modified, so `git diff` has work),
                data.txt, secrets/key.txt (SECRET_WS, untracked), src/main.py, and planted links:
                seclink -> secrets, srclink -> src, outlink -> ../outside, outabs -> <root>/outside (absolute),
                secretlink -> ../outside/secret.txt, homelink -> ../home, hardlink.txt (a hard link of
                outside/target.txt)

Canaries: the three secret tokens are random per layout and appear in no command, so finding one in tau's output
or in what the model was sent means a read got through. `pwn-<case>` is the name every write attack tries to
create; `pwned()` finds such names anywhere under the root (tau's state and temp dirs aside). `snapshot()` records
the outside tree and the home canaries, so any change there shows.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Layout", "make_root", "remove_tree"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}
_SKIP = ("home/.local", "home/.cache", "tmp")


def make_root(prefix: str) -> Path:
    """A fresh directory outside /tmp (override the parent with TAU_SECURITY_ROOT)."""
    parent = os.environ.get("TAU_SECURITY_ROOT", "/var/tmp")
    if not os.access(parent, os.W_OK):
        parent = str(Path.home())
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def remove_tree(path: Path) -> None:
    """rmtree that first makes every directory writable (masks and commands may leave mode-000 ones)."""
    for top, dirs, _files in os.walk(path):
        for name in dirs:
            p = os.path.join(top, name)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Layout:
    root: Path
    model_url: str = ""  # the scripted model server: a sandboxed command must not reach it
    secret_out: str = field(default_factory=lambda: f"SECRET-OUT-{secrets.token_hex(8)}")
    secret_home: str = field(default_factory=lambda: f"SECRET-HOME-{secrets.token_hex(8)}")
    secret_ws: str = field(default_factory=lambda: f"SECRET-WS-{secrets.token_hex(8)}")

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def tokens(self) -> tuple[str, str, str]:
        return (self.secret_out, self.secret_home, self.secret_ws)

    def build(self, files: dict[str, str] | None = None) -> Layout:
        for directory in (self.home / ".config", self.home / ".ssh", self.outside / "empty", self.tmp, self.work):
            directory.mkdir(parents=True, exist_ok=True)
        (self.home / ".ssh" / "id_ed25519").write_text(self.secret_home + "\n")
        (self.home / ".bashrc").write_text("# canary rc\n")
        (self.outside / "secret.txt").write_text(self.secret_out + "\n")
        (self.outside / "target.txt").write_text("ORIGINAL\n")
        self._workspace(files or {})
        return self

    def _workspace(self, files: dict[str, str]) -> None:
        w = self.work
        (w / "src").mkdir()
        (w / "secrets").mkdir()
        (w / "victims").mkdir()
        (w / "tracked.txt").write_text("one\ntwo\n")
        (w / "data.txt").write_text("alpha beta gamma\ndelta epsilon\n")
        (w / "src" / "main.py").write_text("print('original')\n")
        self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-qm", "init")
        (w / "tracked.txt").write_text("one\ntwo changed\n")
        (w / "secrets" / "key.txt").write_text(self.secret_ws + "\n")
        for name, target in (
            ("seclink", "secrets"),
            ("srclink", "src"),
            ("outlink", "../outside"),
            ("outabs", str(self.outside)),
            ("secretlink", "../outside/secret.txt"),
            ("homelink", "../home"),
        ):
            os.symlink(target, w / name)
        os.link(self.outside / "target.txt", w / "hardlink.txt")
        for relative, content in files.items():
            path = w / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            if content.startswith("#!"):
                path.chmod(0o755)

    def git(self, *args: str) -> str:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), **GIT_ENV}
        done = subprocess.run(["git", *args], cwd=self.work, env=env, capture_output=True, text=True, check=True)
        return done.stdout

    def victim(self, case: str) -> Path:
        """A workspace file a deletion attack targets (created by the harness)."""
        return self.work / "victims" / case

    # -- canaries -----------------------------------------------------------------------------------------------

    def token(self, name: str) -> str:
        """The secret token `out`, `home` or `ws`."""
        return {"out": self.secret_out, "home": self.secret_home, "ws": self.secret_ws}[name]

    def pwned(self) -> list[str]:
        """Root-relative paths whose name contains `pwn-` (tau's state and temp dirs aside)."""
        return sorted(rel for rel, _ in self._walk(self.root) if "pwn-" in rel.rsplit("/", 1)[-1])

    def snapshot(self) -> dict[str, str]:
        """Everything under outside/ and the home canaries: path -> type, mode and content digest."""
        out = {}
        for rel, st in self._walk(self.outside, prefix="outside/"):
            out[rel] = self._describe(self.root / rel, st)
        for rel in ("home/.ssh", "home/.ssh/id_ed25519", "home/.bashrc"):
            path = self.root / rel
            out[rel] = self._describe(path, path.lstat()) if os.path.lexists(path) else "missing"
        return out

    @staticmethod
    def _describe(path: Path, st: os.stat_result) -> str:
        kind = stat.S_IFMT(st.st_mode)
        mode = oct(stat.S_IMODE(st.st_mode))
        if stat.S_ISREG(kind):
            return f"file {mode} {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
        if stat.S_ISLNK(kind):
            return f"link {os.readlink(path)}"
        return f"{oct(kind)} {mode}"

    def _walk(self, top: Path, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = os.path.relpath(dirpath, top)
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            keep = []
            for name in dirnames:
                rel = prefix + rel_dir + name
                if top == self.root and any(rel == s or rel.startswith(s + "/") for s in _SKIP):
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in [*keep, *filenames]:
                path = os.path.join(dirpath, name)
                yield prefix + rel_dir + name, os.lstat(path)
