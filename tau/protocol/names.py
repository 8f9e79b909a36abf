"""Tool names as tau shows them to the model and as Claude Code names them in hooks and permission rules.

The model sees tau's lowercase names (`bash`, `read`, ...); hook payloads and permission rules use Claude Code's
(`Bash`, `Read`, ...). MCP tools are `mcp__<server>__<tool>` in both. Leaf module.
"""

from __future__ import annotations

TAU_TO_CLAUDE: dict[str, str] = {
    "read": "Read",
    "write": "Write",
    "edit": "Edit",
    "multi_edit": "MultiEdit",
    "bash": "Bash",
    "glob": "Glob",
    "grep": "Grep",
    "ls": "LS",
    "todo": "TodoWrite",
    "skill": "Skill",
    "task": "Task",  # same input as Claude Code's: description, prompt, subagent_type
    "submit_plan": "ExitPlanMode",  # same input: plan
    "ask_user": "AskUserQuestion",  # tau's input: question, choices (Claude Code's takes a list of questions)
}
CLAUDE_TO_TAU: dict[str, str] = {claude: tau for tau, claude in TAU_TO_CLAUDE.items()}

READ_ONLY_TOOLS: frozenset[str] = frozenset({"read", "glob", "grep", "ls", "skill"})
EDIT_TOOLS: frozenset[str] = frozenset({"write", "edit", "multi_edit"})


def claude_name(tool: str) -> str:
    """`bash` -> `Bash`; unknown and MCP names pass through unchanged."""
    return TAU_TO_CLAUDE.get(tool, tool)


def tau_name(tool: str) -> str:
    """`Bash` -> `bash`; also accepts tau's own names; unknown and MCP names pass through unchanged."""
    return CLAUDE_TO_TAU.get(tool, tool)
