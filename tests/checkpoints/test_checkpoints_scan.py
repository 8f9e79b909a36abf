"""The listing scan: one `find` through the workspace lists every file with its stat key, and only files whose key
changed (or was racily clean) are read again; it finds exactly what the list_dir walk finds, and the walk takes over
when the listing is unavailable or fails."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from cpsupport import files_of, run_script
from pydantic_ai.exceptions import UserError
from pydantic_ai.workspaces import CommandResult, Workspace

from tau.checkpoints.recorder import CheckpointLimits, CheckpointRecorder, ScanCache, TreeScan, rewind, scan_tree
from tau.environment import HostBackend
from tau.sessions.checkpoints import MemoryObjects
from tau.testing.scripted import calls, reply

pytestmark = pytest.mark.anyio


class Clocked(HostBackend):
    """A host workspace whose scan listing can pretend to run `shift` seconds later (so files just written are not
    racily clean) and can hide ctime (so only size, mtime and inode tell a change), and which counts listings."""

    def __init__(self, root: Path, *, shift: int = 0, hide_ctime: bool = False) -> None:
        super().__init__(root)
        self.shift = shift
        self.hide_ctime = hide_ctime
        self.listings = 0

    async def run(
        self,
        command: str | Sequence[str],
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        result = await super().run(command, shell=shell, env=env, timeout=timeout)
        if not (isinstance(command, str) and "tau-scan" in command):
            return result
        self.listings += 1
        lines = result.stdout.split("\0")
        seconds, _, fraction = lines[0].removeprefix("tau-scan ").partition(".")
        lines[0] = f"tau-scan {int(seconds) + self.shift}.{fraction}"
        for index, line in enumerate(lines[1:-2], start=1):
            fields = line.split(" ", 6)
            if self.hide_ctime:
                fields[3] = "0.0"
            lines[index] = " ".join(fields)
        return CommandResult(exit_code=result.exit_code, stdout="\0".join(lines), stderr=result.stderr)


class NoListing(HostBackend):
    """A host workspace whose commands fail the listing as a backend without them (or without GNU find) would."""

    def __init__(self, root: Path, *, unsupported: bool) -> None:
        super().__init__(root)
        self.unsupported = unsupported
        self.listings = 0

    async def run(
        self,
        command: str | Sequence[str],
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        self.listings += 1
        if self.unsupported:
            raise UserError("This workspace does not support command execution.")
        return CommandResult(exit_code=1, stdout="", stderr="find: unrecognized: -printf\n")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for name, text in {
        "a.txt": "alpha\n",
        "sub/b.txt": "beta\n",
        "sub/.gitignore": "*.tmp\n!keep.tmp\n",
        "sub/x.tmp": "ignored\n",
        "sub/keep.tmp": "kept\n",
        "build/out/o.bin": "junk\n",
        "deep/er/est/f.py": "print()\n",
        "odd name\nwith newline.txt": "nl\n",
        "[glob]*?.txt": "glob\n",
        "empty": "",
        ".gitignore": "build/\n*.log\n/deep/er/est/\n",
        "y.log": "log\n",
        ".git/HEAD": "ref\n",
        "sub/.git": "gitdir: elsewhere\n",
        ".tau/state/x": "state\n",
        ".tau/config.toml": "cfg\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "link.txt").symlink_to("a.txt")
    (root / "linkdir").symlink_to("sub")
    (root / "dangling").symlink_to("nowhere")
    os.mkfifo(root / "fifo")
    (root / "fifo-link").symlink_to("fifo")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(root / "sock"))
    return root


async def two_scans(backend: HostBackend) -> tuple[TreeScan, TreeScan]:
    workspace = Workspace(backend)
    listed = await scan_tree(workspace, MemoryObjects())
    walked = await scan_tree(workspace, MemoryObjects(), listing=False)
    return listed, walked


async def test_the_listing_finds_what_the_walk_finds(tree: Path) -> None:
    listed, walked = await two_scans(HostBackend(tree))
    assert (listed.method, walked.method) == ("find", "walk")
    assert listed.files == walked.files
    assert {"a.txt", "sub/b.txt", "sub/keep.tmp", "odd name\nwith newline.txt", "[glob]*?.txt", "link.txt"} <= set(
        listed.files
    )
    assert listed.files["link.txt"] == listed.files["a.txt"]  # a symlink is captured as its target's content
    assert listed.files["dangling"].skipped
    for special in ("fifo", "fifo-link", "sock"):
        assert listed.files[special].skipped == "not a regular file", special
    for gone in ("sub/x.tmp", "build/out/o.bin", "y.log", "deep/er/est/f.py", ".git/HEAD", "sub/.git", ".tau/state/x"):
        assert gone not in listed.files, gone
    assert not any(path.startswith("linkdir/") for path in listed.files)  # a symlinked directory is not entered


class Reads(HostBackend):
    """A host workspace that records every path it is asked to read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []

    async def read_bytes(self, path: str) -> bytes:
        self.read.append(os.path.basename(path))
        return await super().read_bytes(path)


async def test_the_listing_never_opens_a_fifo(tree: Path) -> None:
    """Opening a fifo, even non-blocking, makes the scan one of its readers: it could take (and lose) what a writer
    sends to the process that waits on it. The listing knows the file types, so it never reads one."""
    backend = Reads(tree)
    scan = await scan_tree(Workspace(backend), MemoryObjects())
    assert scan.method == "find" and "a.txt" in backend.read
    assert not {"fifo", "fifo-link", "sock"} & set(backend.read)
    assert scan.files["fifo"].skipped == "not a regular file"


async def test_limits_apply_to_the_listing_as_to_the_walk(tree: Path) -> None:
    workspace = Workspace(HostBackend(tree))
    for limits in (
        CheckpointLimits(max_files=3),
        CheckpointLimits(max_file_bytes=5),
        CheckpointLimits(max_total_bytes=12),
    ):
        listed = await scan_tree(workspace, MemoryObjects(), limits=limits)
        walked = await scan_tree(workspace, MemoryObjects(), limits=limits, listing=False)
        assert listed.method == "find" and listed.files == walked.files, limits
        assert any(state.skipped for state in listed.files.values())
    cut = await scan_tree(workspace, MemoryObjects(), limits=CheckpointLimits(max_entries=5))
    assert cut.method == "walk" and cut.truncated  # over max_entries: the walk's truncation semantics


async def test_unchanged_files_are_not_read_again(tree: Path) -> None:
    workspace = Workspace(Clocked(tree, shift=10))
    cache = ScanCache()
    objects = MemoryObjects()
    first = await scan_tree(workspace, objects, cache=cache)
    assert first.reused == 0 and first.bytes_read > 0
    second = await scan_tree(workspace, objects, cache=cache)
    assert second.files == first.files
    # only what the key cannot vouch for is read again: the symlinks and the fifo (dangling, fifo: unreadable)
    assert second.bytes_read == len("alpha\n") and second.reused == len([s for s in first.files.values() if s.blob]) - 1
    (tree / "sub" / "b.txt").write_text("BETA!\n")
    third = await scan_tree(workspace, objects, cache=cache)
    assert third.bytes_read == len("BETA!\n") + len("alpha\n")
    assert third.files["sub/b.txt"] != first.files["sub/b.txt"]


async def test_a_racily_clean_same_size_edit_is_captured(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("one\n")
    stamp = (tmp_path / "f.txt").stat().st_mtime_ns
    workspace = Workspace(Clocked(tmp_path, hide_ctime=True))  # only size, mtime and inode can tell
    cache = ScanCache()
    objects = MemoryObjects()
    first = await scan_tree(workspace, objects, cache=cache)
    assert first.files["f.txt"].blob is not None and cache.files == {}  # written just now: racily clean
    (tmp_path / "f.txt").write_text("two\n")  # the same size, within the same timestamp tick
    os.utime(tmp_path / "f.txt", ns=(stamp, stamp))
    second = await scan_tree(workspace, objects, cache=cache)
    assert second.files["f.txt"] != first.files["f.txt"]
    assert objects.get_object(second.files["f.txt"].blob or "") == b"two\n"
    # the control: an entry trusted (its mtime > 2 s before the scan) would hide exactly this edit
    later = Workspace(Clocked(tmp_path, shift=10, hide_ctime=True))
    await scan_tree(later, objects, cache=cache)
    (tmp_path / "f.txt").write_text("333\n")
    os.utime(tmp_path / "f.txt", ns=(stamp, stamp))
    assert (await scan_tree(later, objects, cache=cache)).files["f.txt"] == second.files["f.txt"]


async def test_a_file_replaced_with_the_same_size_and_mtime_is_read(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("old\n")
    stamp = (tmp_path / "f.txt").stat().st_mtime_ns
    workspace = Workspace(Clocked(tmp_path, shift=10, hide_ctime=True))
    cache = ScanCache()
    objects = MemoryObjects()
    first = await scan_tree(workspace, objects, cache=cache)
    assert "f.txt" in cache.files
    (tmp_path / "new.tmp").write_text("new\n")
    os.utime(tmp_path / "new.tmp", ns=(stamp, stamp))
    keep = tmp_path / "keep-inode"
    os.link(tmp_path / "f.txt", keep)  # hold the old inode so the new file cannot reuse its number
    os.replace(tmp_path / "new.tmp", tmp_path / "f.txt")
    keep.unlink()
    second = await scan_tree(workspace, objects, cache=cache)
    assert second.reused == 0 and second.files["f.txt"] != first.files["f.txt"]
    assert objects.get_object(second.files["f.txt"].blob or "") == b"new\n"


@pytest.mark.parametrize("unsupported", [True, False])
async def test_the_walk_takes_over_without_a_listing(tree: Path, unsupported: bool) -> None:
    backend = NoListing(tree, unsupported=unsupported)
    workspace = Workspace(backend)
    cache = ScanCache()
    scans = [await scan_tree(workspace, MemoryObjects(), cache=cache) for _ in range(3)]
    assert {scan.method for scan in scans} == {"walk"}
    assert scans[0].files == (await scan_tree(Workspace(HostBackend(tree)), MemoryObjects())).files
    assert backend.listings == 2 and not cache.usable  # two failures, then it stops trying


async def test_a_name_that_is_not_utf8_falls_back_to_the_walk(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("ok\n")
    with open(os.fsencode(tmp_path) + b"/\xff.txt", "wb") as handle:
        handle.write(b"x")
    scan = await scan_tree(Workspace(HostBackend(tmp_path)), MemoryObjects())
    assert scan.method == "walk" and "ok.txt" in scan.files


async def test_a_pruned_directory_comes_back_when_the_rules_change(tree: Path) -> None:
    backend = Clocked(tree, shift=10)
    workspace = Workspace(backend)
    cache = ScanCache()
    await scan_tree(workspace, MemoryObjects(), cache=cache)
    assert "build" in cache.pruned and "deep/er/est" in cache.pruned
    (tree / ".gitignore").write_text("*.log\n")
    scan = await scan_tree(workspace, MemoryObjects(), cache=cache)
    assert "build/out/o.bin" in scan.files and "deep/er/est/f.py" in scan.files
    assert backend.listings == 3  # the pruned listing, then one without pruning
    assert cache.pruned == ()
    walked = await scan_tree(workspace, MemoryObjects(), listing=False)
    assert scan.files == walked.files


async def test_a_bash_heavy_run_reads_only_what_changed(tree: Path) -> None:
    objects = MemoryObjects()
    recorder = CheckpointRecorder(objects)
    backend = Clocked(tree, shift=10)
    turns = [
        calls(("bash", {"command": "echo one > a.txt"})),
        calls(("bash", {"command": "echo two > new.txt && rm sub/b.txt"})),
        calls(("bash", {"command": "true"})),
        reply("done"),
    ]
    log, _ = await run_script(backend, recorder, tree, turns)
    after = [stat for stat in recorder.stats if stat.phase == "after"]
    # the symlink link.txt -> a.txt is always read; everything else only when its key changed
    assert [stat.bytes_read for stat in after] == [4 + 4, 4 + 4, 4]
    for index in (0, 1, 2):
        report = await rewind(objects, log.pins[index], Workspace(HostBackend(tree)), latest=log.pins[-1])
        assert not report.errors
        assert {k: v for k, v in files_of(tree).items() if not k.startswith((".tau", "build", "deep"))} == {
            k: v for k, v in log.trees[index].items() if not k.startswith((".tau", "build", "deep"))
        }
