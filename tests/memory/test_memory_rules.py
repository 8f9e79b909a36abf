"""`.claude/rules`: `paths:` globs (gitignore-like, braces), frontmatter forms, start-time rules in the hierarchy, user
rules, and trust (a rule file or folder linked out of an untrusted repository is refused, not even read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.memory import LocalFiles, load_bootstrap_memory
from tau.memory.pathglobs import PathGlobs, expand_braces
from tau.memory.rules import discover_rules, rule_paths


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["src/**/*.ts"], "src/a.ts", True),
        (["src/**/*.ts"], "src/api/v1/a.ts", True),
        (["src/**/*.ts"], "lib/src/a.ts", False),  # a pattern with a slash is anchored at the root
        (["src/**/*.ts"], "src/a.tsx", False),
        (["*.md"], "docs/deep/readme.md", True),  # no slash: any depth
        (["Makefile"], "tools/Makefile", True),
        (["src/api"], "src/api/v1/handler.go", True),  # a folder pattern covers its contents
        (["src/api/"], "src/api/x.go", True),
        (["src/api/"], "src/api", False),  # trailing slash: folders only (src/api here is a file)
        (["/src/*.py"], "src/a.py", True),
        (["./src/*.py"], "src/a.py", True),
        (["src/*.py"], "src/pkg/a.py", False),  # * stays in one segment
        (["src/**/*.{ts,tsx}"], "src/ui/App.tsx", True),
        (["{apps,libs}/*/src/**"], "libs/core/src/x/y.rs", True),
        (["test_?.py"], "tests/test_a.py", True),
        (["[ab]*.go"], "cmd/bmain.go", True),
        (["[ab]*.go"], "cmd/cmain.go", False),
        (["**/*.ts", "!**/*.test.ts"], "src/a.test.ts", False),
        (["**/*.ts", "!**/*.test.ts"], "src/a.ts", True),
        (["**/*"], "../outside.ts", False),
        (["{unbalanced"], "{unbalanced", True),
    ],
)
def test_path_globs(patterns: list[str], path: str, expected: bool) -> None:
    assert PathGlobs.compile(patterns).matches(path) is expected


def test_folder_matches_use_folder_semantics() -> None:
    assert PathGlobs.compile(["src/api/"]).matches("src/api", is_dir=True)
    assert not PathGlobs.compile(["**/*.ts"]).matches("src/api", is_dir=True)


def test_brace_expansion_is_bounded_and_nested() -> None:
    assert expand_braces("a/{b,c{d,e}}/f") == ["a/b/f", "a/cd/f", "a/ce/f"]
    assert expand_braces("{x}") == ["{x}"]
    assert len(expand_braces("{a,b}" * 10)) == 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\npaths:\n  - 'src/**/*.ts'\n  - \"lib/**\"\n---\nbody\n", (("src/**/*.ts", "lib/**"), None)),
        ("---\npaths: src/**/*.{ts,tsx}, tests/**\n---\nbody\n", (("src/**/*.{ts,tsx}", "tests/**"), None)),
        ("---\ndescription: always\n---\nbody\n", ((), None)),
        ("no frontmatter\n", ((), None)),
        ("---\npaths: []\n---\nbody\n", ((), None)),
    ],
)
def test_rule_paths_forms(text: str, expected: tuple[tuple[str, ...], str | None]) -> None:
    assert rule_paths(text.encode()) == expected


def test_unquoted_globs_are_read_leniently_with_a_warning() -> None:
    patterns, problem = rule_paths(b"---\npaths:\n  - **/*.ts\n  - src/**\n---\nbody\n")
    assert patterns == ("**/*.ts", "src/**")
    assert problem is not None and "not valid YAML" in problem
    patterns, problem = rule_paths(b"---\npaths: {a: 1}\n---\nbody\n")
    assert patterns == () and problem is not None and "must be a list" in problem


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_rules_without_paths_load_at_start_in_the_hierarchy(repo: Path, home: Path) -> None:
    write(repo / "CLAUDE.md", "root\n")
    write(repo / "CLAUDE.local.md", "mine\n")
    write(repo / ".claude/rules/style.md", "---\ndescription: style\n---\nSTYLE: tabs\n")
    write(repo / ".claude/rules/frontend/react.md", "REACT: hooks only @../../../docs/react.md\n")
    write(repo / "docs/react.md", "react notes\n")
    write(repo / ".claude/rules/api.md", "---\npaths: src/api/**\n---\nAPI\n")
    write(repo / ".claude/rules/notes.txt", "not markdown\n")
    write(repo / ".claude/rules/.hidden.md", "hidden\n")
    write(home / ".claude/rules/me.md", "USER RULE\n")
    write(home / ".claude/rules/py.md", "---\npaths: ['**/*.py']\n---\nPY\n")
    memory = load_bootstrap_memory(cwd=str(repo), home=str(home))
    assert [(f.path, f.scope) for f in memory.files] == [
        (str(home / ".claude/rules/me.md"), "rule"),
        (str(repo / "CLAUDE.md"), "project"),
        (str(repo / ".claude/rules/frontend/react.md"), "rule"),
        (str(repo / "docs/react.md"), "import"),
        (str(repo / ".claude/rules/style.md"), "rule"),
        (str(repo / "CLAUDE.local.md"), "local"),
    ]
    style = next(f for f in memory.files if f.path.endswith("style.md"))
    assert style.text == "STYLE: tabs\n"  # frontmatter is not an instruction
    assert [(r.path, r.patterns, r.base, r.user) for r in memory.conditional] == [
        (str(home / ".claude/rules/py.md"), ("**/*.py",), str(repo), True),
        (str(repo / ".claude/rules/api.md"), ("src/api/**",), str(repo), False),
    ]
    assert memory.warnings == []
    no_compat = load_bootstrap_memory(cwd=str(repo), home=str(home), compat=False)
    assert all(not f.path.startswith(str(home)) for f in no_compat.files)
    assert [r.user for r in no_compat.conditional] == [False]


def test_a_rule_linked_out_of_an_untrusted_repository_is_refused_unread(tmp_path: Path, repo: Path, home: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.md", "SECRET always\n")
    write(outside / "cond.md", "---\npaths: ['**']\n---\nSECRET conditional\n")
    write(outside / "dir/inner.md", "SECRET in a linked folder\n")
    write(repo / ".claude/rules/ok.md", "OK\n")
    (repo / ".claude/rules/secret.md").symlink_to(outside / "secret.md")
    (repo / ".claude/rules/cond.md").symlink_to(outside / "cond.md")
    (repo / ".claude/rules/linked").symlink_to(outside / "dir")
    memory = load_bootstrap_memory(cwd=str(repo), home=str(home))
    assert [f.path for f in memory.files] == [str(repo / ".claude/rules/ok.md")]
    assert memory.conditional == []
    [notice] = memory.warnings
    assert notice.startswith("untrusted workspace: memory outside the repository not loaded:")
    for name in ("cond.md", "linked/inner.md", "secret.md"):
        assert str(repo / ".claude/rules" / name) in notice
    trusted = load_bootstrap_memory(cwd=str(repo), home=str(home), trusted=True)
    assert sorted(Path(f.path).name for f in trusted.files) == ["inner.md", "ok.md", "secret.md"]
    assert [r.path for r in trusted.conditional] == [str(repo / ".claude/rules/cond.md")]


def test_rule_walk_survives_a_link_cycle(repo: Path) -> None:
    write(repo / ".claude/rules/a.md", "A\n")
    (repo / ".claude/rules/loop").symlink_to(repo / ".claude/rules")
    found = discover_rules(LocalFiles(), str(repo / ".claude/rules"), base=str(repo), confine=str(repo))
    assert found.always == [str(repo / ".claude/rules/a.md")]
