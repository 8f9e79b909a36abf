"""PostToolUse `tool_response` in Claude Code's shapes, built from what tau's built-in tools return.

tau's tools return text for the model; Claude Code's hooks read objects. The shapes (Claude Code's tool output
schemas, as its hook scripts read them)::

    Bash  {"stdout", "stderr", "interrupted": false, "isImage": false}
    Read  {"type": "text", "file": {"filePath", "content", "numLines", "startLine", "totalLines"}}
    Write {"type": "create" | "update", "filePath", "content", "structuredPatch": [], "originalFile": null}
    Edit  {"filePath", "oldString", "newString", "originalFile": null, "structuredPatch": [],
           "userModified": false, "replaceAll"}
    Glob  {"filenames", "durationMs", "numFiles", "truncated"}
    Grep  {"mode", "numFiles", "filenames", "content"?, "numLines"?, "numMatches"?}

Any other tool (MCP, task, skill, ...) keeps its value as it is. Paths are absolute: a relative `file_path` is
taken against the project directory (where hooks run). Decisions and limits:
- built from the tools' text formats (`tau.tools`: `exit code: N` + `stdout:`/`stderr:` sections, `cat -n` lines,
  `Found N files` headers), not by re-running anything; the tests run the real tools against these parsers;
- Bash output is what the model saw: long output is already cut in the middle (with a marker), trailing newlines
  are stripped; a line that is exactly `stderr:` inside stdout splits at the last such line;
- Write's `type` comes from whether the file existed before the call (the caller checks, only when a PostToolUse
  hook will read it); `originalFile` and `structuredPatch` are not reconstructed (null / []).

`tool_output_text` is the reverse for `updatedToolOutput`: a Claude-Code-shaped Bash object a hook returns becomes
tau's text for the model; strings stay; anything else becomes JSON.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from tau.protocol.names import claude_name

__all__ = ["claude_tool_response", "tool_output_text"]

_EXIT = re.compile(r"exit code: (-?\d+)\n")
_NUMBERED = re.compile(r" *(\d+)\t(.*)", re.DOTALL)
_SHOWING = re.compile(r"\[showing lines (\d+)-(\d+) of (\d+);")
_FOUND = re.compile(r"Found (\d+) files( \(showing the first \d+\))?")
_COUNT = re.compile(r"Found (\d+) matching lines in (\d+) files")


def _absolute(path: object, project_dir: str) -> str:
    text = path if isinstance(path, str) else ""
    return text if not text or posixpath.isabs(text) else posixpath.normpath(posixpath.join(project_dir, text))


def _bash(text: str) -> dict[str, Any]:
    stdout = stderr = ""
    match = _EXIT.match(text)
    body = text[match.end() :] if match else text
    if body.startswith("stdout:\n"):
        stdout = body[len("stdout:\n") :]
        cut = stdout.rfind("\nstderr:\n")
        if cut >= 0:
            stdout, stderr = stdout[:cut], stdout[cut + len("\nstderr:\n") :]
    elif body.startswith("stderr:\n"):
        stderr = body[len("stderr:\n") :]
    elif body != "(no output)":
        stdout = body
    return {"stdout": stdout, "stderr": stderr, "interrupted": False, "isImage": False}


def _read(text: str, tool_input: Mapping[str, Any], project_dir: str) -> dict[str, Any]:
    path = _absolute(tool_input.get("file_path"), project_dir)
    lines: list[str] = []
    start: int | None = None
    total: int | None = None
    for raw in text.split("\n"):
        numbered = _NUMBERED.fullmatch(raw)
        if numbered is not None:
            start = int(numbered[1]) if start is None else start
            lines.append(numbered[2])
        elif (showing := _SHOWING.match(raw)) is not None:
            total = int(showing[3])
    first = start or 1
    shown = len(lines)
    info = {
        "filePath": path,
        "content": "\n".join(lines),
        "numLines": shown,
        "startLine": first,
        "totalLines": total if total is not None else (first + shown - 1 if shown else 0),
    }
    return {"type": "text", "file": info}


def _write(tool_input: Mapping[str, Any], project_dir: str, existed: bool | None) -> dict[str, Any]:
    return {
        "type": "update" if existed else "create",
        "filePath": _absolute(tool_input.get("file_path"), project_dir),
        "content": tool_input.get("content", ""),
        "structuredPatch": [],
        "originalFile": None,
    }


def _edit(tool_input: Mapping[str, Any], project_dir: str) -> dict[str, Any]:
    return {
        "filePath": _absolute(tool_input.get("file_path"), project_dir),
        "oldString": tool_input.get("old_string", ""),
        "newString": tool_input.get("new_string", ""),
        "originalFile": None,
        "structuredPatch": [],
        "userModified": False,
        "replaceAll": bool(tool_input.get("replace_all", False)),
    }


def _listed(text: str) -> list[str]:
    return [line for line in text.split("\n")[1:] if line and not line.startswith("[")]


def _glob(text: str, duration_ms: float) -> dict[str, Any]:
    found = _FOUND.match(text)
    names = _listed(text) if found else []
    truncated = bool(found and found[2]) or "[the search stopped early" in text or "[output cut at" in text
    return {"filenames": names, "durationMs": round(duration_ms), "numFiles": len(names), "truncated": truncated}


def _grep(text: str, tool_input: Mapping[str, Any]) -> dict[str, Any]:
    mode = tool_input.get("output_mode") or "files_with_matches"
    if text.startswith("No matches found"):
        return {"mode": mode, "numFiles": 0, "filenames": []}
    if mode == "files_with_matches":
        names = _listed(text)
        return {"mode": mode, "numFiles": len(names), "filenames": names}
    if mode == "count":
        counted = _COUNT.match(text)
        entries = _listed(text)
        total = int(counted[1]) if counted else 0
        return {
            "mode": mode,
            "numFiles": len(entries),
            "filenames": [],
            "content": "\n".join(entries),
            "numMatches": total,
        }
    return {"mode": mode, "numFiles": 0, "filenames": [], "content": text, "numLines": len(text.split("\n"))}


def claude_tool_response(
    tool: str,
    tool_input: Mapping[str, Any],
    value: Any,
    *,
    project_dir: str,
    duration_ms: float = 0.0,
    existed: bool | None = None,
) -> Any:
    """`tool_response` for a PostToolUse payload (see the module docstring); `value` is what the tool returned."""
    if not isinstance(value, str):
        return value
    name = claude_name(tool)
    if name == "Bash":
        return _bash(value)
    if name == "Read":
        return _read(value, tool_input, project_dir)
    if name == "Write":
        return _write(tool_input, project_dir, existed)
    if name == "Edit":
        return _edit(tool_input, project_dir)
    if name == "Glob":
        return _glob(value, duration_ms)
    if name == "Grep":
        return _grep(value, tool_input)
    return value


def tool_output_text(tool: str, output: Any) -> Any:
    """What the model reads when a PostToolUse hook returns `updatedToolOutput` (see the module docstring)."""
    if isinstance(output, str):
        return output
    if claude_name(tool) == "Bash" and isinstance(output, Mapping) and {"stdout", "stderr"} & set(output):
        sections = [
            f"{label}:\n{str(text).rstrip(chr(10))}"
            for label, text in (("stdout", output.get("stdout")), ("stderr", output.get("stderr")))
            if text
        ]
        return "\n".join(sections) or "(no output)"
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)
