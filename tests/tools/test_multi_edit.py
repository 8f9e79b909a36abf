"""multi_edit (Claude Code's MultiEdit): ordered edits applied all or none, with edit's confinement and permissions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ToolReturnPart

from tau.config.spec import PermissionsSpec
from tau.permissions import PermissionPolicy
from tau.permissions.rules import parse_rule

RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio

TOOLS = ("read", "multi_edit")


async def test_edits_apply_in_order_each_to_the_result_of_the_last(run_one: RunOne, root: Path) -> None:
    (root / "app.py").write_text("import os\n\ndef main():\n    print('hi')\n    print('hi')\n")
    part = await run_one(
        "multi_edit",
        {
            "file_path": "app.py",
            "edits": [
                {"old_string": "import os", "new_string": "import os\nimport sys"},
                {"old_string": "print('hi')", "new_string": "print('hello')", "replace_all": True},
                {"old_string": "import sys\n", "new_string": "import sys  # for argv\n"},
            ],
        },
        names=TOOLS,
    )
    assert part.outcome == "success"
    assert part.content.splitlines()[0] == f"Edited {root}/app.py: applied 3 edit(s), 4 replacement(s)."
    assert "edit 2:\n" in part.content and "print('hello')" in part.content
    assert (root / "app.py").read_text() == (
        "import os\nimport sys  # for argv\n\ndef main():\n    print('hello')\n    print('hello')\n"
    )


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ({"old_string": "absent", "new_string": "x"}, "edit 2: old_string was not found in"),
        ({"old_string": "b", "new_string": "x"}, "edit 2: old_string occurs 2 times in"),
        ({"old_string": "", "new_string": "x"}, "edit 2: old_string is empty"),
    ],
)
async def test_one_failing_edit_leaves_the_file_untouched(
    run_one: RunOne, root: Path, second: dict[str, str], problem: str
) -> None:
    (root / "f.txt").write_text("a b b\n")
    part = await run_one(
        "multi_edit",
        {"file_path": "f.txt", "edits": [{"old_string": "a", "new_string": "A"}, second]},
        names=TOOLS,
    )
    assert part.outcome == "failed"
    assert str(part.content).startswith(problem)
    assert str(part.content).endswith("Nothing was changed")
    assert (root / "f.txt").read_text() == "a b b\n"


async def test_an_empty_first_old_string_creates_the_file(run_one: RunOne, root: Path) -> None:
    part = await run_one(
        "multi_edit",
        {
            "file_path": "new/notes.md",
            "edits": [
                {"old_string": "", "new_string": "# Notes\nTODO\n"},
                {"old_string": "TODO", "new_string": "done"},
            ],
        },
        names=TOOLS,
    )
    assert part.outcome == "success", part.content
    assert str(part.content).startswith(f"Created {root}/new/notes.md (2 lines): applied 2 edit(s), 1 replacement(s).")
    assert (root / "new/notes.md").read_text() == "# Notes\ndone\n"


async def test_it_cannot_leave_the_workspace(run_one: RunOne, root: Path) -> None:
    outside = root.parent / "outside" / "x.txt"
    outside.write_text("keep\n")
    part = await run_one(
        "multi_edit",
        {"file_path": str(outside), "edits": [{"old_string": "keep", "new_string": "lost"}]},
        names=TOOLS,
    )
    assert part.outcome == "failed"
    assert "escapes the workspace" in str(part.content)
    assert outside.read_text() == "keep\n"


async def test_identical_strings_and_no_edits_are_retried(run_one: RunOne, root: Path) -> None:
    (root / "f.txt").write_text("a\n")
    same = await run_one(
        "multi_edit", {"file_path": "f.txt", "edits": [{"old_string": "a", "new_string": "a"}]}, names=TOOLS
    )
    empty = await run_one("multi_edit", {"file_path": "f.txt", "edits": []}, names=TOOLS)
    assert (same.outcome, empty.outcome) == ("retried", "retried")
    assert "identical" in str(same.content) and "edits is empty" in str(empty.content)
    assert (root / "f.txt").read_text() == "a\n"


def test_permissions_judge_it_as_an_edit(tmp_path: Path) -> None:
    workspace = str(tmp_path / "ws")
    spec = PermissionsSpec(mode="acceptEdits", deny=["Edit(secrets/**)"])
    policy = PermissionPolicy.from_spec(spec, workspace=workspace, home=str(tmp_path / "home"))
    args = {"edits": [{"old_string": "a", "new_string": "b"}]}
    assert policy.evaluate("multi_edit", {"file_path": "src/app.py", **args}).kind == "allow"
    assert policy.evaluate("multi_edit", {"file_path": "secrets/key.txt", **args}).kind == "deny"
    assert policy.evaluate("multi_edit", {"file_path": ".claude/settings.json", **args}).kind == "ask"
    plan = PermissionPolicy.from_spec(PermissionsSpec(mode="plan"), workspace=workspace, home=str(tmp_path))
    assert plan.evaluate("multi_edit", {"file_path": "src/app.py", **args}).kind == "deny"
    assert parse_rule("MultiEdit", workspace=workspace, home=str(tmp_path)).covers("multi_edit")
