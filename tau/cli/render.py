"""Renderers: event sinks that turn tau's event stream into the four output formats. They only render.

- `text`: the final answer on stdout; progress on stderr (`tau.cli.progress`: a live status line and one line per
  tool call on a TTY, timestamped lines otherwise, a summary line at the end; nothing with `quiet`). A suspended
  run says on stderr what it waits for and the command that continues it (`tau plan approve ID` after a plan — the
  plan itself goes to stdout —, `tau resume ID --answer CALL=TEXT` for a question, `tau resume ID --approve CALL`
  for an approval), quiet or not.
- `json`, `stream-json`, `claude-stream-json` on a terminal (stderr a TTY, not `quiet`): the same live status line
  beside them (`WithProgress`); in scripts and CI their stderr stays empty.
- `json`: one object on stdout when the run ends (the `RunCompleted` fields a script needs).
- `stream-json`: every tau event, one JSON object per line, flushed per line.
- `claude-stream-json`: Claude Code's headless `stream-json` shape (system/init, assistant, user tool_result,
  result), so tooling written for Claude Code reads tau: its lines do not change with tau's event vocabulary (v2
  renamed tau's own events; tests/protocol pins this output). tau's own `plan.submitted` and `clarification.requested`
  events have no Claude Code line; the `result` line carries the terminal reason.

Each renderer's `__call__(event)` is the sink; `close()` finishes output. Writers are injected (tests pass StringIO).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol, TextIO

from tau.cli.progress import Progress, summarise_input
from tau.protocol import (
    ApprovalRequested,
    ClarificationRequested,
    Event,
    MessageCompleted,
    PlanSubmitted,
    RunCompleted,
    SessionStarted,
    ToolCompleted,
    ToolStarted,
    TurnStarted,
)
from tau.protocol.names import claude_name
from tau.protocol.printable import printable


class Renderer(Protocol):
    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


def _line(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    out.flush()


def result_object(event: RunCompleted) -> dict[str, Any]:
    """The `--output json` object."""
    return event.model_dump(
        mode="json",
        include={
            "status",
            "terminal_reason",
            "exit_code",
            "result",
            "structured_output",
            "error",
            "retryable",
            "usage",
            "cost_usd",
            "num_turns",
            "duration_ms",
            "session_id",
            "permission_denials",
        },
    )


class StreamJsonRenderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        self.out.write(event.model_dump_json() + "\n")  # pydantic-core's encoder: one pass, no dict in between
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class JsonRenderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunCompleted):
            _line(self.out, result_object(event))

    def close(self) -> None:
        self.out.flush()


class TextRenderer:
    """Final answer on stdout; progress on stderr (`tau.cli.progress.Progress`, none with `quiet`)."""

    def __init__(
        self, out: TextIO, err: TextIO, *, tty: bool, quiet: bool = False, progress: Progress | None = None
    ) -> None:
        self.out = out
        self.err = err
        self.tty = tty
        self.quiet = quiet
        self.progress = None if quiet else progress or Progress(err, tty=tty, prompts=tty and _stdin_is_terminal())
        self._requests: list[ApprovalRequested] = []
        self._questions: list[ClarificationRequested] = []
        self._plan: PlanSubmitted | None = None

    def __call__(self, event: Event) -> None:
        if self.progress is not None and not isinstance(event, RunCompleted):
            self.progress(event)
        if isinstance(event, ApprovalRequested):
            self._requests.append(event)
        elif isinstance(event, ClarificationRequested):
            self._questions.append(event)
        elif isinstance(event, PlanSubmitted):
            self._plan = event
        elif isinstance(event, RunCompleted):
            if self.progress is not None:
                self.progress(event)  # the status line erased, the summary line; then the answer and the reason
            self._finish(event)

    def _finish(self, event: RunCompleted) -> None:
        if event.status == "suspended":
            self._suspended(event)
            return
        if event.result is not None:
            text = printable(event.result)
            self.out.write(text if text.endswith("\n") else text + "\n")
            self.out.flush()
        if event.status != "completed":
            reason = printable(event.error or "run did not complete", one_line=True)
            self.err.write(f"tau: {event.terminal_reason}: {reason}\n")
            self.err.flush()

    def _suspended(self, event: RunCompleted) -> None:
        session = event.session_id
        if self._plan is not None:
            self.out.write(printable(self._plan.plan) + "\n")
            self.out.flush()
            self.err.write(f"tau: plan written to {self._plan.path} — approve: tau plan approve {session}\n")
            self.err.write(f"tau: or ask for another plan: tau plan reject {session} --reason TEXT\n")
            self.err.flush()
            return
        for question in self._questions:
            choices = f" [{' / '.join(question.choices)}]" if question.choices else ""
            asked = printable(f"{question.question}{choices}", one_line=True)
            self.err.write(f"tau: the agent asks ({question.call_id}): {asked}\n")
            self.err.write(f"tau: answer: tau resume {session} --answer {question.call_id}=TEXT\n")
        for request in self._requests:
            shown = printable(f"{request.tool} {summarise_input(request.tool, request.input)}", one_line=True)
            self.err.write(f"tau: waiting on {request.kind} {request.call_id}: {shown}\n")
        if self._requests:
            self.err.write(
                f"tau: needs_input: suspended; continue with `tau resume {session} --approve CALL` "
                "(or --deny-call CALL[=REASON], --answer CALL=TEXT)\n"
            )
        elif not self._questions:
            self.err.write(f"tau: {event.terminal_reason}: suspended; continue with `tau resume {session}`\n")
        self.err.flush()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


class WithProgress:
    """A machine-readable renderer on a terminal, with the live status line beside it on stderr: the line is
    erased while the renderer writes (stdout may be the same terminal) and drawn again after."""

    def __init__(self, renderer: Renderer, progress: Progress) -> None:
        self.renderer = renderer
        self.progress = progress

    def __call__(self, event: Event) -> None:
        self.progress.hold()
        try:
            self.renderer(event)
        finally:
            self.progress.release()
        self.progress(event)

    def close(self) -> None:
        self.progress.close()
        self.renderer.close()


def _no_banner() -> None:
    """pydantic-ai prints a first-run banner on a terminal's stderr, over the status line: a program that owns its
    output turns it off (`pydantic_ai.BANNER_ENABLED`), before the first agent run. Nothing is imported for it."""
    module = sys.modules.get("pydantic_ai")
    if module is not None:
        setattr(module, "BANNER_ENABLED", False)  # noqa: B010 - a module found at run time, not imported


def _stdin_is_terminal() -> bool:
    """Whether a `--on-ask tty` prompt could be on screen (the status line then yields to it)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


class ClaudeStreamJsonRenderer:
    """Claude Code `--output-format stream-json --verbose` lines.

    An assistant message is emitted once its tool calls are known: on the first tool result, the next turn, or
    the end of the run — so each `tool_use` block carries the id and input the tool ran with.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.session_id = ""
        self.model = ""
        self._pending: MessageCompleted | None = None
        self._tool_uses: list[dict[str, Any]] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, SessionStarted):
            self._init(event)
        elif isinstance(event, MessageCompleted):
            self._flush()
            self._pending = event
        elif isinstance(event, ToolStarted):
            self._tool_uses.append(
                {"type": "tool_use", "id": event.call_id, "name": claude_name(event.tool), "input": event.input}
            )
        elif isinstance(event, ToolCompleted):
            self._flush()
            self._tool_result(event)
        elif isinstance(event, TurnStarted):
            self._flush()
        elif isinstance(event, RunCompleted):
            self._flush()
            self._result(event)

    def _init(self, event: SessionStarted) -> None:
        self.session_id = event.session_id
        self.model = event.model
        _line(
            self.out,
            {
                "type": "system",
                "subtype": "init",
                "session_id": event.session_id,
                "cwd": event.cwd,
                "model": event.model,
                "permissionMode": event.permission_mode,
                "tools": [claude_name(t) for t in event.tools],
                "mcp_servers": [{"name": m.name, "status": m.status} for m in event.mcp],
                "skills": list(event.skills),
                "apiKeySource": "none",
                "output_style": "default",
                "tau_version": event.tau_version,
            },
        )

    def _flush(self) -> None:
        if self._pending is None and not self._tool_uses:
            return
        content: list[dict[str, Any]] = []
        if self._pending is not None and self._pending.text:
            content.append({"type": "text", "text": self._pending.text})
        content.extend(self._tool_uses)
        model = (self._pending.model if self._pending else None) or self.model
        _line(
            self.out,
            {
                "type": "assistant",
                "message": {"type": "message", "role": "assistant", "model": model, "content": content},
                "parent_tool_use_id": None,
                "session_id": self.session_id,
            },
        )
        self._pending = None
        self._tool_uses = []

    def _tool_result(self, event: ToolCompleted) -> None:
        block = {
            "type": "tool_result",
            "tool_use_id": event.call_id,
            "content": event.output,
            "is_error": event.status != "success",
        }
        _line(
            self.out,
            {
                "type": "user",
                "message": {"role": "user", "content": [block]},
                "parent_tool_use_id": None,
                "session_id": self.session_id,
            },
        )

    def _result(self, event: RunCompleted) -> None:
        subtype = "success" if event.status == "completed" else _claude_error_subtype(event.terminal_reason)
        _line(
            self.out,
            {
                "type": "result",
                "subtype": subtype,
                "is_error": event.status != "completed",
                "duration_ms": event.duration_ms,
                "num_turns": event.num_turns,
                "result": event.result or event.error or "",
                "session_id": event.session_id,
                "total_cost_usd": event.cost_usd or 0.0,
                "usage": {
                    "input_tokens": event.usage.input_tokens,
                    "output_tokens": event.usage.output_tokens,
                    "cache_read_input_tokens": event.usage.cache_read_tokens,
                    "cache_creation_input_tokens": event.usage.cache_write_tokens,
                },
                "permission_denials": [
                    {"tool_name": claude_name(d.tool), "tool_use_id": d.call_id, "tool_input": d.input}
                    for d in event.permission_denials
                ],
                "structured_output": event.structured_output,
                "terminal_reason": event.terminal_reason,
            },
        )

    def close(self) -> None:
        self.out.flush()


def _claude_error_subtype(reason: str) -> str:
    if reason == "max_turns":
        return "error_max_turns"
    if reason == "max_usd":
        return "error_max_budget_usd"
    return "error_during_execution"


def make_renderer(fmt: str, out: TextIO, err: TextIO, *, tty: bool, quiet: bool = False) -> Renderer:
    """The renderer of `--output fmt`. `tty`: stderr is a terminal. Progress: with `text`, a live status line on a
    TTY and timestamped lines without one; with the JSON formats, the status line on a TTY only (their stderr stays
    empty in scripts and CI); none with `quiet`."""
    if tty and not quiet:
        _no_banner()
    if fmt == "text":
        return TextRenderer(out, err, tty=tty, quiet=quiet)
    renderer: Renderer
    if fmt == "json":
        renderer = JsonRenderer(out)
    elif fmt == "stream-json":
        renderer = StreamJsonRenderer(out)
    else:
        renderer = ClaudeStreamJsonRenderer(out)
    if not tty or quiet:
        return renderer
    return WithProgress(renderer, Progress(err, tty=True, prompts=_stdin_is_terminal()))
