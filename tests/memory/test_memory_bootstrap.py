"""Bootstrap memory: hierarchy, preference order, CLAUDE.local.md, @imports (cycles, depth, code), the byte cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.memory import BootstrapMemory, LoadedFile, LocalFiles, find_project_root, load_bootstrap_memory
from tau.memory.imports import find_imports


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    (path / ".git").mkdir(parents=True)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(cwd: Path, home: Path, **kwargs: object) -> BootstrapMemory:
    return load_bootstrap_memory(cwd=str(cwd), home=str(home), **kwargs)  # type: ignore[arg-type]


def paths(memory: BootstrapMemory) -> list[str]:
    return [loaded.path for loaded in memory.files]


def test_user_root_and_nested_dirs_load_broadest_first(home: Path, repo: Path) -> None:
    write(home / ".config/tau/TAU.md", "tau user\n")
    write(home / ".claude/CLAUDE.md", "claude user\n")
    write(home / ".codex/AGENTS.md", "codex user\n")
    write(repo / "AGENTS.md", "root rules\n")
    write(repo / "pkg/CLAUDE.md", "pkg rules\n")
    write(repo / "pkg/sub/TAU.md", "sub rules\n")
    write(repo / "elsewhere/AGENTS.md", "not on the path\n")
    memory = load(repo / "pkg/sub", home)
    assert memory.project_root == str(repo)
    assert memory.files == [
        LoadedFile(str(home / ".claude/CLAUDE.md"), "user", 12, 12),
        LoadedFile(str(home / ".codex/AGENTS.md"), "user", 11, 11),
        LoadedFile(str(home / ".config/tau/TAU.md"), "user", 9, 9),
        LoadedFile(str(repo / "AGENTS.md"), "project", 11, 11),
        LoadedFile(str(repo / "pkg/CLAUDE.md"), "project", 10, 10),
        LoadedFile(str(repo / "pkg/sub/TAU.md"), "project", 10, 10),
    ]
    assert memory.warnings == []


def test_compat_off_reads_only_taus_user_file(home: Path, repo: Path) -> None:
    write(home / ".config/tau/TAU.md", "tau user\n")
    write(home / ".claude/CLAUDE.md", "claude user\n")
    write(home / ".codex/AGENTS.md", "codex user\n")
    assert paths(load(repo, home, compat=False)) == [str(home / ".config/tau/TAU.md")]


def test_tau_md_overrides_its_directory_else_agents_and_claude_both_load(home: Path, repo: Path) -> None:
    write(repo / "TAU.md", "tau\n")
    write(repo / "AGENTS.md", "agents\n")
    write(repo / "CLAUDE.md", "claude\n")
    write(repo / "CLAUDE.local.md", "mine\n")
    write(repo / "a/AGENTS.md", "a agents\n")
    write(repo / "a/CLAUDE.md", "a claude\n")
    write(repo / "a/b/CLAUDE.md", "b claude\n")
    memory = load(repo / "a/b", home)
    assert [(f.path, f.scope) for f in memory.files] == [
        (str(repo / "TAU.md"), "project"),
        (str(repo / "CLAUDE.local.md"), "local"),
        (str(repo / "a/AGENTS.md"), "project"),
        (str(repo / "a/CLAUDE.md"), "project"),
        (str(repo / "a/b/CLAUDE.md"), "project"),
    ]


def test_claude_md_beside_agents_md_is_deduplicated_by_content(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "shared rules\n")
    write(repo / "CLAUDE.md", "shared rules\n\n")  # a copy (whitespace aside)
    write(repo / "a/AGENTS.md", "a rules\n")
    (repo / "a/CLAUDE.md").symlink_to(repo / "a/AGENTS.md")  # the usual link
    write(repo / "a/.claude/CLAUDE.md", "a claude-dir rules\n")
    memory = load(repo / "a", home)
    assert paths(memory) == [str(repo / "AGENTS.md"), str(repo / "a/AGENTS.md"), str(repo / "a/.claude/CLAUDE.md")]
    assert memory.warnings == []


def test_an_empty_preferred_file_falls_back_to_the_next(home: Path, repo: Path) -> None:
    write(repo / "TAU.md", "  \n")
    write(repo / "AGENTS.md", "agents\n")
    assert paths(load(repo, home)) == [str(repo / "AGENTS.md")]


def test_project_root_is_nearest_marker_else_cwd(tmp_path: Path, home: Path) -> None:
    write(tmp_path / "outer/.git/HEAD", "ref")
    (tmp_path / "outer/inner/.tau").mkdir(parents=True)
    (tmp_path / "outer/inner/deep").mkdir()
    assert find_project_root(str(tmp_path / "outer/inner/deep")) == str(tmp_path / "outer/inner")
    assert find_project_root(str(tmp_path / "outer/x")) == str(tmp_path / "outer")
    (tmp_path / "loose/dir").mkdir(parents=True)
    assert find_project_root(str(tmp_path / "loose/dir")) == str(tmp_path / "loose/dir")


def test_home_dot_tau_is_not_a_project_marker(home: Path) -> None:
    (home / ".tau/skills").mkdir(parents=True)
    (home / "work/dir").mkdir(parents=True)
    write(home / "AGENTS.md", "home agents\n")
    memory = load(home / "work/dir", home)
    assert memory.project_root == str(home / "work/dir")
    assert memory.files == []


def test_git_file_marks_a_worktree_root(tmp_path: Path, home: Path) -> None:
    write(tmp_path / "wt/.git", "gitdir: /elsewhere\n")
    write(tmp_path / "wt/AGENTS.md", "wt\n")
    (tmp_path / "wt/src").mkdir()
    memory = load(tmp_path / "wt/src", home)
    assert (memory.project_root, paths(memory)) == (str(tmp_path / "wt"), [str(tmp_path / "wt/AGENTS.md")])


def test_imports_are_relative_to_the_importer_with_home_and_nesting(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "See @docs/style.md and @~/prefs.md.\n")
    write(repo / "docs/style.md", "style; also @../extra/more.md\n")
    write(repo / "extra/more.md", "more\n")
    write(home / "prefs.md", "prefs\n")
    memory = load(repo, home, trusted=True)  # a trusted repository may import from outside (here: ~)
    assert [(f.path, f.scope, f.imported_from) for f in memory.files] == [
        (str(repo / "AGENTS.md"), "project", None),
        (str(repo / "docs/style.md"), "import", str(repo / "AGENTS.md")),
        (str(repo / "extra/more.md"), "import", str(repo / "docs/style.md")),
        (str(home / "prefs.md"), "import", str(repo / "AGENTS.md")),
    ]
    assert memory.warnings == []


def test_import_cycle_is_detected_and_reported(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "@a.md\n")
    write(repo / "a.md", "a imports @b.md\n")
    write(repo / "b.md", "b imports @a.md and @AGENTS.md\n")
    memory = load(repo, home)
    assert paths(memory) == [str(repo / "AGENTS.md"), str(repo / "a.md"), str(repo / "b.md")]
    a, b, agents = str(repo / "a.md"), str(repo / "b.md"), str(repo / "AGENTS.md")
    assert memory.warnings == [
        f"memory import cycle skipped: {a} -> {b} -> {a}",
        f"memory import cycle skipped: {agents} -> {a} -> {b} -> {agents}",
    ]


def test_import_depth_is_capped_at_five_hops(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "@d1.md\n")
    for depth in range(1, 8):
        write(repo / f"d{depth}.md", f"level {depth} @d{depth + 1}.md\n")
    memory = load(repo, home)
    assert paths(memory) == [str(repo / "AGENTS.md")] + [str(repo / f"d{n}.md") for n in range(1, 6)]
    assert memory.warnings == [
        f"memory import @d6.md in {repo / 'd5.md'} not loaded: import depth limit (5)",
    ]
    assert len(load(repo, home, max_import_depth=2).files) == 3


def test_imports_in_code_fences_and_spans_are_ignored() -> None:
    text = (
        "Use @real.md.\n"
        "```bash\nnpm i @scope/pkg\n```\n"
        "~~~~\n@fenced.md\n```\nstill fenced @x.md\n~~~~\n"
        "Run `npm i @types/node` or ``a @b.md``; mail me@example.com; ping @alice\n"
        "(see @last.md)\n"
    )
    assert find_imports(text) == ["real.md", "alice", "last.md"]


def test_missing_imports_warn_only_when_they_look_like_paths(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "ask @alice, read @docs/missing.md\n```\n@docs/also-missing.md\n```\n")
    memory = load(repo, home)
    assert paths(memory) == [str(repo / "AGENTS.md")]
    assert memory.warnings == [
        f"memory import @docs/missing.md in {repo / 'AGENTS.md'}: {repo / 'docs/missing.md'} is not a file"
    ]


def test_a_file_reached_twice_loads_once(home: Path, repo: Path) -> None:
    write(repo / "shared.md", "shared\n")
    write(repo / "AGENTS.md", "@shared.md\n")
    write(repo / "sub/AGENTS.md", "@../shared.md\n")
    (home / ".claude").mkdir()
    (home / ".claude/CLAUDE.md").symlink_to(repo / "AGENTS.md")
    memory = load(repo / "sub", home)
    assert paths(memory) == [str(home / ".claude/CLAUDE.md"), str(repo / "shared.md"), str(repo / "sub/AGENTS.md")]


def test_cap_keeps_the_most_specific_files_and_reports_cuts(home: Path, repo: Path) -> None:
    write(home / ".config/tau/TAU.md", "u" * 99 + "\n")  # 100 bytes
    write(repo / "AGENTS.md", "".join(f"root line {i:02d}\n" for i in range(10)))  # 130 bytes
    write(repo / "sub/AGENTS.md", "s" * 59 + "\n")  # 60 bytes
    write(repo / "sub/CLAUDE.local.md", "l" * 39 + "\n")  # 40 bytes
    memory = load(repo / "sub", home, max_bytes=150)
    assert memory.files == [
        LoadedFile(str(repo / "AGENTS.md"), "project", 39, 130, truncated=True),
        LoadedFile(str(repo / "sub/AGENTS.md"), "project", 60, 60),
        LoadedFile(str(repo / "sub/CLAUDE.local.md"), "local", 40, 40),
    ]
    assert memory.dropped == [str(home / ".config/tau/TAU.md")]
    assert memory.total_bytes == 139
    assert memory.warnings == [
        f"memory file {repo / 'AGENTS.md'} truncated to 39 of 130 bytes: over the 150-byte memory cap "
        "(memory.max_bytes); raise it to load the whole file",
        f"memory file {home / '.config/tau/TAU.md'} (100 bytes) not loaded: over the 150-byte memory cap "
        "(memory.max_bytes); raise it to load the file",
    ]
    rendered = memory.render()
    assert f'<memory source="{repo / "AGENTS.md"}" truncated="true">\nroot line 00\nroot line 01\nroot line 02\n' in (
        rendered
    )
    assert "root line 02\n[truncated by tau: 39 of 130 bytes shown; over the memory cap]\n</memory>" in rendered
    assert "u" * 99 not in rendered


def test_cap_default_is_256_kib(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "x" * 1023 + "\n" + "y" * 299_999 + "\n" + "z\n")
    memory = load(repo, home)
    [loaded] = memory.files
    assert (loaded.bytes, loaded.size, loaded.truncated) == (1024, 301_026, True)
    [warning] = memory.warnings
    assert warning.startswith(f"memory file {repo / 'AGENTS.md'} truncated to 1024 of 301026 bytes: over the 262144")
    write(repo / "AGENTS.md", "x" * 300_000 + "\n")
    one_line = load(repo, home)
    assert (one_line.files, one_line.dropped) == ([], [str(repo / "AGENTS.md")])


def test_render_tags_each_source_in_order(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "Run `make test`. See @notes.md\n")
    write(repo / "notes.md", "Notes </memory> here\n")
    rendered = load(repo, home).render()
    assert rendered.endswith(
        f'<memory source="{repo / "AGENTS.md"}">\nRun `make test`. See @notes.md\n</memory>\n\n'
        f'<memory source="{repo / "notes.md"}" imported_from="{repo / "AGENTS.md"}">\n'
        "Notes &lt;/memory&gt; here\n</memory>"
    )
    assert rendered.startswith("The memory files below hold standing instructions")


def test_nothing_found_renders_nothing(home: Path, repo: Path) -> None:
    memory = load(repo, home)
    assert (memory.files, memory.warnings, memory.render()) == ([], [], "")


class _Unreadable(LocalFiles):
    """The host view, except that one path cannot be read (permission denied)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def read_bytes(self, path: str) -> bytes:
        if path == self.path:
            raise PermissionError(13, "Permission denied", path)
        return super().read_bytes(path)


def test_unreadable_file_is_a_warning_not_an_error(home: Path, repo: Path) -> None:
    write(repo / "AGENTS.md", "@secret.md\n")
    secret = write(repo / "secret.md", "x\n")
    memory = load(repo, home, files=_Unreadable(secret))
    assert paths(memory) == [str(repo / "AGENTS.md")]
    assert memory.warnings == [f"memory file {secret} could not be read: Permission denied"]


def test_symlinked_file_imports_relative_to_its_real_location(home: Path, tmp_path: Path, repo: Path) -> None:
    write(tmp_path / "dotfiles/CLAUDE.md", "@prefs.md\n")
    write(tmp_path / "dotfiles/prefs.md", "prefs\n")
    (home / ".claude").mkdir()
    (home / ".claude/CLAUDE.md").symlink_to(tmp_path / "dotfiles/CLAUDE.md")
    assert paths(load(repo, home)) == [str(home / ".claude/CLAUDE.md"), str(tmp_path / "dotfiles/prefs.md")]


def test_untrusted_repository_memory_stays_inside_the_repository(tmp_path: Path, home: Path, repo: Path) -> None:
    secret = write(tmp_path / "outside/id_rsa", "PRIVATE KEY\n")
    write(home / "prefs.md", "prefs\n")
    write(repo / "AGENTS.md", f"@docs/a.md @~/prefs.md @{secret} @../outside/id_rsa @docs/link.md\n")
    write(repo / "docs/a.md", "inside\n")
    (repo / "docs/link.md").symlink_to(secret)
    sub = repo / "sub"
    sub.mkdir()
    (sub / "CLAUDE.md").symlink_to(secret)  # a memory file that is itself a link out
    memory = load(sub, home)
    assert paths(memory) == [str(repo / "AGENTS.md"), str(repo / "docs/a.md")]
    assert all("PRIVATE" not in f.text for f in memory.files)
    [notice] = [w for w in memory.warnings if w.startswith("untrusted workspace")]
    assert "@~/prefs.md" in notice and str(sub / "CLAUDE.md") in notice and "tau trust" in notice


def test_the_users_own_memory_imports_from_anywhere(tmp_path: Path, home: Path, repo: Path) -> None:
    notes = write(tmp_path / "notes/team.md", "team\n")
    write(home / ".claude/CLAUDE.md", f"@{notes}\n")
    memory = load(repo, home)
    assert str(notes) in paths(memory)
