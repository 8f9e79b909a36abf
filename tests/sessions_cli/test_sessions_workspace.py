"""`tau sessions diff` over workspace pins, `tau fork --with-files`, subagent sessions in `tau sessions log` and
`tau sessions ls --all`: in-process runs with scripted models write the store, `tau` subprocesses read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from sessions_cli_helpers import Box, make_box, make_job, resume, run_in_process

from tau.config.spec import PermissionsSpec
from tau.sessions import FileSessionStore, StepRecord
from tau.sessions.checkpoints import ABSENT, FileState, MemoryObjects
from tau.sessions.workspace_diff import file_patch as _file_patch
from tau.sessions.workspace_diff import tree_changes as _tree_changes
from tau.testing import calls, reply

EDITS = PermissionsSpec(mode="acceptEdits", on_ask="suspend")
TASK = ("task", {"description": "help out", "prompt": "Do the sub-task.", "subagent_type": "helper"})


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return make_box(tmp_path)


def write(path: str, content: str) -> tuple[str, dict[str, str]]:
    return ("write", {"file_path": path, "content": content})


def two_runs(box: Box) -> tuple[str, str]:
    """Session `s`: the first run writes notes.txt and keep.txt, the second changes notes.txt and adds new.txt.
    Returns the head snapshot after each run."""
    job = make_job(box.work, prompt="Write notes.", permissions=EDITS)
    store = FileSessionStore(box.state)

    async def runs() -> tuple[str, str]:
        first, _, _ = await run_in_process(
            job,
            [calls(write("notes.txt", "one\nsame\n"), write("keep.txt", "k\n")), reply("Wrote.")],
            box.state,
            session_id="s",
        )
        assert first.exit_code == 0
        a = store.head("s")
        second, _, _ = await run_in_process(
            job,
            [calls(write("notes.txt", "two\nsame\n"), write("new.txt", "fresh\n")), reply("Changed.")],
            box.state,
            session_id="s",
            continuation=resume("Change them."),
        )
        assert second.exit_code == 0
        return a, store.head("s")

    a, b = anyio.run(runs)
    assert store.snapshot(a).workspace and store.snapshot(b).workspace
    assert store.snapshot(a).workspace != store.snapshot(b).workspace
    return a, b


def test_diff_lists_and_patches_the_workspace_changes(box: Box) -> None:
    a, b = two_runs(box)
    diff = box.tau("sessions", "diff", a, b)
    assert diff.returncode == 0, diff.stderr
    lines = diff.stdout.splitlines()
    assert "+ user: Change them." in lines
    header = next(line for line in lines if line.startswith("workspace: "))
    assert " -> " in header and "not pinned" not in header
    assert "  changed  notes.txt" in lines and "  added    new.txt" in lines
    assert not any("keep.txt" in line for line in lines)
    assert "---" not in diff.stdout.split("workspace: ")[1]  # no patch without --patch

    patched = box.tau("sessions", "diff", a, b, "--patch").stdout.split("workspace: ")[1].splitlines()
    assert "--- a/notes.txt" in patched and "+++ b/notes.txt" in patched
    assert "-one" in patched and "+two" in patched and " same" in patched
    assert "--- /dev/null" in patched and "+++ b/new.txt" in patched and "+fresh" in patched

    backwards = box.tau("sessions", "diff", b, a).stdout.splitlines()
    assert "  removed  new.txt" in backwards and "  changed  notes.txt" in backwards
    assert "workspace: same" in box.tau("sessions", "diff", b, "s").stdout


def test_diff_says_not_pinned_for_a_side_without_a_pin(box: Box) -> None:
    _, b = two_runs(box)
    assert box.tau("run", "-p", "Hi.", "-m", "test:x", "--session-id", "bare").returncode == 0
    out = box.tau("sessions", "diff", "bare", b).stdout
    assert f"workspace: not pinned -> {FileSessionStore(box.state).snapshot(b).workspace[:12]}" in out  # type: ignore[index]


def test_tree_changes_and_patches_of_binary_and_uncaptured_files() -> None:
    objects = MemoryObjects()
    text, other, binary = (objects.put_object(data) for data in (b"x\n", b"y\n", b"\0\1"))
    left = {"gone.txt": FileState(blob=text, size=2), "bin": FileState(blob=binary, size=2), "big": ABSENT}
    right = {"gone.txt": ABSENT, "bin": FileState(blob=other, size=2), "big": FileState(skipped="too large", size=9)}
    changes = _tree_changes(left, {}, right, {"late.txt": FileState(blob=text, size=2)})
    assert [(kind, path) for kind, path, _, _ in changes] == [
        ("added", "big"),
        ("changed", "bin"),
        ("removed", "gone.txt"),
    ]
    assert _file_patch(objects, "gone.txt", changes[2][2], changes[2][3]) == [
        "--- a/gone.txt",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-x",
    ]
    assert _file_patch(objects, "bin", changes[1][2], changes[1][3])[-1] == "(binary: no text diff)"
    assert _file_patch(objects, "big", changes[0][2], changes[0][3])[-1] == "(not captured: no text diff)"
    # a path only the right side saw counts as its first-seen state on the left: no change
    assert (
        _tree_changes({}, {}, {"late.txt": FileState(blob=text, size=2)}, {"late.txt": FileState(blob=text, size=2)})
        == []
    )


def test_fork_with_files_restores_the_snapshot_workspace(box: Box) -> None:
    a, _ = two_runs(box)
    assert (box.work / "notes.txt").read_text() == "two\nsame\n" and (box.work / "new.txt").exists()

    plain = box.tau("fork", a, "-p", "No files.", "-m", "test:x", "--session-id", "plain")
    assert plain.returncode == 0, plain.stderr
    assert (box.work / "notes.txt").read_text() == "two\nsame\n" and (box.work / "new.txt").exists()
    assert "restored" not in plain.stderr

    forked = box.tau("fork", a, "--with-files", "-p", "Again.", "-m", "test:x", "--session-id", "f", "-o", "json")
    assert forked.returncode == 0, forked.stderr
    assert (box.work / "notes.txt").read_text() == "one\nsame\n"
    assert not (box.work / "new.txt").exists()
    assert (box.work / "keep.txt").read_text() == "k\n"
    err = forked.stderr.splitlines()
    assert err[0].startswith(f"restore {box.work} to snapshot {a[:12]} (step ")
    assert "restored notes.txt" in err and "deleted new.txt" in err
    assert any(line.startswith("1 restored, 1 deleted") for line in err)
    assert json.loads(forked.stdout)["session_id"] == "f"
    assert "user: Again." in box.tau("sessions", "show", "f").stdout
    assert box.tau("sessions", "fsck").returncode == 0


def subagent_run(box: Box, steps: list[Any], tools: str) -> FileSessionStore:
    agents = box.work / ".tau" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text(f"---\nname: helper\ndescription: helps\ntools: {tools}\n---\nYou help.\n")
    job = make_job(box.work, prompt="Delegate.", permissions=EDITS)

    async def run() -> None:
        result, _, _ = await run_in_process(job, steps, box.state, session_id="p")
        assert result.exit_code == 0

    anyio.run(run)
    return FileSessionStore(box.state)


def test_log_shows_subagent_sessions_and_ls_hides_them(box: Box) -> None:
    store = subagent_run(box, [calls(TASK), reply("Sub-task done."), reply("All done.")], "Read, Write")
    [child] = [s for s in store.refs.sessions() if s.startswith("p.task-")]

    log = box.tau("sessions", "log", "p")
    assert log.returncode == 0, log.stderr
    lines = log.stdout.splitlines()
    [arrow] = [i for i, line in enumerate(lines) if "↳" in line]
    assert lines[arrow] == f"  ↳ {child} helper completed"
    parent_chain = [sid for sid, _ in store.chain(store.head("p"))]
    assert len(lines) == len(parent_chain) + 1
    # listed right under the parent snapshot the task call was made from
    started_from = lines[arrow - 1].split()[0]
    assert any(sid.startswith(started_from) for sid in parent_chain)
    root = store.snapshot(store.head(child)).root or store.head(child)
    info = store.config(store.snapshot(root).config)["subagent"]
    assert info["parent_snapshot"].startswith(started_from)

    ls = box.tau("sessions", "ls").stdout
    assert "\np " in ls and child not in ls
    assert child in box.tau("sessions", "ls", "--all").stdout
    assert child not in box.tau("sessions", "ls", "--json").stdout
    assert child in box.tau("sessions", "ls", "--json", "--all").stdout
    assert len(box.tau("sessions", "ls", "--all", "--limit", "1").stdout.splitlines()) == 2  # header + 1


def test_log_recurses_into_grandchildren(box: Box) -> None:
    """A grandchild session as the subagent recorder writes one (its config's `subagent` names the child)."""
    store = subagent_run(box, [calls(TASK), reply("Sub-task done."), reply("All done.")], "Read, Write")
    [child] = [s for s in store.refs.sessions() if s.startswith("p.task-")]
    grandchild = f"{child}.task-call_9"

    async def add_grandchild() -> None:
        info = {"parent_session": child, "parent_snapshot": store.head(child), "agent": "leaf", "parent_call_id": "9"}
        await store.begin(grandchild, {"subagent": info})
        await store.commit(grandchild, StepRecord(1, [], status="completed"))
        await store.close(grandchild)

    anyio.run(add_grandchild)
    arrows = [line for line in box.tau("sessions", "log", "p").stdout.splitlines() if "↳" in line]
    assert arrows == [f"  ↳ {child} helper completed", f"    ↳ {grandchild} leaf completed"]
    child_log = box.tau("sessions", "log", child).stdout.splitlines()
    assert child_log[-1] == f"  ↳ {grandchild} leaf completed"
    assert grandchild not in box.tau("sessions", "ls").stdout
