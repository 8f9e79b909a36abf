"""`command_wall`'s decision table, row by row (pure: no daemon needed). The docker tests prove each row through the
kernel; this pins the rows no machine here can reach (old Landlock ABIs)."""

from __future__ import annotations

import pytest

from tau.environment.docker_policy import LANDLOCK_MIN_ABI, Wall, command_wall
from tau.environment.policy import SandboxConfig, SandboxPolicy, policy_scope

LANDLOCK = (7, "available")
NONE = (None, "kernel or seccomp profile without Landlock")
OLD = (2, "available")
LANDLOCKED_RO = Wall(landlock={"policy": "read-only", "writable": ["/workspace"]})
LANDLOCKED_WW = Wall(landlock={"policy": "workspace-write", "writable": ["/workspace"]})
REFUSED = "refused"


@pytest.mark.parametrize(
    ("configured", "scope", "landlock", "read_only_mount", "expected"),
    [
        # no Landlock needed
        ("full", None, NONE, False, Wall()),
        ("full", "full", LANDLOCK, False, Wall()),
        ("workspace-write", "full", LANDLOCK, False, LANDLOCKED_WW),  # a scope never loosens
        # Landlock enforces the effective policy
        ("workspace-write", None, LANDLOCK, False, LANDLOCKED_WW),
        ("workspace-write", "read-only", LANDLOCK, False, LANDLOCKED_RO),
        ("read-only", None, LANDLOCK, True, LANDLOCKED_RO),
        ("full", "read-only", LANDLOCK, False, LANDLOCKED_RO),
        # without it (or too old): the mounts hold workspace-write and a read-only mount holds read-only
        ("workspace-write", None, NONE, False, Wall()),
        ("workspace-write", None, OLD, False, Wall()),
        ("read-only", None, NONE, True, Wall()),
        ("workspace-write", "read-only", OLD, True, Wall()),
        ("full", "read-only", NONE, False, Wall()),  # as on the host: `full` runs plainly without a wall
        # ... and nothing holds read-only on a read-write mount: refused
        ("workspace-write", "read-only", NONE, False, REFUSED),
        ("workspace-write", "read-only", OLD, False, REFUSED),
        ("read-only", None, NONE, False, REFUSED),  # an attached container (its mounts are unknown)
    ],
)
def test_the_wall_for_each_policy(
    configured: SandboxPolicy,
    scope: SandboxPolicy | None,
    landlock: tuple[int | None, str],
    read_only_mount: bool,
    expected: Wall | str,
) -> None:
    with policy_scope(scope):
        config = SandboxConfig(policy=configured)
        wall = command_wall(config, landlock=landlock, workspace_read_only=read_only_mount, workdir="/workspace")
    if expected == REFUSED:
        assert wall.landlock is None and wall.refusal is not None
        assert wall.refusal.exit_code == 126 and wall.refusal.stdout == ""
        assert wall.refusal.stderr.startswith("tau sandbox: this command may only read, and ")
    else:
        assert wall == expected


def test_the_refusal_names_what_is_missing() -> None:
    with policy_scope("read-only"):
        missing = command_wall(SandboxConfig(), landlock=NONE, workspace_read_only=False, workdir="/w").refusal
        old = command_wall(SandboxConfig(), landlock=OLD, workspace_read_only=False, workdir="/w").refusal
    assert missing is not None and old is not None
    assert "Landlock is not available in the container (kernel or seccomp profile without Landlock)" in missing.stderr
    assert f"Landlock ABI 2 cannot stop truncate(2) (ABI {LANDLOCK_MIN_ABI}, Linux 6.2, is needed)" in old.stderr
    assert "plan mode (the workspace mounted read-only) or the host environment can run it" in old.stderr


def test_no_config_means_no_wall() -> None:
    with policy_scope("read-only"):
        assert command_wall(None, landlock=NONE, workspace_read_only=False, workdir="/w") == Wall()
