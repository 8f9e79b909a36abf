"""The session transcript hooks read through `transcript_path`: Claude Code's JSONL shape, kept current.

One JSON object per line, per conversation message (pydantic-ai `ModelMessage`) that has something to show::

    {"parentUuid": null | "<uuid of the line before>", "isSidechain": false, "userType": "external",
     "cwd": "/project", "sessionId": "<tau session id>", "version": "<tau version>",
     "type": "user" | "assistant", "uuid": "<uuid>", "timestamp": "2026-01-02T03:04:05.678Z",
     "message": {"role": "user" | "assistant", "content": [<blocks>]}, "tauMessageIndex": 7}

Blocks are Anthropic Messages API blocks: `text`, `thinking`, `tool_use {id, name, input}` (in assistant lines;
tool names as Claude Code names them: `Bash`, `Read`, ...) and `tool_result {tool_use_id, content, is_error}` (in
user lines). Assistant lines also carry `message.id`, `model`, `stop_reason` and `usage`, as Claude Code writes
them. System prompts and instructions are not in the transcript (Claude Code does not write them either).

Invariants:
- The file lives in tau's state directory (`<state>/transcripts/<session>.jsonl`), never in the workspace; it is
  created owner-only (0600) and opened without following a symbolic link.
- Append-only while a run goes: `sync(messages)` appends the messages not yet written, each line with ONE `write`
  on an `O_APPEND` descriptor, so a reader never sees half a line from a live writer.
- Per session, across runs: a resumed session's transcript continues where it stopped. Each line's uuid is
  derived from (session, message index, the message's canonical bytes), so on the first `sync` of a run the last
  line tells whether the file matches the history: it continues when it does; when it does not (no file, a torn
  last line after a crash, a fork, a rewind, a history rewritten elsewhere) the whole transcript is rebuilt from
  the history into a temp file and renamed over the old one (atomic).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    RetryPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from tau.protocol.names import claude_name

__all__ = ["TRANSCRIPTS_DIR", "TranscriptWriter", "message_line", "transcript_file"]

TRANSCRIPTS_DIR = "transcripts"
_NAMESPACE = uuid.UUID("6f1c1e9e-2d5b-4c55-9a53-7d1b1f0c7a21")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TAIL_BYTES = 1 << 20  # the last line of a transcript is found in its last MiB (a longer line: rebuild)


def transcript_file(state_dir: Path, session_id: str) -> Path:
    """`<state_dir>/transcripts/<session>.jsonl`; a session id that is not a plain file name is hashed."""
    name = session_id if _SAFE_NAME.fullmatch(session_id) else hashlib.sha256(session_id.encode()).hexdigest()
    return state_dir / TRANSCRIPTS_DIR / f"{name}.jsonl"


def _timestamp(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
        return "\n".join(item if isinstance(item, str) else f"[{type(item).__name__}]" for item in content)
    return f"[{type(content).__name__}]"


def _request_blocks(message: ModelRequest) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ToolReturnPart):
            blocks.append(
                {
                    "type": "tool_result",
                    "tool_use_id": part.tool_call_id,
                    "content": part.model_response_str(),
                    "is_error": part.outcome != "success",
                }
            )
        elif isinstance(part, RetryPromptPart):
            if part.tool_name is not None:
                content = part.model_response()
                blocks.append(
                    {"type": "tool_result", "tool_use_id": part.tool_call_id, "content": content, "is_error": True}
                )
            else:
                blocks.append({"type": "text", "text": part.model_response()})
        elif isinstance(part, UserPromptPart | RetryFeedbackPart):
            blocks.append({"type": "text", "text": _text(part.content)})
    return blocks


def _response_blocks(message: ModelResponse) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.content:
                blocks.append({"type": "text", "text": part.content})
        elif isinstance(part, ThinkingPart):
            blocks.append({"type": "thinking", "thinking": part.content, "signature": part.signature or ""})
        elif isinstance(part, ToolCallPart):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.tool_call_id,
                    "name": claude_name(part.tool_name),
                    "input": part.args_as_dict(),
                }
            )
    return blocks


def _digest(message: ModelMessage) -> str:
    return hashlib.sha256(ModelMessagesTypeAdapter.dump_json([message])).hexdigest()


def message_line(
    message: ModelMessage,
    *,
    index: int,
    session_id: str,
    cwd: str,
    parent: str | None,
    version: str = "",
) -> dict[str, Any] | None:
    """The transcript line of one message (None when it has nothing to show: instructions only, say)."""
    line_id = str(uuid.uuid5(_NAMESPACE, f"{session_id}\n{index}\n{_digest(message)}"))
    common: dict[str, Any] = {
        "parentUuid": parent,
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session_id,
        "version": version,
    }
    if isinstance(message, ModelResponse):
        blocks = _response_blocks(message)
        if not blocks:
            return None
        calls = any(block["type"] == "tool_use" for block in blocks)
        body: dict[str, Any] = {
            "id": message.provider_response_id or f"msg_{line_id.replace('-', '')}",
            "type": "message",
            "role": "assistant",
            "model": message.model_name or "",
            "content": blocks,
            "stop_reason": "tool_use" if calls else "end_turn",
            "usage": {"input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens},
        }
        kind = "assistant"
    else:
        blocks = _request_blocks(message)
        if not blocks:
            return None
        body = {"role": "user", "content": blocks}
        kind = "user"
    return {
        **common,
        "type": kind,
        "message": body,
        "uuid": line_id,
        "timestamp": _timestamp(message.timestamp),
        "tauMessageIndex": index,
    }


class TranscriptWriter:
    """Keeps `path` equal to the transcript of the history it is given (see the module docstring)."""

    def __init__(self, path: Path, *, session_id: str, cwd: str, version: str = "") -> None:
        self.path = path
        self.session_id = session_id
        self.cwd = cwd
        self.version = version
        self._written: int | None = None  # messages covered by the file; None = not checked against it yet
        self._last: str | None = None  # uuid of the file's last line

    def sync(self, messages: Sequence[ModelMessage]) -> None:
        """Append the lines of `messages` the file lacks (rebuild it first if it does not match them).

        Raises OSError when the state directory cannot be written; callers treat the transcript as best-effort.
        """
        if self._written is None or self._written > len(messages):
            self._adopt(messages)
        if self._written is not None and self._written < len(messages):
            lines = self._lines(messages, self._written)
            self._append(lines)
            self._written = len(messages)

    def _lines(self, messages: Sequence[ModelMessage], start: int) -> list[bytes]:
        out: list[bytes] = []
        for index in range(start, len(messages)):
            line = message_line(
                messages[index],
                index=index,
                session_id=self.session_id,
                cwd=self.cwd,
                parent=self._last,
                version=self.version,
            )
            if line is not None:
                self._last = line["uuid"]
                out.append(json.dumps(line, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
        return out

    def _adopt(self, messages: Sequence[ModelMessage]) -> None:
        """Continue the existing file when its last line is the line of the same message; else rebuild it."""
        last = _last_line(self.path)
        if last is not None:
            index = last.get("tauMessageIndex")
            if isinstance(index, int) and 0 <= index < len(messages):
                expected = message_line(
                    messages[index],
                    index=index,
                    session_id=self.session_id,
                    cwd=self.cwd,
                    parent=last.get("parentUuid"),
                    version=self.version,
                )
                if expected is not None and expected["uuid"] == last.get("uuid"):
                    self._written, self._last = index + 1, expected["uuid"]
                    return
        self._rebuild(messages)

    def _rebuild(self, messages: Sequence[ModelMessage]) -> None:
        self._last = None
        lines = self._lines(messages, 0)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            for line in lines:
                _write_all(fd, line)
        finally:
            os.close(fd)
        os.replace(temp, self.path)
        self._written = len(messages)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            for line in lines:
                _write_all(fd, line)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """One `write` per line; a short write (a full disk) finishes the line or raises."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _last_line(path: Path) -> dict[str, Any] | None:
    """The last complete line of the transcript as an object; None when missing, torn, oversized or not JSON."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - _TAIL_BYTES)
        tail = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    if not tail.endswith(b"\n"):
        return None  # empty, or a line torn by a crash
    lines = tail[:-1].split(b"\n")
    if start > 0 and len(lines) < 2:
        return None
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
