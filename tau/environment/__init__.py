"""Workspace backends: where a run's commands and file operations happen (DESIGN.md §1 principle 2).

`HostBackend` confines file operations to a directory on this machine; a docker backend will sit beside it. Both are
pydantic-ai `WorkspaceBackend`s, so tools see them only as `ctx.workspace`.
"""

from __future__ import annotations

from tau.environment.host import HostBackend

__all__ = ["HostBackend"]
