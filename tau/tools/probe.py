"""ProgramProbe: whether the workspace has a program (`bash`, `rg`), asked once per workspace through `run`.

Answers are cached by the workspace's ref for the life of the probe (one per built toolset); a workspace without a
ref yet is asked every time. Concurrent callers wait for one probe.
"""

from __future__ import annotations

import shlex

import anyio
from pydantic_ai.workspaces import Workspace, WorkspaceRef

_PROBE_TIMEOUT = 30.0


class ProgramProbe:
    def __init__(self, program: str) -> None:
        self.program = program
        self._answers: dict[WorkspaceRef, bool] = {}
        self._lock = anyio.Lock()  # parallel tool calls share one probe

    async def available(self, workspace: Workspace) -> bool:
        async with self._lock:
            return await self._available(workspace)

    async def _available(self, workspace: Workspace) -> bool:
        ref = workspace.ref
        if ref is not None and ref in self._answers:
            return self._answers[ref]
        result = await workspace.run(
            f"command -v {shlex.quote(self.program)} >/dev/null 2>&1", shell=True, timeout=_PROBE_TIMEOUT
        )
        answer = result.exit_code == 0
        ref = workspace.ref  # a backend that creates its environment on first use has a ref only now
        if ref is not None:
            self._answers[ref] = answer
        return answer
