"""The skills reach their readers: `tau skills ls` in this repository lists the contributor skill, and
`tau skills shipped` lists the usage skill and installs copies of it (real processes, real files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from selfskills_docs import AGENTS_MD, DEV_SKILL, ROOT, USAGE_SKILL

from tau.cli.main import cli
from tau.errors import ConfigError
from tau.skills.shipped import install_shipped, shipped_root, shipped_skills

_SCRIPT = Path(sys.executable).with_name("tau")
TAU = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tau"]


def _tau(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`tau ARGS` as a subprocess with a fresh, empty home (no user-level skills or config can leak in)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
        "LANG": "C.UTF-8",
    }
    return subprocess.run([*TAU, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_skills_ls_in_the_repository_root_lists_tau_dev(tmp_path: Path) -> None:
    result = _tau("skills", "ls", "--json", home=tmp_path, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    entry = next(skill for skill in listing["skills"] if skill["name"] == "tau-dev")
    assert (entry["scope"], entry["path"], entry["workspace_dir"], entry["in_listing"]) == (
        "project",
        str(DEV_SKILL),
        ".claude/skills/tau-dev",
        True,
    )
    assert [warning for warning in listing["warnings"] if "tau-dev" in warning] == []


def test_memory_show_in_the_repository_root_loads_agents_md(tmp_path: Path) -> None:
    result = _tau("memory", "show", "--json", home=tmp_path, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert str(AGENTS_MD) in result.stdout


def test_the_readme_example_replays_with_this_agents_md_loaded(tmp_path: Path) -> None:
    """The README's first command in a copy of this repository's shape (AGENTS.md and the contributor skill at the
    root of a git checkout): AGENTS.md joins the instructions, which a cassette does not compare: the replay holds."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copy(AGENTS_MD, repo / "AGENTS.md")
    shutil.copytree(DEV_SKILL.parent, repo / ".claude" / "skills" / "tau-dev")
    shutil.copytree(ROOT / "examples" / "hello", repo / "examples" / "hello", ignore=shutil.ignore_patterns("notes"))
    result = _tau("run", "examples/hello/hello.md", "-o", "stream-json", home=tmp_path / "home", cwd=repo)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert (result.returncode, events[-1]["status"]) == (0, "completed"), result.stderr
    assert events[0]["memory_files"] == [str(repo / "AGENTS.md")]
    assert (repo / "examples" / "hello" / "notes" / "summary.md").is_file()


def test_shipped_lists_the_usage_skill() -> None:
    assert shipped_root() == ROOT / "skills"
    result = CliRunner().invoke(cli, ["skills", "shipped", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [(s["name"], s["path"], s["files"]) for s in document["skills"]] == [
        ("tau", str(USAGE_SKILL.parent), ["SKILL.md", "reference/configuration.md"])
    ]
    assert document["installed"] == []


def test_install_copies_every_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "claude" / "skills"
    result = CliRunner().invoke(cli, ["skills", "shipped", "--install", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"installed: {target / 'tau'}"
    for name in ("SKILL.md", "reference/configuration.md"):
        assert (target / "tau" / name).read_bytes() == (USAGE_SKILL.parent / name).read_bytes()
    assert sorted(path.name for path in target.iterdir()) == ["tau"]  # no staging directory left behind

    again = _tau("skills", "shipped", "--install", str(target), home=tmp_path, cwd=tmp_path)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr == f"tau: {target / 'tau'} already exists (--force replaces it)\n"


def test_force_replaces_a_stale_copy_and_a_symlink_without_following_it(tmp_path: Path) -> None:
    target = tmp_path / "skills"
    (target / "tau").mkdir(parents=True)
    (target / "tau" / "stale.md").write_text("old\n")
    assert install_shipped(target, force=True) == [target / "tau"]
    assert not (target / "tau" / "stale.md").exists() and (target / "tau" / "SKILL.md").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine\n")
    (target / "tau").rename(tmp_path / "old-copy")
    (target / "tau").symlink_to(elsewhere, target_is_directory=True)
    install_shipped(target, force=True)
    assert not (target / "tau").is_symlink() and (target / "tau" / "SKILL.md").is_file()
    assert sorted(path.name for path in elsewhere.iterdir()) == ["keep.txt"]


def test_force_without_install_and_a_missing_directory_are_one_line_errors(tmp_path: Path) -> None:
    result = _tau("skills", "shipped", "--force", home=tmp_path, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "tau: --force needs --install DIR\n")
    with pytest.raises(ConfigError, match=r"^no shipped skills at .*: this installation of tau carries none"):
        shipped_skills(tmp_path / "nothing-here")


def test_the_binary_bundles_the_shipped_skills() -> None:
    """tau.spec puts `skills/` beside the package in the bundle, where `shipped_root()` looks (as for `sandbox/`)."""
    spec = (ROOT / "tau.spec").read_text(encoding="utf-8")
    assert '(str(ROOT / "skills"), "skills")' in spec
