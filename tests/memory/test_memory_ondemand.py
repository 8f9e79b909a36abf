"""`OnDemandMemory` (pure): which touch loads what, once; the shared byte cap; recall from a session's notes; trust."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau.memory import load_bootstrap_memory
from tau.memory.capability import touched_paths
from tau.memory.ondemand import OnDemandMemory, nested_memory_files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "AGENTS.md", "ROOT\n")
    write(root / "pkg/AGENTS.md", "PKG agents @notes.md\n")
    write(root / "pkg/notes.md", "PKG notes\n")
    write(root / "pkg/CLAUDE.md", "PKG claude\n")
    write(root / "pkg/CLAUDE.local.md", "PKG local\n")
    write(root / "pkg/sub/TAU.md", "SUB tau\n")
    write(root / "pkg/sub/AGENTS.md", "SUB agents (overridden by TAU.md)\n")
    write(root / "pkg/sub/x.py", "x = 1\n")
    write(root / "other/CLAUDE.md", "OTHER\n")
    write(root / ".claude/rules/py.md", "---\npaths: ['**/*.py']\n---\nPY RULE\n")
    return root


def memory_for(cwd: Path, home: Path, **kwargs: object) -> OnDemandMemory:
    boot = load_bootstrap_memory(cwd=str(cwd), home=str(home), **kwargs)  # type: ignore[arg-type]
    return OnDemandMemory.after(boot, cwd=str(cwd), home=str(home), trusted=bool(kwargs.get("trusted", False)))


def names(paths: list[str], root: Path) -> list[str]:
    return [str(Path(p).relative_to(root)) for p in paths]


def test_touching_a_deep_file_loads_each_folder_down_to_it_then_the_rule_once(repo: Path, home: Path) -> None:
    memory = memory_for(repo, home)
    note = memory.touch(str(repo / "pkg/sub/x.py"), trigger="pkg/sub/x.py")
    assert [(str(Path(f.path).relative_to(repo)), f.scope) for f in note.files] == [
        ("pkg/AGENTS.md", "nested"),
        ("pkg/notes.md", "import"),
        ("pkg/CLAUDE.md", "nested"),
        ("pkg/CLAUDE.local.md", "local"),
        ("pkg/sub/TAU.md", "nested"),
        (".claude/rules/py.md", "rule"),
    ]
    assert note.warnings == []
    assert memory.touch(str(repo / "pkg/sub/x.py")).files == []
    assert memory.touch(str(repo / "pkg/other.py")).files == []  # folder and rule loaded already
    rendered = note.render()
    assert rendered.startswith("Memory files for pkg/sub/x.py (just touched) are now loaded.")
    assert f'<memory source="{repo / "pkg/notes.md"}" imported_from="{repo / "pkg/AGENTS.md"}" loaded="on demand"' in (
        rendered
    )


def test_the_working_directory_and_paths_outside_it_load_no_nested_files(repo: Path, home: Path) -> None:
    memory = memory_for(repo / "pkg", home)
    assert memory.touch(str(repo / "pkg/notes.md")).files == []  # cwd's own files loaded at start
    assert memory.touch(str(repo / "other/file.txt")).files == []  # a sibling of cwd: not below it
    assert memory.touch("/etc/hostname").files == []
    [rule] = memory.touch(str(repo / "other/tool.py")).files  # rules match anywhere in the project
    assert rule.path == str(repo / ".claude/rules/py.md")


def test_a_touched_folder_loads_its_own_files(repo: Path, home: Path) -> None:
    memory = memory_for(repo, home)
    assert names([f.path for f in memory.touch(str(repo / "other")).files], repo) == ["other/CLAUDE.md"]


def test_on_demand_files_share_the_cap_left_after_start(repo: Path, home: Path) -> None:
    write(repo / "big/CLAUDE.md", "".join(f"line {i:03d}\n" for i in range(50)))  # 450 bytes
    boot = load_bootstrap_memory(cwd=str(repo), home=str(home), max_bytes=100)
    assert boot.total_bytes == 5  # ROOT\n
    memory = OnDemandMemory.after(boot, cwd=str(repo), home=str(home))
    note = memory.touch(str(repo / "big/a.txt"))
    [cut] = note.files
    assert (cut.bytes, cut.size, cut.truncated) == (90, 450, True)
    assert note.warnings == [
        f"memory file {repo / 'big/CLAUDE.md'} truncated to 90 of 450 bytes: over the 100-byte memory cap "
        "(memory.max_bytes); raise it to load the whole file"
    ]
    assert "(truncated to 90 of 450 bytes)" in note.summary()
    later = memory.touch(str(repo / "other/b.txt"))
    assert later.files == []
    assert later.warnings == [
        f"memory file {repo / 'other/CLAUDE.md'} (6 bytes) not loaded: over the 100-byte memory cap "
        "(memory.max_bytes); raise it to load the file"
    ]


def test_recall_marks_what_an_earlier_run_loaded(repo: Path, home: Path) -> None:
    first = memory_for(repo, home)
    note = first.touch(str(repo / "pkg/sub/x.py"), trigger='pkg/"odd" <name>.py')
    again = memory_for(repo, home)
    again.recall(["unrelated text", note.render()])
    assert again.touch(str(repo / "pkg/sub/x.py")).files == []
    assert names([f.path for f in again.touch(str(repo / "other/y.txt")).files], repo) == ["other/CLAUDE.md"]


def test_untrusted_nested_files_linked_out_are_refused(tmp_path: Path, repo: Path, home: Path) -> None:
    secret = write(tmp_path / "outside/secret.md", "SECRET\n")
    (repo / "linked").mkdir()
    (repo / "linked/CLAUDE.md").symlink_to(secret)
    write(repo / "imports/AGENTS.md", f"@{secret}\nIMPORTS\n")
    memory = memory_for(repo, home)
    refused = memory.touch(str(repo / "linked/a.txt"))
    assert refused.files == []
    [warning] = refused.warnings
    assert warning.startswith("untrusted workspace: memory outside the repository not loaded:")
    assert str(repo / "linked/CLAUDE.md") in warning
    partial = memory.touch(str(repo / "imports/b.txt"))
    assert [f.text for f in partial.files] == [f"@{secret}\nIMPORTS\n"]
    assert "SECRET" not in partial.render().replace(str(secret), "")
    trusted = memory_for(repo, home, trusted=True)
    assert [f.text for f in trusted.touch(str(repo / "linked/a.txt")).files] == ["SECRET\n"]


def test_nested_memory_files_lists_folders_below_cwd(repo: Path) -> None:
    write(repo / "node_modules/pkg/CLAUDE.md", "vendored\n")
    write(repo / ".hidden/CLAUDE.md", "hidden\n")
    (repo / "pkg/loop").symlink_to(repo / "pkg")
    from tau.memory import LocalFiles

    found = names(nested_memory_files(LocalFiles(), str(repo)), repo)
    assert found == [
        "other/CLAUDE.md",
        "pkg/AGENTS.md",
        "pkg/CLAUDE.md",
        "pkg/CLAUDE.local.md",
        "pkg/sub/TAU.md",
    ]


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("read", {"file_path": "a/b.py"}, ["a/b.py"]),
        ("edit", {"file_path": "/abs/c.py", "old_string": "x"}, ["/abs/c.py"]),
        ("multi_edit", {"file_path": "d.py", "edits": []}, ["d.py"]),
        ("grep", {"pattern": "x", "path": "src"}, ["src"]),
        ("grep", {"pattern": "x"}, []),
        ("glob", {"pattern": "src/api/**/*.ts"}, ["src/api"]),
        ("glob", {"pattern": "**/*.ts", "path": "lib"}, ["lib"]),
        ("glob", {"pattern": "/abs/dir/*.ts"}, ["/abs/dir"]),
        ("ls", {"path": "pkg"}, ["pkg"]),
        ("bash", {"command": "cat a/b.py"}, []),
    ],
)
def test_touched_paths_per_tool(tool: str, args: dict[str, object], expected: list[str]) -> None:
    assert touched_paths(tool, args) == expected


class _ContainerWorkspace:
    """The two calls the capability makes on `ctx.workspace`, as a docker workspace answers them."""

    async def working_dir(self) -> str:
        return "/workspace"

    async def resolve(self, path: str) -> str:
        return path if path.startswith("/") else f"/workspace/{path}"


@pytest.mark.anyio
async def test_container_paths_map_onto_the_host_workspace(repo: Path, home: Path) -> None:
    from types import SimpleNamespace

    from tau.memory.capability import OnDemandMemoryCapability

    capability = OnDemandMemoryCapability(memory_for(repo, home), str(repo))
    ctx: Any = SimpleNamespace(workspace=_ContainerWorkspace())
    assert await capability._host_path(ctx, "pkg/a.py") == str(repo / "pkg/a.py")
    assert await capability._host_path(ctx, "/workspace/pkg/../other") == str(repo / "other")
    assert await capability._host_path(ctx, "/etc/passwd") is None  # not in the container's workspace
    host: Any = SimpleNamespace(workspace=SimpleNamespace(working_dir=_fixed(str(repo)), resolve=_fixed("/etc/x")))
    assert await capability._host_path(host, "/etc/x") == "/etc/x"  # host backend: same namespace


def _fixed(value: str) -> Any:
    async def answer(*_args: object) -> str:
        return value

    return answer
