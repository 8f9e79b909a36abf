"""Skill discovery order and precedence, malformed files, the level-1 listing budget and omissions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tau.skills import ShadowedSkill, SkillCatalog, discover_skills, listing_budget, listing_warning

MakeSkill = Callable[..., Path]


def discover(cwd: Path, home: Path, root: Path | None = None, workspace: Path | None = None) -> SkillCatalog:
    return discover_skills(
        cwd=str(cwd),
        home=str(home),
        project_root=str(root) if root else None,
        workspace_root=str(workspace) if workspace else None,
    )


def test_discovery_order_nearest_project_first_then_user(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    sub = repo / "pkg"
    make_skill(sub / ".agents/skills", "c-agents")
    make_skill(sub / ".tau/skills", "b-tau")
    make_skill(sub / ".claude/skills", "a-claude")
    make_skill(repo / ".claude/skills", "root-skill")
    make_skill(home / ".agents/skills", "u-agents")
    make_skill(home / ".claude/skills", "u-claude")
    make_skill(home / ".config/tau/skills", "u-config")
    make_skill(home / ".tau/skills", "u-tau")
    catalog = discover(sub, home, repo)
    assert [(s.name, s.scope) for s in catalog.skills] == [
        ("b-tau", "project"),
        ("a-claude", "project"),
        ("c-agents", "project"),
        ("root-skill", "project"),
        ("u-tau", "user"),
        ("u-config", "user"),
        ("u-claude", "user"),
        ("u-agents", "user"),
    ]
    assert catalog.warnings == []


def test_skills_in_a_library_are_scanned_in_name_order(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    for name in ("zeta", "alpha", "mid"):
        make_skill(repo / ".claude/skills", name)
    (repo / ".claude/skills/no-skill-md").mkdir()
    (repo / ".claude/skills/README.md").write_text("not a skill")
    assert [s.name for s in discover(repo, home, repo).skills] == ["alpha", "mid", "zeta"]


def test_name_clash_nearest_project_wins_and_the_loser_is_recorded(
    home: Path, repo: Path, make_skill: MakeSkill
) -> None:
    sub = repo / "pkg"
    near = make_skill(sub / ".agents/skills", "deploy", "near")
    far = make_skill(repo / ".tau/skills", "deploy", "far")
    user = make_skill(home / ".claude/skills", "deploy", "user")
    catalog = discover(sub, home, repo)
    [skill] = catalog.skills
    assert (skill.description, skill.path) == ("near", str(near / "SKILL.md"))
    assert catalog.shadowed == [
        ShadowedSkill("deploy", str(far / "SKILL.md"), str(near / "SKILL.md")),
        ShadowedSkill("deploy", str(user / "SKILL.md"), str(near / "SKILL.md")),
    ]
    assert catalog.warnings == []


def test_symlinked_library_counts_once(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    make_skill(repo / ".claude/skills", "one")
    (repo / ".agents").mkdir()
    (repo / ".agents/skills").symlink_to(repo / ".claude/skills")
    catalog = discover(repo, home, repo)
    assert ([s.name for s in catalog.skills], catalog.shadowed) == (["one"], [])


def test_without_a_project_root_only_cwd_is_searched(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    make_skill(repo / ".claude/skills", "root-skill")
    make_skill(repo / "pkg/.claude/skills", "pkg-skill")
    assert [s.name for s in discover(repo / "pkg", home).skills] == ["pkg-skill"]


def test_malformed_skills_are_skipped_with_warnings(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    library = repo / ".claude/skills"
    make_skill(library, "good")
    make_skill(library, "bad-yaml", raw="---\nname: bad-yaml\ndescription: [oops\n---\n")
    make_skill(library, "no-desc", raw="---\nname: no-desc\n---\nbody")
    make_skill(library, "Upper", raw="---\nname: Upper\ndescription: d\n---\n")
    make_skill(library, "plain", raw="just markdown, no frontmatter\n")
    (library / "binary").mkdir()
    (library / "binary/SKILL.md").write_bytes(b"---\nname: binary\ndescription: \xff\xfe\n---\n")
    catalog = discover(repo, home, repo)
    assert [s.name for s in catalog.skills] == ["good"]
    skill_md = {name: library / name / "SKILL.md" for name in ("bad-yaml", "binary", "no-desc", "plain", "Upper")}
    assert catalog.warnings == [
        f"skill {skill_md['Upper']} skipped: invalid name 'Upper': name must be lowercase letters, digits and "
        "single hyphens, not starting or ending with a hyphen",
        f"skill {skill_md['bad-yaml']} skipped: frontmatter is not valid YAML "
        "(expected ',' or ']', but got '<stream end>')",
        f"skill {skill_md['binary']} skipped: not UTF-8 text",
        f"skill {skill_md['no-desc']} skipped: frontmatter has no 'description'",
        f"skill {skill_md['plain']} skipped: no YAML frontmatter (the file must start with a '---' line and close it "
        "with '---')",
    ]


def test_workspace_dir_is_set_only_for_skills_inside_the_workspace(
    home: Path, repo: Path, make_skill: MakeSkill
) -> None:
    make_skill(repo / "app/.claude/skills", "inside")
    make_skill(repo / ".claude/skills", "above")
    make_skill(home / ".claude/skills", "personal")
    catalog = discover(repo / "app", home, repo, workspace=repo / "app")
    assert {s.name: s.workspace_dir for s in catalog.skills} == {
        "inside": ".claude/skills/inside",
        "above": None,
        "personal": None,
    }


def _catalog_with(home: Path, repo: Path, make_skill: MakeSkill, count: int, description: str) -> SkillCatalog:
    for index in range(count):
        make_skill(repo / ".claude/skills", f"skill-{index:02d}", description)
    return discover(repo, home, repo)


def test_listing_fits_the_budget_unchanged(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    catalog = _catalog_with(home, repo, make_skill, 2, "Does things. Use when asked.")
    text, omitted = catalog.render_listing(8000)
    assert omitted == []
    assert text.startswith("<skills>\nSkills are packaged instructions for specific tasks.")
    assert text.endswith(
        "- skill-00: Does things. Use when asked.\n- skill-01: Does things. Use when asked.\n</skills>"
    )


def test_listing_shortens_descriptions_before_omitting(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    catalog = _catalog_with(home, repo, make_skill, 10, "x" * 500)
    full, _ = catalog.render_listing(100_000)
    text, omitted = catalog.render_listing(2000)
    assert len(full) > 5000
    assert (omitted, len(text) <= 2000) == ([], True)
    assert text.count("- skill-") == 10
    assert "…\n" in text
    assert len(text) > 2000 - 10 * 2  # the longest descriptions that fit, not the minimum


def test_listing_omits_lowest_precedence_skills_when_shortening_is_not_enough(
    home: Path, repo: Path, make_skill: MakeSkill
) -> None:
    make_skill(home / ".claude/skills", "personal", "p" * 300)
    catalog = _catalog_with(home, repo, make_skill, 30, "d" * 300)
    text, omitted = catalog.render_listing(1500)
    assert len(text) <= 1500
    kept = text.count("- skill-")
    assert 0 < kept < 30
    assert omitted == [f"skill-{i:02d}" for i in range(kept, 30)] + ["personal"]
    assert listing_warning(omitted, 1500) == (
        f"{len(omitted)} skill(s) left out of the instructions (skill listing budget 1500 chars): "
        f"{', '.join(omitted)}; the skill tool can still load them by name"
    )
    assert listing_warning([], 1500) is None


def test_disabled_model_invocation_is_not_listed(home: Path, repo: Path, make_skill: MakeSkill) -> None:
    make_skill(
        repo / ".claude/skills",
        "manual",
        raw="---\nname: manual\ndescription: m\ndisable-model-invocation: true\n---\n",
    )
    catalog = discover(repo, home, repo)
    assert [s.name for s in catalog.skills] == ["manual"]
    assert catalog.render_listing(8000) == ("", [])


def test_listing_budget_is_two_percent_of_the_window_capped_at_8000() -> None:
    assert listing_budget(32_000) == 2560
    assert listing_budget(128_000) == 8000
    assert listing_budget(1_000_000) == 8000
