"""Memory: bootstrap files (TAU.md, AGENTS.md, CLAUDE.md with @imports and a byte cap) and working memory.

Two halves with different doors to the world:
- `bootstrap` reads host configuration files before a run, through an injected `HostFiles` (pure otherwise);
- `tool` is the `memory` tool and the index loader, which touch only the run's workspace.

Imports nothing from tau.tools, tau.runtime or tau.environment; the runtime composes what it returns.
"""

from tau.memory.bootstrap import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_IMPORT_DEPTH,
    BootstrapMemory,
    LoadedFile,
    find_project_root,
    load_bootstrap_memory,
)
from tau.memory.files import HostFiles, LocalFiles
from tau.memory.instructions import memory_instructions
from tau.memory.tool import (
    DEFAULT_MEMORY_DIR,
    INDEX_FILE,
    load_memory_index,
    memory_tool,
    memory_toolset,
    render_working_memory,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_IMPORT_DEPTH",
    "DEFAULT_MEMORY_DIR",
    "INDEX_FILE",
    "BootstrapMemory",
    "HostFiles",
    "LoadedFile",
    "LocalFiles",
    "find_project_root",
    "load_bootstrap_memory",
    "load_memory_index",
    "memory_instructions",
    "memory_tool",
    "memory_toolset",
    "render_working_memory",
]
