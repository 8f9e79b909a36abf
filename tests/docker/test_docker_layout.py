"""`plan_layout` and `MaskSources` on real directories (no daemon needed): which binds a managed container gets per
policy, who wins where they meet, what is refused, and the host files the masks are bound from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tau.environment.docker_layout import Bind, Layout, MaskSources, plan_layout
from tau.environment.policy import SandboxConfig, SandboxPolicy
from tau.environment.sandbox import SandboxError


@pytest.fixture
def sources(tmp_path: Path) -> MaskSources:
    (tmp_path / "tmp").mkdir()
    return MaskSources(str(tmp_path / "tmp")).ensure()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for name in (".git/hooks", ".claude", "secrets", "src/deep"):
        (ws / name).mkdir(parents=True)
    for name, text in {
        ".git/config": "[core]\n\tbare = false\n\tfsmonitor = evil\n",
        ".mcp.json": "{}",
        ".env": "TOKEN=1",
        "secrets/key": "k",
        "src/a.lock": "v1",
        "src/deep/b.lock": "v1",
        "src/main.py": "print()",
    }.items():
        (ws / name).write_text(text)
    return ws.resolve()


def config(policy: SandboxPolicy, root: Path, **rules: object) -> SandboxConfig:
    return SandboxConfig(policy=policy, mask_roots=(str(root),), **rules)  # type: ignore[arg-type]


def deny_read(path: str) -> bool:
    return path.endswith("/.env") or "/secrets/" in path or path.endswith("/secrets")


def test_workspace_write_binds_protected_and_deny_write_paths_and_masks(root: Path, sources: MaskSources) -> None:
    layout = plan_layout(
        str(root),
        "/workspace",
        config("workspace-write", root, deny_read=deny_read, deny_write=lambda path: path.endswith(".lock")),
        sources,
    )
    assert layout == Layout(
        workspace_read_only=False,
        binds=(
            Bind(str(root / ".claude"), "/workspace/.claude"),
            Bind(sources.file, "/workspace/.env"),
            Bind(str(root / ".git/config"), "/workspace/.git/config"),
            Bind(str(root / ".git/hooks"), "/workspace/.git/hooks"),
            Bind(str(root / ".mcp.json"), "/workspace/.mcp.json"),
            Bind(sources.dir, "/workspace/secrets"),
            Bind(str(root / "src/a.lock"), "/workspace/src/a.lock"),
            Bind(str(root / "src/deep/b.lock"), "/workspace/src/deep/b.lock"),
        ),
    )


def test_read_only_mounts_the_workspace_read_only_with_masks_and_the_sanitised_git_config(
    root: Path, sources: MaskSources
) -> None:
    layout = plan_layout(str(root), "/workspace", config("read-only", root, deny_read=deny_read), sources)
    assert layout.workspace_read_only
    [git] = [bind for bind in layout.binds if bind.target == "/workspace/.git/config"]
    sanitised = Path(git.source).read_text()
    assert "bare" in sanitised and "fsmonitor" not in sanitised
    assert {bind.target for bind in layout.binds} == {"/workspace/.env", "/workspace/.git/config", "/workspace/secrets"}


def test_full_gets_masks_only(root: Path, sources: MaskSources) -> None:
    layout = plan_layout(str(root), "/workspace", config("full", root, deny_read=deny_read), sources)
    assert layout == Layout(binds=(Bind(sources.file, "/workspace/.env"), Bind(sources.dir, "/workspace/secrets")))
    assert plan_layout(str(root), "/workspace", config("full", root), sources) == Layout()


def test_a_mask_wins_and_what_lies_beneath_it_is_dropped(root: Path, sources: MaskSources) -> None:
    hidden = {str(root / ".git"), str(root / ".mcp.json")}
    layout = plan_layout(
        str(root), "/workspace", config("workspace-write", root, deny_read=lambda path: path in hidden), sources
    )
    assert layout.binds == (
        Bind(str(root / ".claude"), "/workspace/.claude"),
        Bind(sources.dir, "/workspace/.git"),  # .git/config and .git/hooks beneath it: no bind, no mount point
        Bind(sources.file, "/workspace/.mcp.json"),
    )


def test_nested_read_only_binds_collapse_and_a_read_only_root_makes_the_mount_read_only(
    root: Path, sources: MaskSources
) -> None:
    src = plan_layout(
        str(root), "/workspace", config("workspace-write", root, deny_write=lambda path: "/src" in path), sources
    )
    assert [bind.target for bind in src.binds if bind.target.startswith("/workspace/src")] == ["/workspace/src"]
    everything = plan_layout(str(root), "/workspace", config("workspace-write", root, deny_write=bool), sources)
    assert everything == Layout(workspace_read_only=True)


def test_what_cannot_be_laid_out_is_refused(root: Path, sources: MaskSources) -> None:
    with pytest.raises(SandboxError, match="covers the whole workspace"):
        plan_layout(str(root), "/workspace", config("workspace-write", root, deny_read=bool), sources)
    (root / "bad-\udcff").write_text("x")
    with pytest.raises(SandboxError, match="not valid UTF-8"):
        plan_layout(str(root), "/workspace", config("full", root, deny_read=lambda path: "bad-" in path), sources)


def test_paths_outside_the_workspace_are_left_out(root: Path, tmp_path: Path, sources: MaskSources) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "key").write_text("k")
    (root / "link").symlink_to(outside / "key")  # the walk masks a link's target: outside, invisible in the box
    rules = SandboxConfig(
        policy="full", deny_read=lambda path: path.startswith(str(outside)), mask_roots=(str(root), str(outside))
    )
    assert plan_layout(str(root), "/workspace", rules, sources) == Layout()


def test_the_digest_follows_the_layout() -> None:
    read_write, read_only = Layout(), Layout(workspace_read_only=True)
    assert read_write.digest != read_only.digest
    assert (
        Layout(binds=(Bind("/a", "/w/a"), Bind("/b", "/w/b"))).digest
        == Layout(binds=(Bind("/b", "/w/b"), Bind("/a", "/w/a"))).digest
    )


def test_mask_sources_are_made_once_and_repaired(tmp_path: Path) -> None:
    sources = MaskSources(str(tmp_path)).ensure()
    modes = {path: stat.S_IMODE(os.lstat(path).st_mode) for path in (sources.base, sources.file, sources.dir)}
    assert modes == {sources.base: 0o700, sources.file: 0, sources.dir: 0}
    assert os.path.getsize(sources.file) == 0 and Path(sources.blank).read_text() == ""
    inodes = [os.lstat(path).st_ino for path in (sources.file, sources.dir, sources.blank)]
    MaskSources(str(tmp_path)).ensure()
    assert [os.lstat(path).st_ino for path in (sources.file, sources.dir, sources.blank)] == inodes  # kept
    os.chmod(sources.file, 0o600)
    Path(sources.file).write_text("leaked")
    MaskSources(str(tmp_path)).ensure()
    assert os.path.getsize(sources.file) == 0 and stat.S_IMODE(os.lstat(sources.file).st_mode) == 0
    text = sources.text("[core]\n")
    assert Path(text).read_text() == "[core]\n" and sources.text("[core]\n") == text


def test_mask_sources_refuse_a_directory_that_is_not_private(tmp_path: Path) -> None:
    os.symlink(tmp_path, tmp_path / f"tau-docker-masks-{os.geteuid()}")
    with pytest.raises(SandboxError, match="not a private directory of this user"):
        MaskSources(str(tmp_path)).ensure()
