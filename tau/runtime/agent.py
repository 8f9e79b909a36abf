"""Agent factory: JobSpec -> the one pydantic-ai `Agent` of a run, plus what the driver reports about it.

The only place tau constructs `Agent(...)`. Composition, outermost first:
  hooks ∘ permission layer ∘ compaction ∘ on-demand memory (capabilities) ∘ checkpoints (`CheckpointToolset`, when
  on) ∘ tool gate (the finalize turn hides tools) ∘ the tools: built-ins (over `ctx.workspace`), skill, memory, MCP,
  task, `ask_user` (adjacent plain function toolsets merged into one: `merge_function_toolsets`)
and the model: RecordingModel (with --record) ∘ RetryingModel ∘ provider model. Structured output (`output.schema`)
uses pydantic-ai's `StructuredDict` plus a jsonschema output validator that sends violations back to the model.
Plan mode (`permissions.mode == "plan"`) replaces the output with `submit_plan` or text (`features.plan`) and adds the
plan instructions; `output.schema` does not apply to a plan. `ask_user` (`features.clarify`) is offered in every mode
under the run's ask policy, never to subagents. What the agent is built from is the run's `RunServices`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext, StructuredDict
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.tools import DeferredToolRequests
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

from tau.checkpoints.recorder import CheckpointToolset
from tau.config.spec import BUILTIN_TOOLS, JobSpec
from tau.memory.capability import OnDemandMemoryCapability
from tau.models.build import build_model, model_settings
from tau.permissions import AskAnswer, AskRequest, PermissionPolicy, permission_layer
from tau.protocol import RetryScheduled
from tau.protocol.printable import printable
from tau.runtime.context import ContextParts
from tau.runtime.emitter import Emitter
from tau.runtime.extensions import checkpoint_recorder, inner_capabilities, task_toolset
from tau.runtime.features.clarify import ASK_TOOL, clarify_instructions, clarify_toolset
from tau.runtime.features.plan import plan_instructions, plan_output_type
from tau.runtime.setup import Closer, RunServices, RunSetup, ToolGate
from tau.tools import ToolLimits, build_toolset

BASE_INSTRUCTIONS = """\
You are tau, an autonomous agent running headless (no human is watching this run). You work in the workspace \
{workspace} through your tools: read, write and edit files, run shell commands with bash, find files with glob and \
search contents with grep. Paths are relative to the workspace unless absolute. Act, observe the results and \
iterate until the task is done; verify your work when you can. A denied tool call means a permission rule forbids \
it: do not retry it, find another way or explain what you need. Finish with a concise answer to the task."""

HEADLESS_DENIAL = (
    "No human is available to approve this call (headless run; --on-ask deny). Do not retry it: proceed without "
    "it on stated assumptions, or finish and explain what approval you need."
)


def _instructions(job: JobSpec, context: ContextParts) -> list[str]:
    """Base instructions, plan mode's (in plan mode), memory and skills, the job's own, working memory, then
    `ask_user`'s."""
    parts = [BASE_INSTRUCTIONS.format(workspace=job.environment.workspace)]
    if job.permissions.mode == "plan":
        parts.append(plan_instructions())
    parts.extend(context.before_job)
    if job.instructions:
        parts.append(job.instructions)
    return [*parts, *context.after_job, clarify_instructions()]


def _subagent_instructions(job: JobSpec, context: ContextParts) -> list[str]:
    """What subagents share with the run: the base instructions, memory and skills (no plan or ask_user parts:
    a child neither submits plans nor asks the user)."""
    return [BASE_INSTRUCTIONS.format(workspace=job.environment.workspace), *context.before_job]


def _output_type(job: JobSpec) -> Any:
    """The answer's type (in plan mode: `submit_plan` or text; `output.schema` does not apply); with
    `on_ask: suspend` also pydantic-ai's `DeferredToolRequests` (the run then ends with the calls the asker or
    `ask_user` left open). Only then: other policies resolve every ask, and the model sees no difference."""
    schema = job.output.schema_
    answer: list[Any]
    if job.permissions.mode == "plan":
        answer = plan_output_type()
    elif schema is None:
        answer = [str]
    else:
        answer = [StructuredDict(schema, name=schema.get("title") or "final_answer")]
    if job.permissions.on_ask == "suspend":
        return [*answer, DeferredToolRequests]
    return answer if len(answer) > 1 else answer[0]


def _add_schema_validator(agent: Agent[None, Any], schema: dict[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)

    @agent.output_validator
    def _validate(ctx: RunContext[None], output: Any) -> Any:
        problems = sorted(validator.iter_errors(output), key=lambda e: list(e.path))
        if problems:
            detail = "; ".join(f"{'/'.join(map(str, p.path)) or '<root>'}: {p.message}" for p in problems[:5])
            raise ModelRetry(f"The answer does not match the required JSON schema: {detail}")
        return output


def build_model_for(job: JobSpec, emitter: Emitter) -> Model:
    def on_retry(attempt: int, delay: float, error: str) -> None:
        emitter.emit(RetryScheduled(attempt=attempt, delay_ms=round(delay * 1000, 3), error=error))

    workspace = job.environment.workspace
    model = build_model(job.model, on_retry=on_retry, workspace=workspace)
    if job.record_path:
        from tau.models.cassette import RecordingModel

        model = RecordingModel(model, job.record_path, workspace=workspace)
    return model


def merge_function_toolsets(toolsets: Sequence[AbstractToolset[None]]) -> list[AbstractToolset[None]]:
    """`toolsets` with each run of adjacent plain `FunctionToolset`s (tau's built-ins, `skill`, `memory`, `task`,
    `ask_user`) merged into one, in the same order.

    pydantic-ai visits every toolset of an agent on every step (tool definitions, instructions, run-step
    preparation), a task per toolset and a wrapper per filter, so five one-tool toolsets cost a visible share of a
    step (bench/loop_overhead.py). Only toolsets that hold nothing but their tools merge (no id, timeout or
    instructions of their own); each tool keeps the retries and metadata its toolset gave it when it was added.
    """
    merged: list[AbstractToolset[None]] = []
    run: list[FunctionToolset[None]] = []

    def flush() -> None:
        if len(run) == 1:
            merged.append(run[0])
        elif run:
            merged.append(FunctionToolset[None]([tool for toolset in run for tool in toolset.tools.values()]))
        run.clear()

    for toolset in toolsets:
        if _plain_function_toolset(toolset):
            assert isinstance(toolset, FunctionToolset)
            run.append(toolset)
            continue
        flush()
        merged.append(toolset)
    flush()
    return merged


def _plain_function_toolset(toolset: AbstractToolset[None]) -> bool:
    return (
        type(toolset) is FunctionToolset
        and toolset.id is None
        and toolset.timeout is None
        # pydantic-ai 2.62 keeps a toolset's own instructions there; should that change, nothing merges
        and not getattr(toolset, "_instructions", True)
    )


def _safe_tools(job: JobSpec) -> set[str]:
    """tau's own tools that permissions allow without a rule: `skill` reads; `memory` confines itself to the
    memory directory (writes there are how long jobs keep notes) — except in plan mode, where it is not offered;
    `task` only starts a subagent, whose every call is permission-checked itself; `ask_user` only asks (under the
    run's ask policy)."""
    return {"todo", "skill", "task", ASK_TOOL} | ({"memory"} if job.permissions.mode != "plan" else set())


def _on_demand_memory(job: JobSpec, context: ContextParts, emitter: Emitter) -> list[OnDemandMemoryCapability]:
    """Rules with `paths:` and nested CLAUDE.md/AGENTS.md, loaded when the file tools first touch their paths."""
    if context.on_demand is None:
        return []
    return [OnDemandMemoryCapability(context.on_demand, job.environment.workspace, emit=emitter.emit)]


def build_setup(
    services: RunServices, *, history: Sequence[ModelMessage] = (), closers: Sequence[Closer] = ()
) -> RunSetup:
    """Everything the driver needs for `services.job`, built once (`RunSetup` is frozen): `history` is the
    conversation a new session starts from, `closers` what the run opened before the agent (closed last-first)."""
    job, emitter, context, hooks = services.job, services.emitter, services.context, services.hooks
    gate = ToolGate()

    def gated(sources: list[AbstractToolset[None]]) -> list[AbstractToolset[None]]:
        return [toolset.filtered(lambda ctx, tool_def: gate.enabled) for toolset in merge_function_toolsets(sources)]

    builtin = [name for name in job.tools if name in BUILTIN_TOOLS]
    sources: list[AbstractToolset[None]] = [build_toolset(builtin, limits=ToolLimits.from_spec(job.limits))]
    sources.extend(context.toolsets)
    toolsets = gated(sources)
    policy = PermissionPolicy.from_spec(
        job.permissions, workspace=job.environment.workspace, home=job.home, safe_tools=_safe_tools(job)
    )
    layer = permission_layer(policy, asker=services.asker, emit=emitter.emit_permission)
    instructions = _instructions(job, context)
    tool_names = [*job.tools, *context.tool_names]
    task = task_toolset(
        services,
        toolsets=toolsets,  # a child's: the task tool and ask_user join only the parent's `sources` below
        tool_names=tool_names,
        policy=policy,
        instructions=_subagent_instructions(job, context),
    )
    if task is not None:
        sources.append(task)
        tool_names.append("task")
    # after the task tool: subagents are built from the toolsets and names above and never ask the user
    sources.append(clarify_toolset(services.ask_policy, timeout=job.limits.ask_timeout))
    tool_names.append(ASK_TOOL)
    toolsets = gated(sources)
    recorder = checkpoint_recorder(job, services.store, emitter, services.checkpoint_parent)
    if recorder is not None:  # innermost, inside every capability's wrapper: it sees only calls that run
        toolsets = [CheckpointToolset(toolset, recorder=recorder) for toolset in toolsets]
    agent: Agent[None, Any] = Agent(
        services.model or build_model_for(job, emitter),
        instructions=instructions,
        toolsets=toolsets,
        capabilities=[  # outermost first: hooks, permissions, compaction
            *([hooks.capability] if hooks else []),
            layer.capability,
            *inner_capabilities(job, emitter, hooks),
            *_on_demand_memory(job, context, emitter),
        ],
        output_type=_output_type(job),
        retries={"tools": 3, "output": 3},
        name="tau",
    )
    if job.output.schema_ is not None and job.permissions.mode != "plan":
        _add_schema_validator(agent, job.output.schema_)
    return RunSetup(
        agent=agent,
        workspace=services.workspace,
        gate=gate,
        tool_names=tool_names,
        recorder=recorder,
        memory_files=context.memory_files,
        skills=context.skills,
        mcp=context.mcp,
        notices=context.warnings,
        hooks=hooks,
        model_ref=job.model.ref,
        model_settings=dict(model_settings(job.model)),
        permission_denials=layer.denials,
        permissions=layer.gate,
        environment=services.environment,
        history=tuple(history),
        closers=tuple(closers),
    )


async def headless_asker(request: AskRequest) -> AskAnswer:
    """Default policy for an `ask` with no human: deny, telling the model why."""
    return HEADLESS_DENIAL


async def suspending_asker(request: AskRequest) -> AskAnswer:
    """`--on-ask suspend`: leave the call pending; the run ends suspended (exit 4) and `tau resume` answers it."""
    return None


async def prompt_on_tty(request: AskRequest) -> AskAnswer:
    """`--on-ask tty`: ask on the controlling terminal; anything but y/yes denies. Never reads a non-TTY stdin."""
    import anyio

    if not sys.stdin.isatty():
        return HEADLESS_DENIAL
    shown = " ".join(json.dumps(request.args, ensure_ascii=False).split())[:300]
    reason = printable(request.decision.reason, one_line=True)
    question = f"\ntau: {reason}\ntau: allow {printable(request.tool, one_line=True)} {printable(shown)}? [y/N] "

    def ask() -> str:
        sys.stderr.write(question)
        sys.stderr.flush()
        return sys.stdin.readline()

    answer = await anyio.to_thread.run_sync(ask)
    if answer.strip().lower() in ("y", "yes"):
        return True
    return "The user declined this call at the terminal prompt."
