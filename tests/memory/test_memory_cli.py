"""`tau memory show`: the file list and the exact instructions text, as text and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tau.cli.memory_cmd import memory_group


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".config/tau").mkdir(parents=True)
    (home / ".config/tau/TAU.md").write_text("be brief\n")
    (home / ".claude").mkdir()
    (home / ".claude/CLAUDE.md").write_text("claude prefs\n")
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("Run make test. @docs/a.md @missing/b.md\n")
    (repo / "docs").mkdir()
    (repo / "docs/a.md").write_text("imported\n")
    (repo / ".tau/memory").mkdir(parents=True)
    (repo / ".tau/memory/INDEX.md").write_text("- plan.md\n")
    return repo


def test_show_json_lists_files_and_the_instructions(project: Path) -> None:
    result = CliRunner().invoke(memory_group, ["show", "--cwd", str(project), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    home = Path.home()
    assert [(f["path"], f["scope"], f["bytes"], f["imported_from"]) for f in data["files"]] == [
        (str(home / ".claude/CLAUDE.md"), "user", 13, None),
        (str(home / ".config/tau/TAU.md"), "user", 9, None),
        (str(project / "AGENTS.md"), "project", 40, None),
        (str(project / "docs/a.md"), "import", 9, str(project / "AGENTS.md")),
    ]
    assert data["warnings"] == [
        f"memory import @missing/b.md in {project / 'AGENTS.md'}: {project / 'missing/b.md'} is not a file"
    ]
    assert data["working_memory"] == {"dir": ".tau/memory", "index": "- plan.md"}
    assert f'<memory source="{project / "docs/a.md"}" imported_from="{project / "AGENTS.md"}">' in data["instructions"]
    assert data["instructions"].endswith("- plan.md\n</working-memory>")


def test_show_text_no_compat_and_cap(project: Path) -> None:
    result = CliRunner().invoke(memory_group, ["show", "--cwd", str(project), "--no-compat", "--max-bytes", "45"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:8] == [
        f"project root: {project}",
        "memory files (40 of 45 bytes):",
        f"       40  {project / 'AGENTS.md'}  (project)",
        f"  dropped  {Path.home() / '.config/tau/TAU.md'}  (over the cap)",
        f"  dropped  {project / 'docs/a.md'}  (over the cap)",
        "on demand, when the model first touches a matching path with the file tools:",
        "  (none)",
        "working memory: .tau/memory/INDEX.md loaded",
    ]
    assert "claude prefs" not in result.output
    assert result.output.rstrip().endswith("</working-memory>")


def test_show_lists_rules_and_nested_memory_loaded_on_demand(project: Path) -> None:
    (project / ".claude/rules/api").mkdir(parents=True)
    (project / ".claude/rules/always.md").write_text("ALWAYS\n")
    (project / ".claude/rules/api/ts.md").write_text("---\npaths: src/**/*.{ts,tsx}, tests/**\n---\nTS\n")
    (project / "src/api/.claude").mkdir(parents=True)
    (project / "src/api/.claude/CLAUDE.md").write_text("API\n")
    (project / "src/web").mkdir()
    (project / "src/web/AGENTS.md").write_text("WEB\n")
    result = CliRunner().invoke(memory_group, ["show", "--cwd", str(project), "--no-compat"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("on demand, when the model first touches a matching path with the file tools:")
    assert lines[start + 1 : start + 4] == [
        f"  {project / '.claude/rules/api/ts.md'}  (rule; paths: src/**/*.{{ts,tsx}}, tests/**; relative to {project})",
        f"  {project / 'src/api/.claude/CLAUDE.md'}  (files under {project / 'src/api'})",
        f"  {project / 'src/web/AGENTS.md'}  (files under {project / 'src/web'})",
    ]
    assert f"{project / '.claude/rules/always.md'}  (rule)" in result.output
    data = json.loads(CliRunner().invoke(memory_group, ["show", "--cwd", str(project), "--json"]).output)
    assert data["on_demand"] == {
        "rules": [
            {
                "path": str(project / ".claude/rules/api/ts.md"),
                "paths": ["src/**/*.{ts,tsx}", "tests/**"],
                "base": str(project),
                "user": False,
            }
        ],
        "nested": [str(project / "src/api/.claude/CLAUDE.md"), str(project / "src/web/AGENTS.md")],
    }
    assert "ALWAYS" in data["instructions"] and "TS\n" not in data["instructions"]
