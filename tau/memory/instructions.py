"""The memory part of a run's instructions, composed in one place so `tau memory show` prints what a run loads.

Order: bootstrap memory sections (broadest first), then the working-memory guidance and index. Either part may be
absent: no bootstrap files renders nothing; `working_memory=False` (no `memory` tool in the run) leaves out the
guidance and index.
"""

from __future__ import annotations

from tau.memory.bootstrap import BootstrapMemory
from tau.memory.tool import DEFAULT_MEMORY_DIR, render_working_memory

__all__ = ["memory_instructions"]


def memory_instructions(
    bootstrap: BootstrapMemory,
    index: str | None,
    *,
    working_memory: bool = True,
    memory_dir: str = DEFAULT_MEMORY_DIR,
) -> str:
    """The instructions text for memory; "" when there is nothing to say."""
    parts = [bootstrap.render()]
    if working_memory:
        parts.append(render_working_memory(index, memory_dir))
    return "\n\n".join(part for part in parts if part)
