"""Running hooks: the matching handlers of one event, their answers read with Claude Code's contract, combined.

Execution (command handlers): `/bin/sh -c COMMAND` ON THE HOST — hooks are operator configuration, not model tool
calls, so they do not go through the run's workspace — in its own process group, cwd = the project directory, the
caller's environment plus `TAU_PROJECT_DIR` and `CLAUDE_PROJECT_DIR`, the JSON payload on stdin. A handler that
outlives its `timeout` (default 60 s) has its whole process group killed and counts as a non-blocking error.

Reading one answer:
- exit 0: stdout that starts with `{` must be a JSON object in Claude Code's output shape (`continue`/`stopReason`,
  `suppressOutput`, `systemMessage`, `decision: block` + `reason`, `hookSpecificOutput` with `permissionDecision`,
  `permissionDecisionReason`, `updatedInput`, `additionalContext`, `updatedToolOutput`); invalid JSON is ignored with
  a warning (non-blocking). Other stdout is additional context for UserPromptSubmit and SessionStart, else ignored;
- exit 2: block; stderr is the reason (fed to the model or user by the caller); stdout is ignored, even invalid JSON;
- any other exit code, a timeout, or a failure to start: non-blocking error; the run continues.

Order and combination (decision): all matching handlers of one event start together and run concurrently (as in
Claude Code and Codex: one cannot stop another from starting, each sees the same payload). Results are combined in
config order — file sources in merge order, then Python hooks in registration order — whatever order they finish:
block/deny > ask > allow; the reasons of the winning level are joined in that order; for `updatedInput` and
`updatedToolOutput` the last handler in config order that gave one wins; every `additionalContext` is kept, in
order; `continue: false` from any handler stops. One `HookRan` is emitted per handler, in config order, after all of
the event's handlers finished.

Python hooks (embedding): `HookRegistry.register(event, matcher, fn)`; `fn(payload)` (sync or async) returns None,
a plain string (stdout) or a dict in the JSON output shape; raising `HookBlock(reason)` is exit 2; any other
exception is a non-blocking error.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau.environment.lifetime import lifetime_argv
from tau.hooks.config import TOOL_EVENTS, CommandHandler, HookConfig, compile_matcher
from tau.hooks.rules import RuleMatcher, rule_applies
from tau.protocol import HookRan

__all__ = [
    "Decision",
    "Emit",
    "FunctionHandler",
    "HookBlock",
    "HookContext",
    "HookFunction",
    "HookOutcome",
    "HookRegistry",
    "HookRunner",
    "match_value",
]

Decision = Literal["allow", "deny", "ask", "block"]
Emit = Callable[[HookRan], object]
HookFunction = Callable[[dict[str, Any]], "Awaitable[object] | object"]
_RANK: dict[str | None, int] = {None: 0, "allow": 1, "ask": 2, "deny": 3, "block": 3}
_CONTEXT_EVENTS = frozenset({"UserPromptSubmit", "SessionStart"})
_MAX_TEXT = 10_000
_KILL_WAIT = 5.0


class HookBlock(Exception):
    """Raised by a Python hook to block, like a command hook's exit 2; the message is the reason (its stderr)."""


@dataclass(frozen=True)
class FunctionHandler:
    """A Python callable registered as a hook. `timeout` None = unbounded (it runs in tau's event loop)."""

    fn: HookFunction
    name: str
    timeout: float | None = None
    if_rule: str | None = None


Handler = CommandHandler | FunctionHandler


class HookRegistry:
    """Python hooks registered by an embedding application; they run after the file hooks of the same event."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, str | None, FunctionHandler]] = []

    def register(
        self,
        event: str,
        matcher: str | None,
        fn: HookFunction,
        *,
        timeout: float | None = None,
        if_rule: str | None = None,
    ) -> None:
        """Run `fn(payload)` on `event` when `matcher` matches (same matcher syntax as the config files)."""
        compile_matcher(matcher)  # fail early on a bad regex
        name = getattr(fn, "__qualname__", None) or repr(fn)
        self._entries.append((event, matcher, FunctionHandler(fn, f"python:{name}", timeout, if_rule)))

    def entries(self, event: str) -> list[tuple[str | None, FunctionHandler]]:
        return [(matcher, handler) for ev, matcher, handler in self._entries if ev == event]


@dataclass(frozen=True)
class HookContext:
    """The common payload fields of one session, plus where hook commands run."""

    session_id: str
    project_dir: str
    cwd: str = ""
    transcript_path: str = ""
    permission_mode: str = "default"


class _SpecificOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    hookEventName: str | None = None
    permissionDecision: Literal["allow", "deny", "ask", "defer"] | None = None
    permissionDecisionReason: str | None = None
    updatedInput: dict[str, Any] | None = None
    additionalContext: str | None = None
    updatedToolOutput: Any = None
    updatedMCPToolOutput: Any = None


class _Output(BaseModel):
    """Claude Code's JSON output of a hook (exit 0). Unknown keys are tolerated."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    continue_: bool = Field(True, alias="continue")
    stopReason: str | None = None
    suppressOutput: bool = False
    systemMessage: str | None = None
    decision: Literal["block", "approve", "allow", "deny"] | None = None
    reason: str | None = None
    hookSpecificOutput: _SpecificOutput | None = None


@dataclass(frozen=True)
class _Execution:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    failure: str | None = None  # could not start, or a Python hook raised


@dataclass
class _Verdict:
    """What one handler said."""

    decision: Decision | None = None
    reason: str | None = None
    updated_input: dict[str, Any] | None = None
    updated_output: Any = None
    context: str | None = None
    stop: bool = False
    stop_reason: str | None = None
    system_message: str | None = None
    error: str | None = None


@dataclass
class HookOutcome:
    """The combined answer of every handler that ran for one event (empty when none matched)."""

    event: str
    decision: Decision | None = None
    reason: str | None = None
    updated_input: dict[str, Any] | None = None
    updated_output: Any = None
    additional_context: list[str] = field(default_factory=list[str])
    stop: bool = False
    stop_reason: str | None = None
    messages: list[str] = field(default_factory=list[str])
    runs: list[HookRan] = field(default_factory=list[HookRan])

    @property
    def blocked(self) -> bool:
        """Exit 2, `decision: block` or `permissionDecision: deny` from any handler."""
        return self.decision in ("deny", "block")

    @property
    def context_text(self) -> str | None:
        return "\n\n".join(self.additional_context) or None

    def to_json(self) -> dict[str, Any]:
        """The combined decision as `tau hooks test` prints it."""
        return {
            "event": self.event,
            "decision": self.decision,
            "blocked": self.blocked,
            "reason": self.reason,
            "updated_input": self.updated_input,
            "updated_output": self.updated_output,
            "additional_context": list(self.additional_context),
            "continue": not self.stop,
            "stop_reason": self.stop_reason,
            "messages": list(self.messages),
            "hooks": [run.model_dump(mode="json", exclude={"seq", "type"}) for run in self.runs],
        }


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... [{len(text) - _MAX_TEXT} chars cut]"


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _run_command(
    command: str, stdin: bytes, *, cwd: str | None, env: Mapping[str, str], timeout: float
) -> _Execution:
    try:
        proc = await asyncio.create_subprocess_exec(
            *lifetime_argv(["/bin/sh", "-c", command], cwd=cwd or None),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd or None,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as error:
        return _Execution(None, failure=f"could not start hook: {error}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        with suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _KILL_WAIT)
        return _Execution(None, timed_out=True)
    except BaseException:
        _kill_group(proc.pid)
        raise
    return _Execution(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


async def _run_function(handler: FunctionHandler, payload: dict[str, Any]) -> _Execution:
    async def call() -> object:
        result = handler.fn(dict(payload))
        return await result if inspect.isawaitable(result) else result

    try:
        value = await (call() if handler.timeout is None else asyncio.wait_for(call(), handler.timeout))
    except HookBlock as block:
        return _Execution(2, stderr=str(block))
    except TimeoutError:
        return _Execution(None, timed_out=True)
    except Exception as error:
        return _Execution(1, failure=f"{type(error).__name__}: {error}")
    if value is None:
        return _Execution(0)
    if isinstance(value, str):
        return _Execution(0, stdout=value)
    try:
        return _Execution(0, stdout=json.dumps(value))
    except (TypeError, ValueError) as error:
        return _Execution(1, failure=f"hook returned a value that is not JSON: {error}")


def _from_output(event: str, output: _Output) -> _Verdict:
    verdict = _Verdict(system_message=output.systemMessage)
    if not output.continue_:
        verdict.stop, verdict.stop_reason = True, output.stopReason or "stopped by hook (continue: false)"
    if output.decision in ("block", "deny"):
        verdict.decision, verdict.reason = "block", output.reason or "blocked by hook"
    elif output.decision in ("approve", "allow") and event == "PreToolUse":
        verdict.decision, verdict.reason = "allow", output.reason
    specific = output.hookSpecificOutput
    if specific is None:
        return verdict
    verdict.context = specific.additionalContext
    if event == "PreToolUse":
        if specific.permissionDecision in ("allow", "deny", "ask") and verdict.decision != "block":
            verdict.decision = specific.permissionDecision
            verdict.reason = specific.permissionDecisionReason or verdict.reason
        verdict.updated_input = specific.updatedInput
    if event == "PostToolUse":
        verdict.updated_output = specific.updatedToolOutput or specific.updatedMCPToolOutput
    return verdict


def _interpret(event: str, run: _Execution, label: str, timeout: float | None) -> _Verdict:
    if run.timed_out:
        return _Verdict(error=f"hook timed out after {timeout:g}s and was killed (non-blocking)")
    if run.failure is not None:
        return _Verdict(error=run.failure)
    if run.exit_code == 2:
        return _Verdict(decision="block", reason=_clip(run.stderr) or f"blocked by hook {label} (exit 2)")
    if run.exit_code != 0:
        detail = _clip(run.stderr) or _clip(run.stdout)
        return _Verdict(error=f"hook exited {run.exit_code} (non-blocking)" + (f": {detail}" if detail else ""))
    text = run.stdout.strip()
    if text.startswith("{"):
        try:
            return _from_output(event, _Output.model_validate_json(text))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"])) or "output"
            return _Verdict(error=f"ignored invalid hook JSON output ({where}: {first['msg']})")
    if text and event in _CONTEXT_EVENTS:
        return _Verdict(context=_clip(text))
    return _Verdict()


def _ran_decision(verdict: _Verdict) -> Literal["none", "allow", "deny", "ask", "block", "stop", "error"]:
    if verdict.stop:
        return "stop"
    if verdict.decision is not None:
        return verdict.decision
    return "error" if verdict.error else "none"


def _combine(event: str, verdicts: Sequence[_Verdict], runs: list[HookRan]) -> HookOutcome:
    outcome = HookOutcome(event=event, runs=runs)
    top = max((_RANK[v.decision] for v in verdicts), default=0)
    winners = [v for v in verdicts if v.decision is not None and _RANK[v.decision] == top]
    if winners:
        outcome.decision = "block" if any(v.decision == "block" for v in winners) else winners[0].decision
        reasons = [v.reason for v in winners if v.reason]
        outcome.reason = "\n".join(reasons) or None
    for verdict in verdicts:
        if verdict.updated_input is not None:
            outcome.updated_input = verdict.updated_input
        if verdict.updated_output is not None:
            outcome.updated_output = verdict.updated_output
        if verdict.context:
            outcome.additional_context.append(verdict.context)
        if verdict.stop and not outcome.stop:
            outcome.stop, outcome.stop_reason = True, verdict.stop_reason
        outcome.messages += [m for m in (verdict.system_message, verdict.error) if m]
    return outcome


_MATCH_FIELD = {
    "SessionStart": "source",
    "SessionEnd": "reason",
    "PreCompact": "trigger",
    "Notification": "notification_type",
}


def match_value(event: str, fields: Mapping[str, Any]) -> str | None:
    """What an event's matchers test, from its payload fields: the tool name (tool events), `source`
    (SessionStart), `reason` (SessionEnd), `trigger` (PreCompact), `notification_type` (Notification); None = all.
    """
    key = "tool_name" if event in TOOL_EVENTS else _MATCH_FIELD.get(event)
    value = fields.get(key) if key else None
    return value if isinstance(value, str) and value else None


class HookRunner:
    """Runs the hooks of one session. I/O: host subprocesses; `emit` receives one `HookRan` per handler."""

    def __init__(
        self,
        config: HookConfig,
        *,
        context: HookContext,
        registry: HookRegistry | None = None,
        emit: Emit | None = None,
        env: Mapping[str, str] | None = None,
        rule_matcher: RuleMatcher | None = None,
    ) -> None:
        self.config = config
        self.context = context
        self.registry = registry or HookRegistry()
        self._emit = emit
        self._base_env = dict(os.environ if env is None else env)
        self._rule_matcher = rule_matcher

    def payload(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON object a hook of `event` receives: the common fields, then the event's own."""
        ctx = self.context
        return {
            "session_id": ctx.session_id,
            "transcript_path": ctx.transcript_path,
            "cwd": ctx.cwd or ctx.project_dir,
            "hook_event_name": event,
            "permission_mode": ctx.permission_mode,
            **fields,
        }

    def environment(self) -> dict[str, str]:
        return {
            **self._base_env,
            "TAU_PROJECT_DIR": self.context.project_dir,
            "CLAUDE_PROJECT_DIR": self.context.project_dir,
        }

    def _selected(self, rule: str | None, event: str, tool: str | None, tool_input: Mapping[str, Any]) -> bool:
        if rule is None or tool is None or event not in TOOL_EVENTS:
            return True
        if self._rule_matcher is not None:
            return self._rule_matcher(rule, tool, tool_input)
        return rule_applies(rule, tool, tool_input, project_dir=self.context.project_dir)

    def matching(
        self,
        event: str,
        match_value: str | None = None,
        *,
        tool: str | None = None,
        tool_input: Mapping[str, Any] | None = None,
    ) -> list[tuple[str | None, Handler]]:
        """(matcher, handler) pairs that run for this event, in config order."""
        args = tool_input or {}
        found: list[tuple[str | None, Handler]] = []
        for group in self.config.groups(event):
            if group.matches(match_value):
                found += [(group.matcher, h) for h in group.handlers if self._selected(h.if_rule, event, tool, args)]
        for matcher, handler in self.registry.entries(event):
            applies = match_value is None or compile_matcher(matcher)(match_value)
            if applies and self._selected(handler.if_rule, event, tool, args):
                found.append((matcher, handler))
        return found

    async def _execute(self, handler: Handler, payload: dict[str, Any]) -> _Execution:
        if isinstance(handler, FunctionHandler):
            return await _run_function(handler, payload)
        stdin = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        cwd = self.context.project_dir or None
        return await _run_command(handler.command, stdin, cwd=cwd, env=self.environment(), timeout=handler.timeout)

    async def _one(
        self, event: str, matcher: str | None, handler: Handler, payload: dict[str, Any]
    ) -> tuple[_Verdict, HookRan]:
        started = time.monotonic()
        execution = await self._execute(handler, payload)
        label = handler.name if isinstance(handler, FunctionHandler) else handler.command
        verdict = _interpret(event, execution, label, handler.timeout)
        message = verdict.error or verdict.reason or verdict.stop_reason or verdict.system_message
        record = HookRan(
            event=event,
            matcher=matcher,
            command=label,
            exit_code=execution.exit_code,
            decision=_ran_decision(verdict),
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            message=message,
        )
        return verdict, record

    async def run(
        self,
        event: str,
        fields: Mapping[str, Any],
        *,
        match_value: str | None = None,
        tool: str | None = None,
        tool_input: Mapping[str, Any] | None = None,
    ) -> HookOutcome:
        """Run every matching handler of `event` concurrently; combine in config order; emit their `HookRan`s."""
        selected = self.matching(event, match_value, tool=tool, tool_input=tool_input)
        if not selected:
            return HookOutcome(event=event)
        payload = self.payload(event, fields)
        results = await asyncio.gather(*(self._one(event, m, h, payload) for m, h in selected))
        runs = [record for _, record in results]
        if self._emit is not None:
            for record in runs:
                self._emit(record)
        return _combine(event, [verdict for verdict, _ in results], runs)
