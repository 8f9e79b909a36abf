"""tau's own files are tau's: a project `.tau/state` that a committed symlink leads out of the project is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.errors import ConfigError
from tau.sessions.location import default_state_dir


def test_state_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "home/repo"
    (project / ".tau").mkdir(parents=True)
    (project / ".tau/config.toml").write_text("")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / ".tau/state").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the project"):
        default_state_dir({"HOME": str(tmp_path / "home")}, project)


def test_dot_tau_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "home/repo"
    project.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "state").mkdir(parents=True)
    (project / ".tau").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="outside the project"):
        default_state_dir({"HOME": str(tmp_path / "home")}, project)


def test_a_link_inside_the_project_is_fine(tmp_path: Path) -> None:
    project = tmp_path / "home/repo"
    (project / "data/state").mkdir(parents=True)
    (project / ".tau").mkdir()
    (project / ".tau/state").symlink_to(project / "data/state")
    assert default_state_dir({"HOME": str(tmp_path / "home")}, project) == project / ".tau/state"


@pytest.mark.parametrize("below", ["objects/ab", "refs/sessions", "locks/x.lock"])
def test_any_link_below_the_state_dir_is_refused(tmp_path: Path, below: str) -> None:
    project = tmp_path / "home/repo"
    (project / ".tau/state/objects/ab").mkdir(parents=True)
    (project / ".tau/state/refs").mkdir()
    (project / ".tau/state/locks").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / ".tau/state" / below).parent.mkdir(parents=True, exist_ok=True)
    if (project / ".tau/state" / below).exists():
        (project / ".tau/state" / below).rmdir()
    (project / ".tau/state" / below).symlink_to(outside)
    with pytest.raises(ConfigError, match="symbolic link inside the project's tau state"):
        default_state_dir({"HOME": str(tmp_path / "home")}, project)


def test_a_store_without_links_is_used(tmp_path: Path) -> None:
    project = tmp_path / "home/repo"
    (project / ".tau/state/objects/ab").mkdir(parents=True)
    (project / ".tau/state/objects/ab/cdef").write_text("{}")
    assert default_state_dir({"HOME": str(tmp_path / "home")}, project) == project / ".tau/state"
