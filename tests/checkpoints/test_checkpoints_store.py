"""Checkpoints in the file store: snapshots pin them, fsck verifies them, gc keeps their trees and blobs, bundles
carry them; `tau rewind` resolves a snapshot and rewinds its recorded workspace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cpsupport import files_of, run_script
from pydantic_ai.workspaces import Workspace

from tau.checkpoints.recorder import CheckpointRecorder, restore_for_fork
from tau.checkpoints.rewind import resolve_rewind
from tau.cli.rewind_cmd import rewind_command
from tau.environment import HostBackend
from tau.sessions import FileSessionStore, StepRecord
from tau.sessions.checkpoints import read_checkpoint, store_objects
from tau.testing.scripted import calls, reply

TURNS = [
    calls(("write", {"file_path": "notes.md", "content": "# notes\n"})),
    calls(("bash", {"command": "echo v2 > app.py && rm old.txt"})),
    reply("done"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text("v1\n")
    (root / "old.txt").write_text("old\n")
    return root


async def recorded_session(store: FileSessionStore, project: Path) -> list[str]:
    """Run the script, committing a snapshot with the recorder's pin before each request and at the end."""
    recorder = CheckpointRecorder(store_objects(store))
    log, _ = await run_script(HostBackend(project), recorder, project, TURNS)
    snapshots = [await store.begin("s1", {"environment": {"kind": "host", "workspace": str(project)}})]
    for step, pin in enumerate(log.pins, start=1):
        snapshots.append(await store.commit("s1", StepRecord(step=step, messages=[], workspace=pin)))
    await store.close("s1")
    return snapshots


@pytest.mark.anyio
async def test_pins_survive_fsck_gc_and_bundles(tmp_path: Path, project: Path) -> None:
    store = FileSessionStore(tmp_path / "state", durable=False)
    snapshots = await recorded_session(store, project)
    assert await store.fsck() == []
    assert await store.gc(grace_seconds=0) == []
    head_pin = store.snapshot(snapshots[-1]).workspace
    assert head_pin is not None
    _, state, baseline = read_checkpoint(store_objects(store), head_pin)
    blob = baseline["old.txt"].blob
    assert blob is not None and store.objects.exists(blob) and state["old.txt"].absent
    store.objects.path(blob).write_bytes(b"tampered")
    assert [problem.path for problem in await store.fsck()] == [store.objects.path(blob)]
    store.objects.path(blob).write_bytes(b"old\n")
    bundle = await store.export("s1", tmp_path / "s1.tar.gz")
    other = FileSessionStore(tmp_path / "other", durable=False)
    await other.import_bundle(bundle)
    assert other.objects.exists(blob) and await other.fsck() == []


def test_rewind_command_restores_and_reports(tmp_path: Path, project: Path) -> None:
    store = FileSessionStore(tmp_path / "state", durable=False)
    snapshots = asyncio.run(recorded_session(store, project))
    runner = CliRunner()
    state_dir = str(tmp_path / "state")
    dry = runner.invoke(rewind_command, [snapshots[1][:12], "--state-dir", state_dir, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] and sorted(report["deleted"]) == ["notes.md"]
    assert sorted(report["restored"]) == ["app.py", "old.txt"]
    assert (project / "notes.md").exists()
    done = runner.invoke(rewind_command, [snapshots[1], "--state-dir", state_dir])
    assert done.exit_code == 0, done.output
    assert "restored app.py" in done.output and "deleted notes.md" in done.output
    assert files_of(project) == {"app.py": b"v1\n", "old.txt": b"old\n"}
    back = runner.invoke(rewind_command, ["s1", "--state-dir", state_dir])  # a session = its head
    assert back.exit_code == 0 and files_of(project) == {"app.py": b"v2\n", "notes.md": b"# notes\n"}


def test_rewind_into_another_directory(tmp_path: Path, project: Path) -> None:
    store = FileSessionStore(tmp_path / "state", durable=False)
    snapshots = asyncio.run(recorded_session(store, project))
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "app.py").write_text("v2\n")
    result = CliRunner().invoke(rewind_command, [snapshots[2], "--state-dir", str(tmp_path / "state"), "--cwd",
                                                 str(copy)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert files_of(copy) == {"app.py": b"v1\n", "notes.md": b"# notes\n", "old.txt": b"old\n"}


@pytest.mark.anyio
async def test_fork_with_files(tmp_path: Path, project: Path) -> None:
    store = FileSessionStore(tmp_path / "state", durable=False)
    snapshots = await recorded_session(store, project)
    root = await store.fork(snapshots[2], "s2")
    target = resolve_rewind(store, root)
    assert target.checkpoint == store.snapshot(snapshots[2]).workspace
    source = resolve_rewind(store, snapshots[2])
    report = await restore_for_fork(
        store_objects(store), source.checkpoint, Workspace(HostBackend(project)), latest=source.latest
    )
    assert sorted(report.restored) == ["app.py", "old.txt"]
    assert files_of(project) == {"app.py": b"v1\n", "notes.md": b"# notes\n", "old.txt": b"old\n"}


def test_rewind_command_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(rewind_command, ["nope", "--state-dir", str(tmp_path / "empty")])
    assert result.exit_code != 0
