"""The git cases can fail: in each clone, the same read-only commands run with plain git (no tau, no sandbox) do
run the program the repository's git configuration names, or print the user's key (`core.worktree`). Fast: no
model, no tau process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hostile_cases import FAMILIES
from hostile_kit import EXECUTED, SECRET_MARK, Case, World, build

CASES = [case for case in FAMILIES["git"] if not case.id.startswith("git-plan-")]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_vector_is_live_under_plain_git(case: Case, tmp_path: Path) -> None:
    world = World(tmp_path, f"plain-{case.id}", "http://127.0.0.1:9", "http://127.0.0.1:9")
    build(world, case)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(world.home), "GIT_CONFIG_NOSYSTEM": "1"}
    output = ""
    for call in case.calls:
        command = str(call.args["command"])
        done = subprocess.run(command, shell=True, cwd=world.work, env=env, capture_output=True, text=True, check=False)
        output += done.stdout + done.stderr
    ran = sorted(p.name for p in world.ran_dir.iterdir())
    assert ran or EXECUTED in output or SECRET_MARK in output, f"{case.id}: plain git ran nothing\n{output}"
