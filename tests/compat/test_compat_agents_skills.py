"""Claude Code's agents and skills, end to end through `tau run` (a subprocess over a replayed scripted model).

A real-world-shaped clone: an agent collection in folders (`.claude/agents/engineering/...`, with a README), agent
files as Claude Code's `/agents` command writes them (a literal `\\n` in the description, `tools:` naming LS, MultiEdit
and web tools, `skills:` to preload), and skills as published bundles write them (unquoted colons, `argument-hint`,
`context: fork` + `agent:`, `allowed-tools`, `${CLAUDE_SKILL_ROOT}`, `$ARGUMENTS`). Each case records its cassette
in-process (the scripted model asserts on what each agent is sent and offered), then `tau run --model replay:...`
runs as a subprocess; replay checks every request the CLI sends equals the recorded one, so children's prompts,
instructions and tools reach the model through the CLI exactly as asserted.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo
from tau_e2e import Sandbox, TauResult, by_type, record_cassette, run_tau

from tau.testing import Turn, calls, reply

ARCHITECT = (
    "---\n"
    "name: backend-architect\n"
    r"description: Use this agent when designing or changing API endpoints.\n\nExamples:\n<example>\nContext: the "
    r'user wants a health check.\nuser: "add /health"\nassistant: "I will use the backend-architect agent."\n</example>'
    "\n"
    "tools: Read, LS, MultiEdit, WebSearch, WebFetch\n"
    "skills: api-conventions\n"
    "color: purple\n"
    "---\n"
    "You are a backend architect. Change routes exactly as the API conventions say.\n"
)
COLLECTION_README = "# Engineering agents\n\nCopy these into `.claude/agents/`.\n"
API_CONVENTIONS = (
    "---\n"
    "name: api-conventions\n"
    "description: REST conventions for this service: plural nouns, no verbs in paths.\n"
    "---\n"
    "Every route is registered in src/routes.py; health checks answer at /health.\n"
)
ROUTES = 'ROUTES = {\n    "/users": "list_users",\n}\n'

SECURITY_REVIEW = (
    "---\n"
    "name: security-review\n"
    "description: Security review of a path: injection, secrets, unsafe deserialisation. Use before merging.\n"
    'argument-hint: "[path]"\n'
    "context: fork\n"
    "agent: Explore\n"
    "allowed-tools: Read Grep Glob\n"
    "---\n"
    "Review $ARGUMENTS. Follow ${CLAUDE_SKILL_ROOT}/checklist.md item by item and report findings by severity.\n"
)
CHECKLIST = "1. No string-built SQL.\n2. No secrets in code.\n"

CHANGELOG_SKILL = (
    "---\n"
    "name: changelog\n"
    "description: Start the changelog entry for a release. Use when asked to prepare a release.\n"
    "allowed-tools: Bash(touch:*)\n"
    "---\n"
    "Create CHANGELOG.md with `touch` if it is missing, then add the entry.\n"
)


def clone(tmp_path: Path, files: dict[str, str]) -> Sandbox:
    box = Sandbox(tmp_path / "box")
    box.write(".git/HEAD", "ref: refs/heads/main\n")
    box.populate(files)
    return box


def replay(box: Sandbox, args: list[str], steps: list[Any], name: str) -> TauResult:
    """Record `steps` in-process, put the workspace back as it was, then run `tau run` over the recording. A fixed
    session id makes the children's session ids (quoted in the task and skill results) the same in both runs."""
    args = [*args, "--session-id", f"compat-{name}"]
    cassette = box.root / f"{name}.cassette.json"
    pristine = box.root / "pristine"
    shutil.copytree(box.work, pristine)
    record_cassette(box, args, steps, cassette)
    shutil.rmtree(box.work)
    pristine.rename(box.work)
    return run_tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json", sandbox=box)


def notices(result: TauResult) -> list[str]:
    return [line["message"] for line in by_type(result.lines, "notice.emitted")]


def user_prompt(messages: list[ModelMessage]) -> str:
    first = messages[0]
    assert isinstance(first, ModelRequest)
    return "".join(str(part.content) for part in first.parts if isinstance(part, UserPromptPart))


def test_an_agent_collection_runs_with_ls_multi_edit_and_its_preloaded_skill(tmp_path: Path) -> None:
    box = clone(
        tmp_path,
        {
            ".claude/agents/engineering/backend-architect.md": ARCHITECT,
            ".claude/agents/engineering/README.md": COLLECTION_README,
            ".claude/skills/api-conventions/SKILL.md": API_CONVENTIONS,
            "src/routes.py": ROUTES,
        },
    )

    def parent(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        [task] = [tool for tool in info.function_tools if tool.name == "task"]
        assert "- backend-architect: Use this agent when designing or changing API endpoints.\n\n  Examples:\n" in (
            task.description or ""
        )
        return calls(
            ("task", {"description": "add health", "prompt": "Add /health.", "subagent_type": "backend-architect"})
        )

    def child(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert sorted(tool.name for tool in info.function_tools) == ["ls", "multi_edit", "read"]
        assert info.instructions is not None
        assert "Every route is registered in src/routes.py; health checks answer at /health." in info.instructions
        return calls(("ls", {"path": "src"}))

    def child_edits(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert "- routes.py  (41 B)" in str(messages[-1])
        old, new = '    "/users": "list_users",\n', '    "/users": "list_users",\n    "/health": "health",\n'
        return calls(("multi_edit", {"file_path": "src/routes.py", "edits": [{"old_string": old, "new_string": new}]}))

    args = ["-p", "Add a health endpoint.", "--permission-mode", "acceptEdits"]
    steps = [parent, child, child_edits, reply("Added /health to src/routes.py."), reply("Done.")]
    result = replay(box, args, steps, "agents")

    assert result.returncode == 0, result
    assert result.lines[0]["type"] == "session.started"
    assert (box.work / "src/routes.py").read_text() == (
        'ROUTES = {\n    "/users": "list_users",\n    "/health": "health",\n}\n'
    )
    started = by_type(result.lines, "subagent.started")
    assert [(line["agent"], line["depth"]) for line in started] == [("backend-architect", 1)]
    [done] = by_type(result.lines, "subagent.completed")
    assert (done["agent"], done["status"], done["result"]) == (
        "backend-architect",
        "completed",
        "Added /health to src/routes.py.",
    )
    assert notices(result) == [
        "subagent tools not available, not granted: backend-architect asks for WebSearch (no web tools in tau), "
        "WebFetch (no web tools in tau); it runs with ls, multi_edit, read (an MCP server can provide web fetching "
        "or search: its tools are mcp__<server>__<tool>)"
    ]

    listed = run_tau("agents", "ls", sandbox=box)
    assert listed.returncode == 0, listed
    assert "    missing tool: WebSearch (no web tools in tau); not granted" in listed.stdout.splitlines()
    assert "warning" not in listed.stdout  # the collection's README is not an agent, and says nothing


def test_a_fork_skill_runs_in_a_read_only_explore_subagent(tmp_path: Path) -> None:
    box = clone(
        tmp_path,
        {
            ".claude/skills/security-review/SKILL.md": SECURITY_REVIEW,
            ".claude/skills/security-review/checklist.md": CHECKLIST,
            "src/db.py": "def find(name):\n    return run(f\"SELECT * FROM users WHERE name = '{name}'\")\n",
        },
    )

    def parent(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert info.instructions is not None
        assert "- security-review (arguments: [path]): Security review of a path: injection, secrets" in (
            info.instructions
        )
        return calls(("skill", {"name": "security-review", "arguments": "src/"}))

    def child(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert user_prompt(messages) == (
            "Review src/. Follow .claude/skills/security-review/checklist.md item by item and report findings by "
            "severity."
        )
        assert "task" not in [tool.name for tool in info.function_tools]
        return calls(
            ("read", {"file_path": ".claude/skills/security-review/checklist.md"}), ("grep", {"pattern": "SELECT"})
        )

    steps = [parent, child, reply("High: string-built SQL in src/db.py."), reply("One high finding.")]
    result = replay(box, ["-p", "Review src/ before I merge."], steps, "fork")

    assert result.returncode == 0, result
    started = by_type(result.lines, "subagent.started")
    assert [(line["agent"], line["description"]) for line in started] == [("Explore", "skill security-review")]
    [skill] = [line for line in by_type(result.lines, "tool.completed") if line["tool"] == "skill"]
    assert skill["status"] == "success"
    assert "High: string-built SQL in src/db.py." in str(skill["output"])
    assert result.last()["result"] == "One high finding."

    listed = run_tau("skills", "ls", sandbox=box)
    assert "    arguments: [path]" in listed.stdout.splitlines()
    assert "    runs in a subagent: Explore (context: fork)" in listed.stdout.splitlines()


def test_allowed_tools_pre_approve_only_in_a_trusted_workspace(tmp_path: Path) -> None:
    steps = [
        calls(("skill", {"name": "changelog"})),
        calls(("bash", {"command": "touch CHANGELOG.md"})),
        reply("Changelog started."),
    ]
    untrusted_box = clone(tmp_path / "untrusted", {".claude/skills/changelog/SKILL.md": CHANGELOG_SKILL})
    untrusted = replay(untrusted_box, ["-p", "Prepare the release."], steps, "untrusted")
    assert untrusted.returncode == 0, untrusted
    assert not (untrusted_box.work / "CHANGELOG.md").exists()
    assert any(
        n.startswith("untrusted workspace: allowed-tools of project skill(s) changelog are not pre-approved")
        for n in notices(untrusted)
    ), notices(untrusted)
    [denied] = [line for line in by_type(untrusted.lines, "tool.completed") if line["tool"] == "bash"]
    assert denied["status"] == "denied"

    trusted_box = clone(tmp_path / "trusted", {".claude/skills/changelog/SKILL.md": CHANGELOG_SKILL})
    trusted = replay(trusted_box, ["-p", "Prepare the release.", "--trust-workspace"], steps, "trusted")
    assert trusted.returncode == 0, trusted
    assert (trusted_box.work / "CHANGELOG.md").exists()
    decided = [line for line in by_type(trusted.lines, "permission.decided") if line["tool"] == "bash"]
    assert [(line["decision"], line["rule"]) for line in decided] == [("allow", "Bash(touch:*)")]
    assert not any("not pre-approved" in n for n in notices(trusted))
