"""How workspace errors become tool results the model reads.

Policy (one place, so every tool answers alike):
- `ToolFailed` for a well-formed call the world refused: missing file, directory where a file was expected, path
  escaping the workspace, binary or oversized file, no or ambiguous edit match, command timeout. The model sees the
  message as a failed tool result and adapts; it does not spend the tool's retry budget (the runtime bounds repeated
  failures with `max_consecutive_failures`).
- `ModelRetry` (raised by the tools themselves) only for malformed arguments, like schema validation errors: a bad
  regex, `old_string == new_string`. Those spend the per-tool retry budget.
- `WorkspaceUnavailableError` (the environment is gone) is never caught: it ends the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.workspaces import WorkspaceError, WorkspaceUnavailableError


def describe(error: OSError | WorkspaceError, path: str) -> str:
    """One line the model can act on, naming `path`."""
    if isinstance(error, FileNotFoundError):
        return f"File does not exist: {path}"
    if isinstance(error, IsADirectoryError):
        return f"{path} is a directory, not a file (use glob, or `ls` through bash, to list it)"
    if isinstance(error, NotADirectoryError):
        return f"{path}: a parent of this path is a file, not a directory"
    if isinstance(error, PermissionError):
        # The host backend's confinement message ("path escapes the workspace: ...") is already complete.
        return str(error) if error.errno is None and str(error) else f"Permission denied: {path}"
    if isinstance(error, OSError):
        return f"Cannot access {path}: {error.strerror or error}"
    return f"Workspace error on {path}: {error}"


@contextmanager
def reported(path: str) -> Iterator[None]:
    """Turn path-level workspace errors raised inside the block into `ToolFailed` naming `path`."""
    try:
        yield
    except WorkspaceUnavailableError:
        raise
    except (OSError, WorkspaceError) as error:
        raise ToolFailed(describe(error, path)) from error
