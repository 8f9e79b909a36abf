"""Path hygiene for tool arguments: a path the model sends that no filesystem can take is a failed tool result.

Pure. Every tool argument that names a path (read/write/edit `file_path`, glob `pattern` and `path`, grep `path`,
memory `path` / `old_path` / `new_path`, skill `file`) goes through `checked` before it reaches the workspace;
bash's `command` and grep's `pattern` / `glob` go through `checked_text`, text written to files through `encoded`.
The model gets one line saying what is wrong, instead of an exception from deep in `os` (a NUL byte is a
ValueError there, a lone surrogate a UnicodeEncodeError) that would end the run.

Refused: an empty path (where one is required), a NUL byte, text that is not valid UTF-8 (lone surrogates, which
JSON allows), a path over 4095 bytes or a name over 255 (PATH_MAX, NAME_MAX): see `tau.confine.path_problem`.
"""

from __future__ import annotations

from pydantic_ai.exceptions import ToolFailed

from tau.confine import path_problem

__all__ = ["checked", "checked_text", "encoded", "shown"]

_SHOWN_CHARS = 120


def shown(value: str) -> str:
    """`value` as a message can quote it: control characters and lone surrogates escaped, long text shortened."""
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 20]}...{text[-17:]}"


def checked_text(value: str, argument: str) -> str:
    """`value` unchanged, or `ToolFailed` when it holds a NUL byte or is not valid UTF-8."""
    if "\x00" in value:
        raise ToolFailed(f"{argument} contains a NUL byte ({shown(value)}); remove it")
    encoded(value, argument)
    return value


def encoded(value: str, argument: str) -> bytes:
    """`value` as UTF-8 bytes (file content: NUL bytes are fine), or `ToolFailed` when it holds lone surrogates."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolFailed(f"{argument} is not valid UTF-8 text ({shown(value)}); send plain text") from None


def checked(value: str, argument: str) -> str:
    """`value` unchanged when a filesystem can take it as a path, else `ToolFailed` with one line saying why."""
    if not value:
        raise ToolFailed(f"{argument} is empty; give a path")
    problem = path_problem(value)
    if problem is not None:
        raise ToolFailed(f"{argument} {problem}: {shown(value)}")
    return value
