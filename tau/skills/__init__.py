"""Skills: SKILL.md discovery, parsing and progressive disclosure (Agent Skills spec, Claude Code extras tolerated).

Level 1 (name + description) goes into the instructions through `SkillCatalog.render_listing` within a budget;
level 2 (the body and the file list) and, for skills outside the workspace, level 3 come from the `skill` tool;
level 3 inside the workspace is read with the normal `read` tool.

Written rather than wrapping pydantic-ai-harness `Skills`: that capability exposes a `load_capability` tool (not
`skill`), has no listing budget or omission report, reports problems only as `UserWarning`s, reads libraries from one
workspace only, lists no bundled files, and resolves clashes by configured order without recording them.

Imports nothing from tau.tools, tau.runtime, tau.environment or tau.memory.
"""

from tau.skills.catalog import (
    MAX_LISTING_CHARS,
    PROJECT_SKILL_DIRS,
    USER_SKILL_DIRS,
    ShadowedSkill,
    Skill,
    SkillCatalog,
    discover_skills,
    listed_name,
    listing_budget,
    listing_warning,
)
from tau.skills.files import LocalFiles, SkillFiles
from tau.skills.parse import SkillMeta, SkillParseError, parse_skill_md, unescape_description
from tau.skills.tool import Activate, Fork, SkillBinding, render_body, skill_tool, skills_toolset

__all__ = [
    "MAX_LISTING_CHARS",
    "PROJECT_SKILL_DIRS",
    "USER_SKILL_DIRS",
    "Activate",
    "Fork",
    "LocalFiles",
    "ShadowedSkill",
    "Skill",
    "SkillBinding",
    "SkillCatalog",
    "SkillFiles",
    "SkillMeta",
    "SkillParseError",
    "discover_skills",
    "listed_name",
    "listing_budget",
    "listing_warning",
    "parse_skill_md",
    "render_body",
    "skill_tool",
    "skills_toolset",
    "unescape_description",
]
