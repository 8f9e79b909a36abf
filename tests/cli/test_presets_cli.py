"""`tau presets ls/show/create/edit/rm` and `tau run --preset NAME[@N]` as subprocesses in a hermetic box (HOME, XDG
dirs and TAU_STATE_DIR under tmp): versions, stale edits, one-line errors with exit 2, a preset's job resolved under
the command line's own flags, and the same presets seen by `tau serve`'s catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tau.sessions import FileSessionStore
from tau.sessions.catalog import Catalog, catalog_path

_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")
JOB = "---\nmodel: test:x\nlimits:\n  max_turns: 3\npermissions:\n  allow: [Read]\n---\nReview {{ target }}.\n"


class Box:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"
        self.state = root / "state"
        (root / "home" / ".config").mkdir(parents=True)
        self.work.mkdir()

    def tau(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        home = self.root / "home"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
               "XDG_CONFIG_HOME": str(home / ".config"), "XDG_STATE_HOME": str(home / ".state"),
               "XDG_CACHE_HOME": str(home / ".cache"), "TAU_STATE_DIR": str(self.state)}  # fmt: skip
        if os.environ.get("PYTHONPATH"):  # a checkout other than the installed one
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return subprocess.run([*TAU, *args], cwd=self.work, env=env, capture_output=True, text=True, timeout=60,
                              check=False, input=stdin)  # fmt: skip

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.tau(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def refused(self, *args: str, stdin: str | None = None) -> str:
        done = self.tau(*args, stdin=stdin)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
        return done.stderr


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def test_presets_lifecycle(box: Box) -> None:
    (box.work / "review.md").write_text(JOB)
    created = json.loads(box.ok("presets", "create", "review", "review.md", "--description", "Code review", "--json"))
    assert (created["name"], created["version"], created["spec"]["description"]) == ("review", 1, "Code review")
    assert "already exists" in box.refused("presets", "create", "review", "review.md")
    assert "invalid preset name" in box.refused("presets", "create", "../x", "review.md")
    assert "cannot read" in box.refused("presets", "create", "other", "missing.md")
    assert "never closed" in box.refused("presets", "create", "bad", "-", stdin="---\nmodel: x\n")
    box.ok("presets", "create", "plain", "-", stdin="Just a prompt.\n")

    edited = box.ok("presets", "edit", "review", "-", "--expected-version", "1", stdin=JOB.replace("3", "4"))
    assert edited.strip() == "review v2"
    assert "version 2, not 1" in box.refused("presets", "edit", "review", "review.md", "--expected-version", "1")
    assert box.ok("presets", "show", "review@1") == JOB
    assert "max_turns: 4" in box.ok("presets", "show", "review")
    shown = json.loads(box.ok("presets", "show", "review", "--json"))
    assert (shown["version"], shown["spec"]["description"]) == (2, "Code review")  # edit keeps the description
    assert "has no version 7" in box.refused("presets", "show", "review@7")
    listed = [json.loads(line) for line in box.ok("presets", "ls", "--json").splitlines()]
    assert [(p["name"], p["version"]) for p in listed] == [("plain", 1), ("review", 2)]
    assert "review" in box.ok("presets", "ls") and "v2" in box.ok("presets", "ls")

    # the server's catalog is the same database
    assert Catalog(catalog_path(box.state)).preset("review", 1) is not None
    removed = box.ok("presets", "rm", "review", "plain").splitlines()
    assert removed == ["removed review (2 versions)", "removed plain (1 version)"]
    assert "no preset named 'review'" in box.refused("presets", "rm", "review")
    assert box.ok("presets", "ls") == ""


def _config(box: Box, session: str) -> dict[str, Any]:
    """The resolved job the session's head snapshot stores."""
    store = FileSessionStore(box.state)
    return store.config(store.snapshot(store.head(session)).config)


def test_run_with_a_preset(box: Box) -> None:
    (box.work / "review.md").write_text(JOB)
    box.ok("presets", "create", "review", "review.md")
    box.ok("presets", "edit", "review", "-", stdin=JOB.replace("max_turns: 3", "max_turns: 5"))
    box.ok("run", "--preset", "review", "--var", "target=the diff", "--session-id", "latest")
    box.ok("run", "--preset", "review@1", "--var", "target=x", "--max-turns", "9", "--allow", "Glob",
           "--session-id", "pinned")  # fmt: skip
    box.ok("run", "--preset", "review", "-p", "Only this.", "--session-id", "prompted")
    latest, pinned, prompted = (_config(box, name) for name in ("latest", "pinned", "prompted"))
    assert latest["prompt"] == "Review the diff."
    assert latest["limits"]["max_turns"] == 5
    assert pinned["limits"]["max_turns"] == 9  # the command line wins
    assert pinned["permissions"]["allow"] == ["Read", "Glob"]
    assert (prompted["prompt"], prompted["limits"]["max_turns"]) == ("Only this.", 5)

    assert "no preset named 'nope'" in box.refused("run", "--preset", "nope")
    assert "has no version 3" in box.refused("run", "--preset", "review@3")
    assert "not both" in box.refused("run", "review.md", "--preset", "review")
