"""Which session store a process uses (tau.config.store): --store > TAU_STORE > the user config's [store] url; a
repository's config never chooses it, trusted or not; a password in a store URL never appears in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau.config import load_job
from tau.config.store import resolve_store
from tau.errors import ConfigError

URL = "postgres://tau:s3cret-pw@db.internal:5432/tau"


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".config" / "tau").mkdir(parents=True)
    return {"HOME": str(home)}


def _user_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["HOME"]) / ".config" / "tau" / "config.toml"
    path.write_text(text)
    return path


def _chosen(env: dict[str, str], explicit: str | None = None) -> tuple[str, str]:
    choice = resolve_store(env, explicit)
    assert choice is not None
    return choice.url, choice.source


def test_flag_beats_env_beats_user_config(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert resolve_store(env) is None
    path = _user_config(env, '[store]\nurl = "postgresql://db/user"\n')
    assert _chosen(env) == ("postgresql://db/user", f"{path} [store] url")
    env["TAU_STORE"] = "postgres://db/env"
    assert _chosen(env) == ("postgres://db/env", "TAU_STORE")
    assert _chosen(env, "postgres://db/flag") == ("postgres://db/flag", "--store")
    env["TAU_STORE"] = ""
    assert _chosen(env) == ("postgresql://db/user", f"{path} [store] url")


def test_a_store_that_is_not_postgres_is_refused_without_its_password(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with pytest.raises(ConfigError) as raised:
        resolve_store(env, "mysql://tau:s3cret-pw@db/tau")
    assert "s3cret-pw" not in str(raised.value) and "--store" in str(raised.value)
    _user_config(env, '[store]\nurl = "redis://:s3cret-pw@db"\n')
    with pytest.raises(ConfigError) as raised:
        resolve_store(env)
    assert "s3cret-pw" not in str(raised.value) and "store.url" in str(raised.value)


def test_shown_masks_the_password(tmp_path: Path) -> None:
    choice = resolve_store(_env(tmp_path), URL)
    assert choice is not None and choice.shown == "postgres://***@db.internal:5432/tau"


@pytest.mark.parametrize("trust", [False, True])
def test_a_repository_config_cannot_choose_the_store(tmp_path: Path, trust: bool) -> None:
    env = _env(tmp_path)
    project = tmp_path / "repo"
    (project / ".tau").mkdir(parents=True)
    (project / ".tau" / "config.toml").write_text(f'[store]\nurl = "{URL}"\n')
    job = load_job(prompt_text="hi", flags={"trust_workspace": trust, "model": "test:scripted"}, env=env, cwd=project)
    assert "store" not in job.model_dump(mode="json")
    assert any("store can only be set in the user config" in notice for notice in job.notices), job.notices
    assert resolve_store(env) is None  # the project file is never read for it
