"""Workspace checkpoints on a real pydantic-ai Agent: tau's write/edit/bash over a host workspace, a scripted model;
rewinding to every step's pin restores the files exactly and reports what changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from cpsupport import files_of, run_script
from pydantic_ai.workspaces import Workspace

from tau.checkpoints.recorder import CheckpointLimits, CheckpointRecorder, rewind
from tau.environment import HostBackend
from tau.sessions.checkpoints import MemoryObjects, read_checkpoint
from tau.testing.scripted import calls, reply

pytestmark = pytest.mark.anyio

BASH = (
    "echo made > made.txt && rm b.txt && echo changed > c.txt && mkdir -p build && echo junk > build/out"
    " && echo noise > y.log && echo kept > keep.log && mkdir -p sub/deep && echo deep > sub/deep/e.txt"
)
TURNS = [
    calls(("write", {"file_path": "new.txt", "content": "fresh\n"})),
    calls(("edit", {"file_path": "a.txt", "old_string": "alpha", "new_string": "ALPHA"})),
    calls(("bash", {"command": BASH})),
    reply("done"),
]
IGNORED = ("build/out", "y.log", "x.log")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for name, text in {
        "a.txt": "alpha\n",
        "b.txt": "beta\n",
        "c.txt": "gamma\n",
        "sub/d.txt": "delta\n",
        "x.log": "old log\n",
        "keep.log": "orig\n",
        ".gitignore": "build/\n*.log\n!keep.log\n",
    }.items():
        (root / name).write_text(text)
    return root


def tracked(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if path not in IGNORED}


async def test_rewind_to_every_step_restores_the_files_exactly(project: Path) -> None:
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects)
    backend = HostBackend(project)
    log, result = await run_script(backend, recorder, project, TURNS)
    assert result.output == "done"
    assert log.pins[0] is None and len({*log.pins[1:4]}) == 3 and log.pins[4] == log.pins[3]
    assert (project / "build" / "out").exists() and (project / "sub" / "deep" / "e.txt").exists()
    latest = log.pins[-1]
    workspace = Workspace(backend)
    for index in (2, 0, 3, 1, 4):
        report = await rewind(objects, log.pins[index], workspace, latest=latest)
        assert not report.errors and not report.not_captured
        assert tracked(files_of(project)) == tracked(log.trees[index]), index
    # ignored files were never touched by a rewind, .git is never captured
    assert (project / "build" / "out").read_text() == "junk\n"
    assert (project / "y.log").read_text() == "noise\n"
    assert (project / ".git" / "HEAD").exists()


async def test_rewind_report_names_what_changed(project: Path) -> None:
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects)
    backend = HostBackend(project)
    log, _ = await run_script(backend, recorder, project, TURNS)
    workspace = Workspace(backend)
    dry = await rewind(objects, None, workspace, latest=log.pins[-1], dry_run=True)
    assert sorted(dry.restored) == ["a.txt", "b.txt", "c.txt", "keep.log"]
    assert sorted(dry.deleted) == ["made.txt", "new.txt", "sub/deep/e.txt"]
    assert "sub/d.txt" in dry.unchanged and ".gitignore" in dry.unchanged
    assert files_of(project) == log.trees[-1]  # a dry run changes nothing
    report = await rewind(objects, None, workspace, latest=log.pins[-1])
    assert (report.restored, report.deleted) == (dry.restored, dry.deleted)
    assert tracked(files_of(project)) == tracked(log.trees[0])
    lines = report.lines()
    assert "restored a.txt" in lines and "deleted new.txt" in lines
    assert lines[-1] == "4 restored, 3 deleted, 2 unchanged, 0 not captured"
    again = await rewind(objects, None, workspace, latest=log.pins[-1])
    assert again.changed == 0


async def test_write_and_edit_capture_one_file_bash_the_tree(project: Path) -> None:
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects)
    log, _ = await run_script(HostBackend(project), recorder, project, TURNS)
    scopes = [(stat.scope, stat.phase) for stat in recorder.stats]
    assert scopes == [("file", "before"), ("file", "after"), ("file", "before"), ("file", "after"),
                      ("tree", "before"), ("tree", "after")]  # fmt: skip
    assert [stat.files for stat in recorder.stats[:4]] == [1, 1, 1, 1]
    pin = log.pins[1]
    assert pin is not None
    _, state, baseline = read_checkpoint(objects, pin)
    assert set(state) == {"new.txt"} and baseline["new.txt"].absent and state["new.txt"].size == 6
    final = log.pins[-1]
    assert final is not None
    _, state, baseline = read_checkpoint(objects, final)
    assert "build/out" not in state and "y.log" not in state and ".git/HEAD" not in state
    assert state["b.txt"].absent and baseline["b.txt"].blob is not None
    assert baseline["made.txt"].absent and state["keep.log"].blob is not None


async def test_a_second_run_continues_from_the_parent_pin(project: Path) -> None:
    objects = MemoryObjects()
    first = CheckpointRecorder(objects)
    backend = HostBackend(project)
    log1, _ = await run_script(backend, first, project, [*TURNS[:1], reply("done")])
    second = CheckpointRecorder(objects, parent=log1.pins[-1])
    assert second.current_checkpoint() == log1.pins[-1]
    turns = [calls(("bash", {"command": "echo more > new.txt && echo other > other.txt"})), reply("done")]
    log2, _ = await run_script(backend, second, project, turns)
    workspace = Workspace(backend)
    report = await rewind(objects, log1.pins[-1], workspace, latest=log2.pins[-1])
    assert sorted(report.restored) == ["new.txt"] and report.deleted == ["other.txt"]
    assert tracked(files_of(project)) == tracked(log1.trees[-1])
    await rewind(objects, None, workspace, latest=log2.pins[-1])
    assert tracked(files_of(project)) == tracked(log1.trees[0])


async def test_limits_are_recorded_and_reported_as_not_captured(project: Path) -> None:
    (project / "big.bin").write_bytes(b"\0" * 5000)
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects, limits=CheckpointLimits(max_file_bytes=1000))
    backend = HostBackend(project)
    turns = [calls(("bash", {"command": "printf 'x%.0s' $(seq 1 3000) > big.bin && rm a.txt"})), reply("done")]
    log, _ = await run_script(backend, recorder, project, turns)
    report = await rewind(objects, None, Workspace(backend), latest=log.pins[-1])
    assert report.restored == ["a.txt"]
    assert report.not_captured == [("big.bin", "larger than max_file_bytes (1000)")]
    assert (project / "big.bin").stat().st_size == 3000  # left as it is
    assert any(line.startswith("not captured big.bin") for line in report.lines())


async def test_max_files_and_max_entries_limits(project: Path) -> None:
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects, limits=CheckpointLimits(max_files=3))
    turns = [calls(("bash", {"command": "echo z > z.txt"})), reply("done")]
    log, _ = await run_script(HostBackend(project), recorder, project, turns)
    pin = log.pins[-1]
    assert pin is not None
    _, state, _ = read_checkpoint(objects, pin)
    skipped = sorted(path for path, s in state.items() if s.skipped)
    assert skipped and all("max_files (3)" in (state[p].skipped or "") for p in skipped)
    truncating = CheckpointRecorder(MemoryObjects(), limits=CheckpointLimits(max_entries=2))
    log2, _ = await run_script(HostBackend(project), truncating, project, turns)
    report = await rewind(truncating.objects, None, Workspace(HostBackend(project)), latest=log2.pins[-1])
    assert any("max_entries" in note for note in report.notes)


async def test_a_failing_capture_never_fails_the_call(project: Path) -> None:
    class Broken(MemoryObjects):
        def put_object(self, data: bytes) -> str:
            raise OSError("disk full")

    warnings: list[str] = []
    recorder = CheckpointRecorder(Broken(), on_warning=warnings.append)
    turns = [calls(("write", {"file_path": "n.txt", "content": "x"})), reply("done")]
    log, result = await run_script(HostBackend(project), recorder, project, turns)
    assert result.output == "done" and (project / "n.txt").read_text() == "x"
    assert warnings and "disk full" in warnings[0] and log.pins[-1] is None


async def test_other_tools_are_not_captured_unless_scoped(project: Path) -> None:
    objects = MemoryObjects()
    plain = CheckpointRecorder(objects)
    assert plain.scope_of("mcp__fs__write_file") == "none" and plain.scope_of("read") == "none"
    everything = CheckpointRecorder(objects, default_scope="tree")
    assert everything.scope_of("mcp__fs__write_file") == "tree"
    turns = [calls(("read", {"file_path": "a.txt"})), reply("done")]
    log, _ = await run_script(HostBackend(project), plain, project, turns)
    assert log.pins == [None, None, None] and plain.stats == []


async def test_writes_outside_the_workspace_or_into_git_are_not_captured(project: Path, tmp_path: Path) -> None:
    recorder = CheckpointRecorder(MemoryObjects())
    turns = [
        calls(("write", {"file_path": ".git/info", "content": "x"})),
        calls(("write", {"file_path": str(tmp_path / "outside.txt"), "content": "x"})),
        reply("done"),
    ]
    log, _ = await run_script(HostBackend(project), recorder, project, turns)
    assert log.pins == [None, None, None, None]
