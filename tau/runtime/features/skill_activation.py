"""Skills as Claude Code runs them: `allowed-tools` pre-approval, `context: fork` skills run in a subagent, and
`skills:` of agent files preloaded into the subagent's instructions.

The `skill` tool (tau.skills) knows neither permissions nor subagents; the runtime fills its `SkillBinding`:

- `preapproval(trusted)` -> `activate`: when an inline skill with `allowed-tools` loads, its entries are added to the
  *calling agent's* permission policy as allow rules (the `PermissionCapability` found in `ctx.capabilities`, so a
  subagent's skill widens only that subagent). They stay for the rest of that agent's run (tau has no "skill ended"
  signal; Claude Code's skill stays active for the turn, and a headless run is one turn). Allow rules come after deny
  rules, ask rules, plan mode's limits and the protected-path check, so a skill never gets past any of those. Only
  the user's own skills (scope `user`) or skills of a trusted workspace pre-approve; a repository's skill in an
  untrusted workspace does not (`untrusted_notice` says so once at run start, the tool result says so on load).
- `skill_forks(runner, definitions, trusted)` -> `fork`: a `context: fork` skill invoked by the top-level run is run
  by the subagent machinery (`SubagentRunner.launch`) as a child of type `agent:` (a discovered definition, else
  Claude Code's built-in `general-purpose`, `Explore`, `Plan`: `builtin_agents`), with the rendered skill body plus
  its arguments as the prompt and the skill's `allowed-tools` as the child's extra allow rules (same trust rule).
  Invoked inside a subagent, it loads inline instead (no nested forks: Claude Code's subagents cannot spawn
  subagents either, and it bounds recursion of a skill that invokes itself).
- `preload_skills(definitions, catalog)`: each definition's `skills:` rendered (`<skill name=... directory=...>`,
  body with its directory variables set) into `AgentDefinition.preloaded`; unknown names are one warning each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from tau.config.trust import trust_hint
from tau.errors import ConfigError
from tau.permissions import PermissionCapability, parse_rule
from tau.runtime.features.agent_defs import AgentDefinition, builtin_agents
from tau.runtime.features.subagents import SubagentRunner, subagent_depth
from tau.skills import Activate, Fork, Skill, SkillCatalog, render_body

__all__ = ["may_preapprove", "preapproval", "preload_skills", "skill_forks", "untrusted_notice"]


def may_preapprove(skill: Skill, *, trusted: bool) -> bool:
    """The user's own skills always; a repository's only in a trusted workspace."""
    return skill.scope == "user" or trusted


def untrusted_notice(catalog: SkillCatalog, *, trusted: bool, root: str) -> str | None:
    """The run-start notice naming the repository skills whose `allowed-tools` are not pre-approved."""
    names = [s.name for s in catalog.skills if s.meta.allowed_tools and not may_preapprove(s, trusted=trusted)]
    if not names:
        return None
    return (
        f"untrusted workspace: allowed-tools of project skill(s) {', '.join(names)} are not pre-approved (their "
        f"tool calls are judged by the permission rules as usual) — {trust_hint(root)}"
    )


def _capability(ctx: RunContext[None]) -> PermissionCapability[None] | None:
    return next((c for c in ctx.capabilities.values() if isinstance(c, PermissionCapability)), None)


def preapproval(*, trusted: bool) -> Activate:
    """The `activate` callback: a loading inline skill's `allowed-tools` become allow rules of the calling agent."""

    def activate(ctx: RunContext[None], skill: Skill) -> list[str]:
        wanted = skill.meta.allowed_tools
        if not wanted:
            return []
        if not may_preapprove(skill, trusted=trusted):
            return [
                f"This skill's allowed-tools ({', '.join(wanted)}) are not pre-approved: it comes from a repository "
                "that is not trusted, so its tool calls are judged by the permission rules as usual."
            ]
        capability = _capability(ctx)
        if capability is None:
            return []
        gate = capability.gate
        policy = gate.policy
        known = {rule.text for rule in policy.allow}
        added, bad = [], []
        for text in wanted:
            try:
                rule = parse_rule(text, workspace=policy.workspace, home=policy.home)
            except ConfigError:
                bad.append(text)
                continue
            if rule.text not in known:
                known.add(rule.text)
                added.append(rule)
        gate.policy = dataclasses.replace(policy, allow=(*policy.allow, *added))
        lines = [
            f"Pre-approved while this skill is active: {', '.join(wanted)} (deny and ask rules and the permission "
            "mode still apply)."
        ]
        if bad:
            lines.append(f"Not pre-approved (not valid permission rules): {', '.join(bad)}.")
        return lines

    return activate


def skill_forks(runner: SubagentRunner, definitions: Mapping[str, AgentDefinition], *, trusted: bool) -> Fork:
    """The `fork` callback: a `context: fork` skill run by `runner` as a subagent of its `agent:` type."""
    builtins = builtin_agents()

    async def fork(ctx: RunContext[None], skill: Skill, prompt: str) -> str | None:
        if subagent_depth(ctx) > 0 or runner.depth >= runner.limits.max_depth:
            return None
        kind = skill.meta.agent or "general-purpose"
        definition = definitions.get(kind) or builtins.get(kind)
        if definition is None:
            known = ", ".join([*definitions, *(name for name in builtins if name not in definitions)])
            raise ToolFailed(
                f"Skill {skill.name!r} runs in subagent type {kind!r}, which is not defined here "
                f"(available: {known}). Follow the skill yourself with skill(name=..., file=...) or do the task."
            )
        allow = skill.meta.allowed_tools if may_preapprove(skill, trusted=trusted) else ()
        return await runner.launch(ctx, definition, f"skill {skill.name}", prompt, allow_rules=allow)

    return fork


def preload_skills(
    definitions: Sequence[AgentDefinition], catalog: SkillCatalog | None
) -> tuple[tuple[AgentDefinition, ...], list[str]]:
    """(definitions with their `skills:` rendered into `preloaded`, one warning per skill that cannot be)."""
    out: list[AgentDefinition] = []
    warnings: list[str] = []
    for definition in definitions:
        if not definition.skills:
            out.append(definition)
            continue
        texts: list[str] = []
        for name in definition.skills:
            skill = catalog.get(name) if catalog is not None else None
            if skill is None:
                why = "skills are disabled for this run" if catalog is None else "no such skill was found"
                warnings.append(f"agent {definition.name}: skill {name!r} is not preloaded: {why}")
                continue
            directory = skill.workspace_dir or skill.directory
            body = render_body(skill, directory)
            texts.append(f'<skill name="{skill.name}" directory="{directory}">\n{body}\n</skill>')
        out.append(dataclasses.replace(definition, preloaded=tuple(texts)))
    return tuple(out), warnings
