"""Plan mode: the model explores read-only, submits a plan, and the run waits for a human to approve it.

Owns the plan-mode pieces the agent factory and the driver compose; builds no Agent and emits nothing itself:

- `plan_output_type()`: the run's output in plan mode. `submit_plan(plan)` is a pydantic-ai output tool
  (`ToolOutput`), so calling it ends the run at once with a `SubmittedPlan`; a model that simply ends with text
  has that text taken as its plan (`str` is the other output). Read-only tool limits come from the permission
  mode `plan` (tau.permissions), not from here.
- `plan_instructions()`: what the model is told in plan mode.
- `finish_plan(output, ...)`: after a plan-mode run, write the plan through the run's workspace backend (never
  host I/O) to `<plan_dir>/<session>.md` and return the `PlanSubmitted` event to emit; the run then ends
  suspended with terminal reason `AWAITING_PLAN_APPROVAL` (exit 4).
- Approval continues the same session in execution mode with `approval_prompt(plan)` as the user message;
  rejection continues in plan mode with `rejection_prompt(reason)`. `review_prompt` reads the plan file back
  (the operator may have edited it) and falls back to the plan in the session history.
- `execute_plan_prompt(plan, prompt)`: `--execute-plan FILE`, a new run in execution mode.

Invariants: plan text is stored exactly as submitted (stripped, with one trailing newline) so approval reads
back what the operator saw; the plan path is relative to the workspace and confined to it by the backend.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_ai import ModelRetry, ToolOutput
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.workspaces import SupportsFilesystem, WorkspaceBackend

from tau.config.spec import PermissionMode
from tau.errors import ConfigError
from tau.protocol import PlanSubmitted

PLAN_TOOL = "submit_plan"
DEFAULT_PLAN_DIR = ".tau/plans"
AWAITING_PLAN_APPROVAL = "awaiting_plan_approval"  # terminal reason (and snapshot status) of a submitted plan
EXECUTION_MODE: PermissionMode = (
    "acceptEdits"  # permission mode an approved plan runs in unless the operator names another
)

PLAN_INSTRUCTIONS = f"""\
You are in plan mode. Explore and analyse with read-only tools only: do not create, modify or delete anything \
(writes, edits and mutating shell commands are denied). When you understand the task, call `{PLAN_TOOL}` with the \
complete plan in markdown: the goal, the files to change and how, the commands to run, how to verify the result, \
and open questions or assumptions. Submitting the plan ends this run; a human approves or rejects it before \
anything is executed. If you end with a plain text reply instead, that text is taken as your plan."""

APPROVAL_PROMPT = "The plan was approved; execute it:\n\n{plan}"
REJECTION_PROMPT = (
    "The plan was rejected: {reason}\n\nYou are still in plan mode. Revise the plan to address this and call "
    f"`{PLAN_TOOL}` with the complete new plan."
)
EXECUTE_PLAN_PROMPT = "Execute this approved plan:\n\n{plan}"


@dataclass(frozen=True)
class SubmittedPlan:
    """What `submit_plan` returns: the run's output when the model submits a plan through the tool."""

    plan: str


def submit_plan(plan: str) -> SubmittedPlan:
    """Submit the finished plan for human approval. This ends the planning run.

    Args:
        plan: The complete plan in markdown: goal, steps (files to change and how, commands to run), how to
            verify the result, and assumptions or open questions.
    """
    text = plan.strip()
    if not text:
        raise ModelRetry("The plan is empty. Call submit_plan with the complete plan in markdown.")
    return SubmittedPlan(text)


def plan_output_type() -> list[Any]:
    """The output type of a plan-mode run: the `submit_plan` output tool, or plain text taken as the plan.
    (Add pydantic-ai's `DeferredToolRequests` when asks may suspend, as for any run.)"""
    return [ToolOutput(submit_plan, name=PLAN_TOOL), str]


def plan_instructions() -> str:
    return PLAN_INSTRUCTIONS


def plan_text(output: object) -> str | None:
    """The plan a plan-mode run ended with: a `SubmittedPlan`, or the final text; None for anything else (a
    suspension on a pending call, structured output) or an empty text."""
    if isinstance(output, SubmittedPlan):
        return output.plan
    if isinstance(output, str) and output.strip():
        return output.strip()
    return None


def plan_path(session_id: str, plan_dir: str = DEFAULT_PLAN_DIR) -> str:
    """`<plan_dir>/<session>.md`, relative to the workspace unless `plan_dir` is absolute."""
    if not session_id or "/" in session_id or session_id in (".", ".."):
        raise ConfigError(f"not a session id: {session_id!r}", field="plan")
    return posixpath.join(plan_dir, f"{session_id}.md")


async def _located(workspace: WorkspaceBackend, path: str) -> tuple[SupportsFilesystem, str]:
    """The backend's filesystem and `path` made absolute against its working directory (backends take absolute
    paths only)."""
    if not isinstance(workspace, SupportsFilesystem):
        raise ConfigError(f"the workspace backend {type(workspace).__name__} has no filesystem for plan files")
    if posixpath.isabs(path):
        return workspace, path
    return workspace, posixpath.join(await workspace.working_dir(), path)


async def write_plan(workspace: WorkspaceBackend, session_id: str, text: str, plan_dir: str = DEFAULT_PLAN_DIR) -> str:
    """Write `text` as the session's plan file through `workspace` (creating missing directories); returns its
    path as given to the backend (relative to the workspace)."""
    path = plan_path(session_id, plan_dir)
    files, where = await _located(workspace, path)
    await files.write_bytes(where, (text.strip() + "\n").encode("utf-8"))
    return path


async def read_plan(workspace: WorkspaceBackend, session_id: str, plan_dir: str = DEFAULT_PLAN_DIR) -> str | None:
    """The session's plan file as the operator left it; None when it does not exist."""
    files, where = await _located(workspace, plan_path(session_id, plan_dir))
    if not await files.exists(where):
        return None
    return (await files.read_bytes(where)).decode("utf-8", "replace").strip() or None


async def finish_plan(
    output: object, *, workspace: WorkspaceBackend, session_id: str, plan_dir: str = DEFAULT_PLAN_DIR
) -> PlanSubmitted | None:
    """After a plan-mode run: write the plan it ended with and return the event to emit (seq is the emitter's).
    None when the run did not end with a plan (then it ends as it otherwise would)."""
    text = plan_text(output)
    if text is None:
        return None
    path = await write_plan(workspace, session_id, text, plan_dir)
    return PlanSubmitted(path=path, plan=text)


def plan_from_messages(messages: Sequence[ModelMessage]) -> str | None:
    """The last plan in a session's history: a `submit_plan` call's argument, else the last response's text."""
    for message in reversed(messages):
        if not isinstance(message, ModelResponse):
            continue
        for part in reversed(message.parts):
            if isinstance(part, ToolCallPart) and part.tool_name == PLAN_TOOL:
                plan = part.args_as_dict().get("plan")
                if isinstance(plan, str) and plan.strip():
                    return plan.strip()
        text = "".join(p.content for p in message.parts if isinstance(p, TextPart)).strip()
        if text:
            return text
    return None


def approval_prompt(plan: str) -> str:
    return APPROVAL_PROMPT.format(plan=plan.strip())


def rejection_prompt(reason: str | None) -> str:
    why = (reason or "").strip() or "no reason was given"
    return REJECTION_PROMPT.format(reason=why)


def execute_plan_prompt(plan: str, prompt: str | None = None) -> str:
    """The prompt of `--execute-plan FILE`: the plan, then the job's own prompt (if any) as context."""
    text = EXECUTE_PLAN_PROMPT.format(plan=plan.strip())
    extra = (prompt or "").strip()
    return f"{text}\n\n{extra}" if extra else text


@dataclass(frozen=True)
class PlanReview:
    """The operator's verdict on a submitted plan (`tau plan approve|reject`)."""

    decision: Literal["approve", "reject"]
    reason: str | None = None

    def mode(self, stored_mode: PermissionMode, override: PermissionMode | None = None) -> PermissionMode:
        """The permission mode the continuation runs in: still `plan` after a rejection, execution mode after an
        approval (see `execution_mode`)."""
        return "plan" if self.decision == "reject" else execution_mode(stored_mode, override)


def execution_mode(stored_mode: PermissionMode, override: PermissionMode | None = None) -> PermissionMode:
    """The permission mode an approved plan executes in: an explicit `--permission-mode` wins (never `plan`),
    else the job's own mode when it was not `plan`, else `acceptEdits` (edits inside the workspace allowed;
    bash and other tools still follow the rules and `--on-ask`)."""
    if override is not None and override != "plan":
        return override
    return stored_mode if stored_mode != "plan" else EXECUTION_MODE


async def review_prompt(
    review: PlanReview,
    *,
    workspace: WorkspaceBackend,
    session_id: str,
    plan_dir: str = DEFAULT_PLAN_DIR,
    messages: Sequence[ModelMessage] = (),
) -> str:
    """The user message that continues a session after `review`: approval carries the plan (the plan file as
    the operator left it, else the last plan in `messages`); rejection carries the reason. ConfigError (exit 2)
    when an approved session has no plan to execute."""
    if review.decision == "reject":
        return rejection_prompt(review.reason)
    plan = await read_plan(workspace, session_id, plan_dir) or plan_from_messages(messages)
    if plan is None:
        where = plan_path(session_id, plan_dir)
        raise ConfigError(f"session {session_id} has no plan to approve ({where} is missing)", field="plan approve")
    return approval_prompt(plan)
