"""Running hooks: the matching handlers of one event, their answers read with Claude Code's contract, combined.

Execution (command handlers): `/bin/sh -c COMMAND` ON THE HOST — hooks are operator configuration, not model tool
calls, so they do not go through the run's workspace — in its own process group, cwd = the project directory, the
caller's environment plus `TAU_PROJECT_DIR` and `CLAUDE_PROJECT_DIR`, the JSON payload on stdin. A handler that
outlives its `timeout` (default 60 s) has its whole process group killed and counts as a non-blocking error.

Reading answers: see `tau.hooks.answers` (Claude Code's exit-code and JSON output contract).

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
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from tau.environment.lifetime import lifetime_argv
from tau.hooks.answers import Decision, Execution, HookOutcome, Verdict, combine, interpret, ran_decision
from tau.hooks.config import TOOL_EVENTS, CommandHandler, HookConfig, compile_matcher
from tau.hooks.rules import RuleMatcher, rule_applies
from tau.protocol import HookRan
from tau.telemetry import tracer
from tau.telemetry.spans import hook_attributes

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

Emit = Callable[[HookRan], object]
HookFunction = Callable[[dict[str, Any]], "Awaitable[object] | object"]
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


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _run_command(
    command: str, stdin: bytes, *, cwd: str | None, env: Mapping[str, str], timeout: float
) -> Execution:
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
        return Execution(None, failure=f"could not start hook: {error}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        with suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _KILL_WAIT)
        return Execution(None, timed_out=True)
    except BaseException:
        _kill_group(proc.pid)
        raise
    return Execution(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


async def _run_function(handler: FunctionHandler, payload: dict[str, Any]) -> Execution:
    async def call() -> object:
        result = handler.fn(dict(payload))
        return await result if inspect.isawaitable(result) else result

    try:
        value = await (call() if handler.timeout is None else asyncio.wait_for(call(), handler.timeout))
    except HookBlock as block:
        return Execution(2, stderr=str(block))
    except TimeoutError:
        return Execution(None, timed_out=True)
    except Exception as error:
        return Execution(1, failure=f"{type(error).__name__}: {error}")
    if value is None:
        return Execution(0)
    if isinstance(value, str):
        return Execution(0, stdout=value)
    try:
        return Execution(0, stdout=json.dumps(value))
    except (TypeError, ValueError) as error:
        return Execution(1, failure=f"hook returned a value that is not JSON: {error}")


_MATCH_FIELD = {
    "SessionStart": "source",
    "SessionEnd": "reason",
    "PreCompact": "trigger",
    "Notification": "notification_type",
    "Setup": "trigger",
    "SubagentStart": "agent_type",
    "SubagentStop": "agent_type",
}


def match_value(event: str, fields: Mapping[str, Any]) -> str | None:
    """What an event's matchers test, from its payload fields: the tool name (tool events and PermissionRequest),
    `source` (SessionStart), `reason` (SessionEnd), `trigger` (PreCompact, Setup), `notification_type`
    (Notification), `agent_type` (SubagentStart, SubagentStop); None = all.
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
        self.prepare: Callable[[], None] | None = None  # runs before any handler runs (the session's transcript)

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

    async def _execute(self, handler: Handler, payload: dict[str, Any]) -> Execution:
        if isinstance(handler, FunctionHandler):
            return await _run_function(handler, payload)
        stdin = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        cwd = self.context.project_dir or None
        env = tracer().current().propagate(self.environment())
        return await _run_command(handler.command, stdin, cwd=cwd, env=env or {}, timeout=handler.timeout)

    async def _one(
        self, event: str, matcher: str | None, handler: Handler, payload: dict[str, Any]
    ) -> tuple[Verdict, HookRan]:
        started = time.monotonic()
        label = handler.name if isinstance(handler, FunctionHandler) else handler.command
        with tracer().span("tau.hook", {"tau.hook.event": event}) as span:  # commands get its TRACEPARENT
            span.content({"tau.hook.command": label})
            execution = await self._execute(handler, payload)
            verdict = interpret(event, execution, label, handler.timeout)
            message = verdict.error or verdict.reason or verdict.stop_reason or verdict.system_message
            record = HookRan(
                hook_event=event,
                matcher=matcher,
                command=label,
                exit_code=execution.exit_code,
                decision=ran_decision(verdict),
                duration_ms=round((time.monotonic() - started) * 1000, 3),
                message=message,
            )
            span.set(hook_attributes(record))
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
        if self.prepare is not None:
            self.prepare()
        payload = self.payload(event, fields)
        results = await asyncio.gather(*(self._one(event, m, h, payload) for m, h in selected))
        runs = [record for _, record in results]
        if self._emit is not None:
            for record in runs:
                self._emit(record)
        return combine(event, [verdict for verdict, _ in results], runs)
