"""The skills that ship with tau: `skills/<name>/SKILL.md` beside the `tau` package, and installing copies of them.

Where they are: `shipped_root()` is the `skills/` directory next to the `tau` package — the repository root in a
source checkout, the unpacked bundle in the frozen binary (`tau.spec` lists it in DATA, as it does `sandbox/`). A
wheel carries only the package, so there the directory is missing and `shipped_skills` raises `ConfigError` saying so.

What they are not: a discovery library. A run never offers them by itself (that would change the tools and the prompt
of every run, and every recorded cassette); `tau skills shipped --install DIR` copies them where agents look
(`~/.claude/skills`, `.tau/skills`, ...), and from there they are ordinary skills.

Invariants: every shipped skill parses with `parse_skill_md` (a broken one is an error, not a warning: it is ours);
an install writes each skill to a staging directory inside DIR and renames it into place, so a skill directory is
never half-written; an existing `DIR/<name>` is replaced only with `force`, and a symbolic link there is removed, never
followed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tau.errors import ConfigError
from tau.skills.parse import SkillMeta, SkillParseError, parse_skill_md

__all__ = ["ShippedSkill", "install_shipped", "shipped_root", "shipped_skills"]

SKILL_FILE = "SKILL.md"


@dataclass(frozen=True)
class ShippedSkill:
    """One shipped skill: its metadata, its directory, and its files relative to that directory (sorted)."""

    meta: SkillMeta
    directory: Path
    files: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.meta.name


def shipped_root() -> Path:
    """`skills/` beside the `tau` package (a checkout's root, or the frozen binary's bundle)."""
    return Path(__file__).resolve().parents[2] / "skills"


def _files(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()))


def shipped_skills(root: Path | None = None) -> list[ShippedSkill]:
    """Every shipped skill, by directory name. Raises ConfigError when the directory is missing or a skill is broken."""
    base = root or shipped_root()
    if not base.is_dir():
        raise ConfigError(
            f"no shipped skills at {base}: this installation of tau carries none (a wheel ships only the package; "
            "use a source checkout or the tau binary)"
        )
    skills: list[ShippedSkill] = []
    for directory in sorted(child for child in base.iterdir() if (child / SKILL_FILE).is_file()):
        try:
            meta, _, _ = parse_skill_md((directory / SKILL_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SkillParseError) as error:
            raise ConfigError(f"shipped skill {directory / SKILL_FILE} is broken: {error}") from None
        skills.append(ShippedSkill(meta, directory, _files(directory)))
    return skills


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _install_one(skill: ShippedSkill, destination: Path, force: bool) -> Path:
    target = destination / skill.name
    exists = target.exists() or target.is_symlink()
    if exists and not force:
        raise ConfigError(f"{target} already exists (--force replaces it)")
    staging = destination / f".{skill.name}.tau-install-{os.getpid()}"
    _remove(staging)
    shutil.copytree(skill.directory, staging, symlinks=False)
    if exists:
        retired = destination / f".{skill.name}.tau-replaced-{os.getpid()}"
        _remove(retired)
        target.rename(retired)
        staging.rename(target)
        _remove(retired)
    else:
        staging.rename(target)
    return target


def install_shipped(destination: Path, *, force: bool = False, root: Path | None = None) -> list[Path]:
    """Copy every shipped skill to `destination/<name>/` (created if missing); the directories written, in order.

    Raises ConfigError for an existing skill directory without `force`, or a destination that cannot be written.
    """
    skills = shipped_skills(root)
    try:
        destination.mkdir(parents=True, exist_ok=True)
        return [_install_one(skill, destination, force) for skill in skills]
    except OSError as error:
        where = error.filename or destination
        problem = error.strerror or error
        raise ConfigError(f"cannot install shipped skills into {destination}: {where}: {problem}") from None
