"""The pydantic-ai capability that loads on-demand memory when the file tools touch a path.

After a file tool call succeeds (`after_tool_execute`; a denied call — a `ToolDenied` result —, a failed or a retried
one touches nothing), the paths it named are mapped to host paths and handed to `OnDemandMemory.touch`; what they
newly trigger is enqueued with `ctx.enqueue(..., priority="asap")`, which pydantic-ai places in the request that
carries the call's result, right after it — the model reads the folder's CLAUDE.md or the matching rule together with
the file. It is also reported as an `info` notice (`memory loaded on demand for ...`), and cuts or refusals as
warnings.

Paths touched, per tool (the built-in names): `read`, `write`, `edit`, `multi_edit` — `file_path`; `glob`, `grep`,
`ls` — `path` (and glob's pattern up to its first wildcard: `src/api/**/*.ts` touches `src/api`). `bash` commands
are not parsed for paths.

Host paths: the workspace names paths in its own namespace (the container's in the docker sandbox). A path inside
the workspace's working directory maps onto the host workspace (`host_workspace`); elsewhere it maps only when the
two are the same directory (the host backend). Anything else touches nothing.

Resumed sessions: on its first touch the capability reads the session's history (`ctx.messages`) for notes an
earlier run enqueued (`OnDemandMemory.recall`), so nothing loads twice in one session.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolCallPart, UserPromptPart
from pydantic_ai.tools import ToolDefinition, ToolDenied

from tau.confine import inside
from tau.memory.ondemand import OnDemandMemory
from tau.protocol import Notice

__all__ = ["PATH_ARGUMENTS", "OnDemandMemoryCapability", "touched_paths"]

PATH_ARGUMENTS: dict[str, str] = {
    "read": "file_path",
    "write": "file_path",
    "edit": "file_path",
    "multi_edit": "file_path",
    "glob": "path",
    "grep": "path",
    "ls": "path",
}
_MAGIC = frozenset("*?[{")


def _static_prefix(pattern: str) -> str:
    """The leading folders of a glob pattern without wildcards (`src/api/**/*.ts` -> `src/api`)."""
    parts = pattern.split("/")
    static: list[str] = []
    while len(parts) > 1 and not any(char in _MAGIC for char in parts[0]):
        static.append(parts.pop(0))
    return "/".join(static) if static != [""] else "/"


def touched_paths(tool_name: str, args: dict[str, Any]) -> list[str]:
    """The paths (as the model wrote them) a successful call of `tool_name` with `args` touched."""
    argument = PATH_ARGUMENTS.get(tool_name)
    if argument is None:
        return []
    value = args.get(argument)
    paths = [value] if isinstance(value, str) and value else []
    pattern = args.get("pattern")
    if tool_name == "glob" and isinstance(pattern, str) and (prefix := _static_prefix(pattern)):
        paths.append(posixpath.join(paths[0], prefix) if paths else prefix)  # join keeps an absolute prefix
    return paths


def _context_texts(messages: Sequence[ModelMessage]) -> Iterator[str]:
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if not isinstance(part, UserPromptPart):
                continue
            if isinstance(part.content, str):
                yield part.content
            else:
                yield from (item for item in part.content if isinstance(item, str))


@dataclass
class OnDemandMemoryCapability(AbstractCapability[Any]):
    """Loads `memory`'s on-demand files when file tools touch paths (see the module docstring)."""

    memory: OnDemandMemory
    host_workspace: str
    emit: Callable[[Notice], object] | None = None
    _recalled: bool = field(default=False, init=False, repr=False)

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    async def _host_path(self, ctx: RunContext[Any], path: str) -> str | None:
        workspace = ctx.workspace
        resolved = await workspace.resolve(path)
        working_dir = posixpath.normpath(await workspace.working_dir())
        host_root = posixpath.normpath(self.host_workspace)
        if inside(resolved, working_dir):
            return posixpath.normpath(posixpath.join(host_root, posixpath.relpath(resolved, working_dir)))
        return resolved if working_dir == host_root else None

    def _say(self, level: str, message: str) -> None:
        if self.emit is not None:
            self.emit(Notice(level="info" if level == "info" else "warning", message=message))

    async def after_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: dict[str, Any],
        result: Any,
    ) -> Any:
        paths = touched_paths(call.tool_name, args)
        if not paths or isinstance(result, ToolDenied):  # a permission layer's denial is a result, not a raise
            return result
        if not self._recalled:
            self._recalled = True
            self.memory.recall(_context_texts(ctx.messages))
        for path in paths:
            host = await self._host_path(ctx, path)
            if host is None:
                continue
            note = self.memory.touch(host, trigger=path)
            for warning in note.warnings:
                self._say("warning", warning)
            if note.files:
                ctx.enqueue(note.render(), priority="asap")
                self._say("info", note.summary())
        return result
