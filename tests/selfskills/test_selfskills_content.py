"""The skills and AGENTS.md stay true to the code: frontmatter parses with tau's own loader, the files and paths they
name exist, the layers AGENTS.md draws are pyproject's, the exit-code table is `ExitCode`, the configuration reference
names only real settings and variables, and AGENTS.md stays small enough to be loaded into every run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from selfskills_docs import (
    AGENTS_MD,
    DEV_RECIPES,
    DEV_SKILL,
    DOCS,
    ROOT,
    USAGE_REFERENCE,
    USAGE_SKILL,
    repo_paths,
)

from tau.config.layers import ENV_VARS
from tau.config.settings import SettingsLayer
from tau.errors import ExitCode
from tau.skills import parse_skill_md

AGENTS_MD_MAX_BYTES = 6 * 1024
DEV_DOCS = (DEV_SKILL, DEV_RECIPES, AGENTS_MD)
PLACEHOLDER = re.compile(r"[A-Z]{3,}")  # `tau/tools/NAME.py`
OTHER_ENV_VARS = {"TAU_STATE_DIR", "TAU_TRUST_WORKSPACE"}  # read outside the settings layers


@pytest.mark.parametrize(("skill", "name"), [(USAGE_SKILL, "tau"), (DEV_SKILL, "tau-dev")], ids=["tau", "tau-dev"])
def test_skill_frontmatter_parses_cleanly_with_taus_loader(skill: Path, name: str) -> None:
    meta, body, warnings = parse_skill_md(skill.read_text(encoding="utf-8"), directory_name=skill.parent.name)
    assert (meta.name, warnings) == (name, [])
    assert meta.model_invocable and len(meta.description) <= 1024
    assert "Use when" in meta.description or "Use before" in meta.description  # says when to load it
    assert body.startswith("# ")


@pytest.mark.parametrize("doc", DEV_DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_repository_path_the_contributor_docs_name_exists(doc: Path) -> None:
    """(The usage skill names paths of the user's repository, `.claude/settings.json` and such: not checked.)"""
    named = [(line, path) for line, path in repo_paths(doc) if not PLACEHOLDER.search(path)]
    assert len(named) >= 3
    missing = [(line, path) for line, path in named if not (ROOT / path).exists()]
    assert missing == [], "paths named that do not exist (moved? update the doc)"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_markdown_file_named_beside_a_doc_exists(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    siblings = re.findall(r"`((?:reference/)?[a-z-]+\.md)`", text)
    assert [name for name in siblings if not (doc.parent / name).exists() and not (ROOT / name).exists()] == []


def test_the_skills_point_to_their_reference_files() -> None:
    assert "`reference/configuration.md`" in USAGE_SKILL.read_text(encoding="utf-8")
    assert "`recipes.md`" in DEV_SKILL.read_text(encoding="utf-8")
    assert USAGE_REFERENCE.is_file() and DEV_RECIPES.is_file()


def test_agents_md_is_small_and_points_to_the_skills() -> None:
    text = AGENTS_MD.read_text(encoding="utf-8")
    assert len(text.encode()) <= AGENTS_MD_MAX_BYTES
    assert ".claude/skills/tau-dev/SKILL.md" in text and "skills/tau/SKILL.md" in text


def _drawn_layers(doc: Path) -> list[set[str]]:
    """The layer diagram of a doc: the first fenced block whose lines chain packages with `->`."""
    block = re.search(r"```\n(cli .*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None, f"{doc.name}: no layer diagram"
    chain = " ".join(block.group(1).split())
    return [{name.strip() for name in layer.split("|")} for layer in chain.split("->")]


def _pyproject_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [
        {name.strip().strip("()").removeprefix("tau.") for name in layer.split("|")} for layer in contract["layers"]
    ]


@pytest.mark.parametrize("doc", [AGENTS_MD, DEV_SKILL], ids=["AGENTS.md", "tau-dev"])
def test_the_layer_diagram_is_pyprojects(doc: Path) -> None:
    assert _drawn_layers(doc) == _pyproject_layers()


def test_the_exit_code_table_is_the_exit_code_contract() -> None:
    text = USAGE_SKILL.read_text(encoding="utf-8")
    section = text[text.index("## Exit codes") :]
    section = section[: section.index("\n## ", 1)]
    codes = {int(code) for row in re.findall(r"^\| ([\d /]+) \|", section, re.MULTILINE) for code in row.split("/")}
    assert codes == {int(code) for code in ExitCode}


def _settings_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        out.add(key)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out |= _settings_paths(field.annotation, key + ".")
    return out


def test_the_configuration_reference_names_real_settings_and_variables() -> None:
    text = USAGE_REFERENCE.read_text(encoding="utf-8")
    keys = re.findall(r"^\| `([a-z_.]+)` \|", text, re.MULTILINE)
    assert len(keys) >= 40
    assert sorted(set(keys) - _settings_paths(SettingsLayer) - {"mode"}) == []  # `mode`: the documented shorthand
    variables = set(re.findall(r"\bTAU_[A-Z_]+\b", text))
    assert sorted(variables - set(ENV_VARS) - OTHER_ENV_VARS) == []
    assert sorted(set(ENV_VARS) - {"TAU_SANDBOX"} - variables) == []  # every settings variable documented
