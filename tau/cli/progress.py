"""Run progress on stderr, from the event stream: what a person watching a terminal or reading a CI log sees.

- On a TTY (`tty=True`): one live status line at the bottom, rewritten in place (`\\r` + erase line) and kept moving
  by a ticker thread: `⠹ turn 3 · bash: make test (4s) · 12.3k tokens · $0.0123 · 0:42`; above it, one permanent
  line per finished tool call (`✓ read data.txt · 12 ms`, `✗ bash … · failed: …`), per denied call, per line of
  narration the model sends between tool calls, per retry, notice, subagent and compaction; at the end the status
  line is erased and one summary line stays (`tau: completed · 4 turns · 270 tokens · 1.2s`).
- Without a TTY (`tty=False`, CI): plain lines with the wall-clock time, flushed per line:
  `tau: [12:00:01] turn 1 · thinking`, `tau: [12:00:01] bash: make test`, failures, denials, retries, notices, and
  the same summary line at the end (before the answer and the reason a run failed, which stay last).

Invariants: everything that came from a model, a tool or a file is printed through `printable(one_line=True)` and
cut to the terminal's width (the status line never wraps, so `\\r` always returns to its start); stdout is never
written; all writes hold one lock (the ticker and the event loop share the stream); while a tool call waits for its
permission decision and stdin is a terminal (`prompts=True`: a `--on-ask tty` prompt may be on screen) and while
`ask_user` runs, the status line is not drawn, so it never overwrites a question. `hold()` erases the line and stops
drawing until `release()` (a renderer writing to the same terminal in between); `close()` stops the ticker.
"""

from __future__ import annotations

import os
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from tau.protocol import (
    CompactionApplied,
    Event,
    MessageCompleted,
    Notice,
    PermissionDecided,
    RetryScheduled,
    RunCompleted,
    SessionStarted,
    SubagentCompleted,
    SubagentStarted,
    ToolCompleted,
    ToolStarted,
    TurnStarted,
    UsageUpdated,
)
from tau.protocol.printable import printable

__all__ = ["Progress", "fit", "summarise_input"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK_SECONDS = 0.2
_ASK_TOOL = "ask_user"
_ERASE = "\r\x1b[2K"
_COLORS = {"ok": "\x1b[32m", "bad": "\x1b[31m", "warn": "\x1b[33m", "dim": "\x1b[2m"}
_RESET = "\x1b[0m"


def summarise_input(name: str, args: dict[str, Any]) -> str:
    """The one argument that says what a call does (command, path, pattern), or the tool's name."""
    for key in ("command", "file_path", "pattern", "path", "description"):
        if key in args:
            value = " ".join(str(args[key]).split())
            return value if len(value) <= 80 else value[:77] + "..."
    return name


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def _cell_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells (wide characters count two), with `…` when cut."""
    if sum(map(_cell_width, text)) <= width:
        return text
    out, used = [], 0
    for char in text:
        cells = _cell_width(char)
        if used + cells > width - 1:
            break
        out.append(char)
        used += cells
    return "".join(out) + "…"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return (
        f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        if whole >= 3600
        else f"{whole // 60}:{whole % 60:02d}"
    )


def _tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def _took(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f}s"


_Line = tuple[str, str, str]
"""A permanent line: (mark, text, tone); the mark (✓ ✗ ! » ↳ ~) shows on a TTY only."""


@dataclass
class _Call:
    tool: str
    summary: str
    started: float


class Progress:
    """The progress sink of one run (see the module docstring). Call it with every event; `close()` at the end."""

    def __init__(
        self,
        err: TextIO,
        *,
        tty: bool,
        prompts: bool = False,
        color: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        width: Callable[[], int] | None = None,
        ticker: bool = True,
    ) -> None:
        self.err = err
        self.tty = tty
        self.prompts = prompts
        self.color = tty and (color if color is not None else _is_terminal(err) and not os.environ.get("NO_COLOR"))
        self._clock, self._wall = clock, wall
        self._width = width or self._terminal_width
        self._lock = threading.RLock()
        self._start = clock()
        self._turn = 0
        self._tokens = 0
        self._cost: float | None = None
        self._calls: dict[str, _Call] = {}
        self._awaiting: set[str] = set()
        self._frame = 0
        self._shown = False
        self._held = False
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        if tty and ticker:
            self._ticker = threading.Thread(target=self._tick, name="tau-progress", daemon=True)
            self._ticker.start()

    # -- events ------------------------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, RunCompleted):
                self._finish(event)
                return
            handler = self._handlers.get(type(event))
            line = handler(event) if handler is not None else None
            if line is not None:
                self._print(*line)
            self._draw()

    @property
    def _handlers(self) -> dict[type, Callable[[Any], _Line | None]]:
        return {
            SessionStarted: self._session,
            TurnStarted: self._turn_started,
            UsageUpdated: self._usage,
            MessageCompleted: self._message,
            ToolStarted: self._started,
            PermissionDecided: self._decided,
            ToolCompleted: self._completed,
            RetryScheduled: self._retry,
            Notice: self._notice,
            SubagentStarted: self._subagent,
            SubagentCompleted: self._subagent,
            CompactionApplied: self._compaction,
        }

    def _session(self, event: SessionStarted) -> _Line:
        self._start = self._clock()
        return "", f"session {event.session_id} · {event.model} · {event.environment.workspace}", "dim"

    def _turn_started(self, event: TurnStarted) -> _Line | None:
        self._turn = event.turn
        return None if self.tty else ("", f"turn {event.turn} · thinking", "")

    def _usage(self, event: UsageUpdated) -> None:
        self._tokens = event.usage.input_tokens + event.usage.output_tokens
        self._cost = event.cost_usd

    def _message(self, event: MessageCompleted) -> _Line | None:
        """Narration between tool calls (the final answer goes to stdout, not here)."""
        return ("»", event.text, "dim") if self.tty and event.tools and event.text.strip() else None

    def _started(self, event: ToolStarted) -> _Line | None:
        summary = summarise_input(event.tool, event.input)
        self._calls[event.call_id] = _Call(event.tool, summary, self._clock())
        if self.prompts:
            self._awaiting.add(event.call_id)
        return None if self.tty else ("", f"{event.tool}: {summary}", "")

    def _decided(self, event: PermissionDecided) -> _Line | None:
        self._awaiting.discard(event.call_id)
        return ("✗", f"denied {event.tool}: {event.reason}", "bad") if event.resolution == "denied" else None

    def _completed(self, event: ToolCompleted) -> _Line | None:
        call = self._calls.pop(event.call_id, None)
        self._awaiting.discard(event.call_id)
        summary = call.summary if call is not None else event.tool
        if event.status == "success":
            took = f" · {_took(event.duration_ms / 1000)}" if event.duration_ms is not None else ""
            return ("✓", f"{event.tool} {summary}{took}", "ok") if self.tty else None
        if event.status == "denied":
            return None  # its permission decision (or the hook's) said it, with the reason
        output = " ".join(event.output.split())[:160]
        tone = "warn" if event.status == "retried" else "bad"
        return ("!" if tone == "warn" else "✗", f"{event.tool} {summary} · {event.status}: {output}", tone)

    def _retry(self, event: RetryScheduled) -> _Line:
        return "!", f"provider error, retry {event.attempt} in {event.delay_ms / 1000:.1f}s: {event.error}", "warn"

    def _notice(self, event: Notice) -> _Line:
        return "!", f"{event.level}: {event.message}", "warn" if event.level == "warning" else "dim"

    def _subagent(self, event: SubagentStarted | SubagentCompleted) -> _Line | None:
        said = event.description if isinstance(event, SubagentStarted) else event.status
        return ("↳", f"subagent {event.agent}: {said}", "dim") if self.tty else None

    def _compaction(self, event: CompactionApplied) -> _Line:
        return "~", f"history compacted ({event.strategy}): {event.tokens_before} → {event.tokens_after} tokens", "dim"

    def _finish(self, event: RunCompleted) -> None:
        self._erase()
        self._done.set()
        turns = f"{event.num_turns} turn{'s' if event.num_turns != 1 else ''}"
        tokens = f"{_tokens(event.usage.input_tokens + event.usage.output_tokens)} tokens"
        cost = f" · ${event.cost_usd:.4f}" if event.cost_usd is not None else ""
        outcome = event.status if event.status == event.terminal_reason else f"{event.status} ({event.terminal_reason})"
        tone = "ok" if event.status == "completed" else "warn" if event.status == "suspended" else "bad"
        self._print("", f"{outcome} · {turns} · {tokens}{cost} · {_took(event.duration_ms / 1000)}", tone)

    # -- drawing -----------------------------------------------------------------------------------------------

    def hold(self) -> None:
        """Erase the status line and draw nothing until `release()`."""
        with self._lock:
            self._erase()
            self._held = True

    def release(self) -> None:
        with self._lock:
            self._held = False
            self._draw()

    def close(self) -> None:
        self._done.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(1.0)
        with self._lock:
            self._erase()

    def _tick(self) -> None:
        while not self._done.wait(TICK_SECONDS):
            with self._lock:
                self._frame += 1
                self._draw()

    def _status(self) -> str:
        now = self._clock()
        if self._calls:
            call = next(reversed(self._calls.values()))
            more = f" +{len(self._calls) - 1}" if len(self._calls) > 1 else ""
            running = now - call.started
            doing = f"{call.tool}: {call.summary}{more}" + (f" ({running:.0f}s)" if running >= 2 else "")
        else:
            doing = "thinking" if self._turn else "starting"
        parts = [f"turn {self._turn}" if self._turn else "", doing, f"{_tokens(self._tokens)} tokens"]
        if self._cost is not None:
            parts.append(f"${self._cost:.4f}")
        parts.append(_clock(now - self._start))
        return f"{SPINNER[self._frame % len(SPINNER)]} " + " · ".join(part for part in parts if part)

    def _quiet_now(self) -> bool:
        """A question may be on screen: a call waits for its permission decision, or `ask_user` runs."""
        return self.prompts and (bool(self._awaiting) or any(c.tool == _ASK_TOOL for c in self._calls.values()))

    def _draw(self) -> None:
        if not self.tty or self._held or self._done.is_set() or self._quiet_now():
            return
        self.err.write(_ERASE + fit(printable(self._status(), one_line=True), self._width() - 1))
        self.err.flush()
        self._shown = True

    def _erase(self) -> None:
        if self._shown:
            self.err.write(_ERASE)
            self.err.flush()
            self._shown = False

    def _print(self, mark: str, text: str, tone: str) -> None:
        """One permanent line: on a TTY above the status line (`  ✓ …` for a mark, `tau: …` without one); without
        a TTY, `tau: [HH:MM:SS] …`."""
        text = printable(text, one_line=True)
        if self.tty:
            self._erase()
            text = fit(f"  {mark} {text}" if mark else f"tau: {text}", self._width() - 1)
            if self.color and tone in _COLORS:
                text = f"{_COLORS[tone]}{text}{_RESET}"
            self.err.write(text + "\n")
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(self._wall()))
            self.err.write(f"tau: [{stamp}] {text}\n")
        self.err.flush()

    def _terminal_width(self) -> int:
        try:
            columns = os.get_terminal_size(self.err.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80
        return max(columns, 20) if columns else 80  # 0: a terminal that reports no size (a fresh pty)
