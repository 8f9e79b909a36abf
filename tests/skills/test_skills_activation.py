"""Skills activated in a real run (`prepare_run`, scripted model): `allowed-tools` pre-approval (trusted workspace or
the user's own skill only; never past deny rules) and `context: fork` skills run as subagents (a defined agent, a
built-in type, inline inside a subagent or with subagents off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec, SubagentsSpec, TrustSpec
from tau.protocol import Event
from tau.runtime import prepare_run
from tau.testing import calls, reply, scripted_model
from tau.testing.scripted import Turn

pytestmark = pytest.mark.anyio

RELEASE_NOTES = """\
---
name: release-notes
description: Draft release notes from the git history. Use when asked for release notes or a changelog.
allowed-tools: Bash(touch:*) Read
---
Collect the changes and write them to CHANGES.md (create it with `touch`).
"""

SECURITY_REVIEW = """\
---
name: security-review
description: Review code for injection and secrets. Use before merging.
argument-hint: "[path]"
context: fork
agent: {agent}
allowed-tools: Bash(touch:*)
---
Review $ARGUMENTS for injection and leaked secrets. Rules: ${{CLAUDE_SKILL_ROOT}}/rules.md
"""

AUDITOR = """\
---
name: auditor
description: Security auditor.
tools: Read, Grep, Bash
---
You are a meticulous security auditor.
"""


def job(workspace: Path, home: Path, *, trusted: bool, deny: tuple[str, ...] = (), depth: int = 2) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="do it",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=PermissionsSpec(deny=deny),
        subagents=SubagentsSpec(max_depth=depth),
        home=str(home),
        trust=TrustSpec(root=str(workspace), trusted=trusted, via="test" if trusted else ""),
    )


async def run(spec: JobSpec, steps: list[Any]) -> tuple[list[Event], Any, Any]:
    model, script = scripted_model(steps)
    events: list[Event] = []
    driver = await prepare_run(spec, model=model, sinks=[events.append])
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return events, result, script


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


def skill_in(library: Path, name: str, text: str) -> None:
    (library / name).mkdir(parents=True, exist_ok=True)
    (library / name / "SKILL.md").write_text(text)


LOAD_THEN_TOUCH = [
    calls(("skill", {"name": "release-notes"})),
    calls(("bash", {"command": "touch CHANGES.md"})),
    reply("Release notes drafted."),
]


async def test_a_trusted_workspace_skill_pre_approves_its_allowed_tools(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "release-notes", RELEASE_NOTES)
    events, result, script = await run(job(repo, home, trusted=True), LOAD_THEN_TOUCH)
    assert result.exit_code == 0
    [loaded] = returns(script.requests[1])
    assert str(loaded.content).endswith(
        "Pre-approved while this skill is active: Bash(touch:*), Read (deny and ask rules and the permission mode "
        "still apply)."
    )
    [touched] = returns(script.requests[2])
    assert touched.outcome == "success"
    assert (repo / "CHANGES.md").exists()
    decided = [e for e in events if e.type == "permission.decided" and e.tool == "bash"]
    assert [(d.decision, d.rule) for d in decided] == [("allow", "Bash(touch:*)")]


async def test_before_the_skill_loads_nothing_is_pre_approved(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "release-notes", RELEASE_NOTES)
    steps = [calls(("bash", {"command": "touch EARLY.md"})), *LOAD_THEN_TOUCH]
    _, result, script = await run(job(repo, home, trusted=True), steps)
    assert result.exit_code == 0
    assert [part.outcome for part in returns(script.requests[1])] == ["denied"]
    assert [part.outcome for part in returns(script.requests[3])] == ["success"]


async def test_an_untrusted_repository_skill_pre_approves_nothing_and_says_so(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "release-notes", RELEASE_NOTES)
    events, result, script = await run(job(repo, home, trusted=False), LOAD_THEN_TOUCH)
    assert result.exit_code == 0
    notices = [e.message for e in events if e.type == "notice.emitted"]
    assert any(
        n.startswith(
            "untrusted workspace: allowed-tools of project skill(s) release-notes are not pre-approved (their tool "
            "calls are judged by the permission rules as usual) — "
        )
        for n in notices
    ), notices
    [loaded] = returns(script.requests[1])
    assert "are not pre-approved: it comes from a repository that is not trusted" in str(loaded.content)
    [touched] = returns(script.requests[2])
    assert touched.outcome == "denied"
    assert not (repo / "CHANGES.md").exists()


async def test_the_users_own_skill_pre_approves_in_an_untrusted_workspace(repo: Path, home: Path) -> None:
    skill_in(home / ".claude/skills", "release-notes", RELEASE_NOTES)
    events, result, script = await run(job(repo, home, trusted=False), LOAD_THEN_TOUCH)
    assert result.exit_code == 0
    assert not any("not pre-approved" in e.message for e in events if e.type == "notice.emitted")
    assert [part.outcome for part in returns(script.requests[2])] == ["success"]


async def test_deny_rules_still_win_over_a_skills_allowed_tools(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "release-notes", RELEASE_NOTES)
    _, result, script = await run(job(repo, home, trusted=True, deny=("Bash(touch:*)",)), LOAD_THEN_TOUCH)
    assert result.exit_code == 0
    [touched] = returns(script.requests[2])
    assert touched.outcome == "denied"
    assert "denied by rule Bash(touch:*)" in str(touched.content)


def _forked_child(expected_tools: list[str], mode_note: str = "") -> Any:
    def child(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        first = messages[0]
        assert isinstance(first, ModelRequest)
        [prompt] = [p.content for p in first.parts if isinstance(p, UserPromptPart)]
        assert prompt == (
            "Review src/ for injection and leaked secrets. Rules: .claude/skills/security-review/rules.md"
        )
        assert sorted(tool.name for tool in info.function_tools) == expected_tools
        if mode_note:
            assert info.instructions is not None and mode_note in info.instructions
        return calls(("bash", {"command": "touch review.log"}))

    return child


async def test_a_fork_skill_runs_in_its_agent_with_the_body_and_arguments_as_the_prompt(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "security-review", SECURITY_REVIEW.format(agent="auditor"))
    (repo / ".claude/agents").mkdir(parents=True)
    (repo / ".claude/agents/auditor.md").write_text(AUDITOR)

    def parent(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert info.instructions is not None
        assert "- security-review (arguments: [path]): Review code for injection" in info.instructions
        return calls(("skill", {"name": "security-review", "arguments": "src/"}))

    events, result, script = await run(
        job(repo, home, trusted=True),
        [
            parent,
            _forked_child(["bash", "grep", "read"], "You are a meticulous security auditor."),
            reply("No injection found."),
            reply("The review found nothing."),
        ],
    )
    assert (result.exit_code, result.result) == (0, "The review found nothing.")
    [touched] = returns(script.requests[2])
    assert touched.outcome == "success"  # the skill's allowed-tools pre-approve in its forked child
    assert (repo / "review.log").exists()
    [forked] = returns(script.requests[3])
    assert forked.outcome == "success"
    assert str(forked.content).startswith("No injection found.\n\n[subagent auditor completed: 2 turns")
    started = [e for e in events if e.type == "subagent.started"]
    assert [(e.agent, e.description, e.depth) for e in started] == [("auditor", "skill security-review", 1)]


async def test_a_fork_skill_into_a_builtin_explore_agent_is_read_only(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "security-review", SECURITY_REVIEW.format(agent="Explore"))
    (repo / "notes.txt").write_text("keep")
    child = _forked_child(["bash", "glob", "grep", "ls", "read", "skill"])

    def try_to_write(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        return calls(("bash", {"command": "echo pwned > notes.txt"}))

    _, result, script = await run(
        job(repo, home, trusted=True),
        [
            calls(("skill", {"name": "security-review", "arguments": "src/"})),
            child,
            try_to_write,
            reply("Read-only review done."),
            reply("ok"),
        ],
    )
    assert result.exit_code == 0
    [touched] = returns(script.requests[2])
    [write] = returns(script.requests[3])
    assert touched.outcome == "denied"  # Explore runs in plan mode: allowed-tools never lift its limits
    assert write.outcome == "denied"
    assert (repo / "notes.txt").read_text() == "keep"
    assert not (repo / "review.log").exists()


async def test_an_unknown_fork_agent_is_a_failed_call_naming_the_types(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "security-review", SECURITY_REVIEW.format(agent="pentester"))
    _, result, script = await run(
        job(repo, home, trusted=True),
        [calls(("skill", {"name": "security-review", "arguments": "src/"})), reply("cannot")],
    )
    assert result.exit_code == 0
    [failed] = returns(script.requests[1])
    assert failed.outcome == "failed"
    assert (
        "runs in subagent type 'pentester', which is not defined here (available: general-purpose, Explore, Plan)"
        in (str(failed.content))
    )


async def test_inside_a_subagent_or_without_subagents_a_fork_skill_loads_inline(repo: Path, home: Path) -> None:
    skill_in(repo / ".claude/skills", "security-review", SECURITY_REVIEW.format(agent="general-purpose"))
    (repo / ".claude/agents").mkdir(parents=True)
    (repo / ".claude/agents/helper.md").write_text("---\nname: helper\ndescription: Helps.\n---\nHelp.\n")
    load = ("skill", {"name": "security-review", "arguments": "src/"})
    _, result, script = await run(
        job(repo, home, trusted=True),
        [
            calls(("task", {"description": "review", "prompt": "Review src/.", "subagent_type": "helper"})),
            calls(load),
            reply("Reviewed inline."),
            reply("done"),
        ],
    )
    assert result.exit_code == 0
    [inline] = returns(script.requests[2])
    assert str(inline.content).startswith('<skill name="security-review" directory=".claude/skills/security-review">')

    _, off, script = await run(job(repo, home, trusted=True, depth=0), [calls(load), reply("done")])
    assert off.exit_code == 0
    [inline] = returns(script.requests[1])
    assert "Review src/ for injection" in str(inline.content) and str(inline.content).startswith("<skill ")
