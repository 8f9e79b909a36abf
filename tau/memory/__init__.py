"""Memory: bootstrap files (TAU.md, AGENTS.md, CLAUDE.md, .claude/rules with @imports and a byte cap), memory loaded
on demand, and working memory.

Three parts with different doors to the world:
- `bootstrap` (with `loader`, `rules`, `imports`, `pathglobs`) reads host configuration files before a run, through
  an injected `HostFiles` (pure otherwise);
- `ondemand` reads the same kind of files during a run, when the file tools first touch a path that a `paths:` rule
  matches or that lies under a folder with its own memory files; `capability` is the pydantic-ai capability that
  notices those touches and enqueues the files for the model (the runtime adds it to the agent);
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
from tau.memory.ondemand import OnDemandMemory, OnDemandNote
from tau.memory.rules import ConditionalRule
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
    "ConditionalRule",
    "HostFiles",
    "LoadedFile",
    "LocalFiles",
    "OnDemandMemory",
    "OnDemandNote",
    "find_project_root",
    "load_bootstrap_memory",
    "load_memory_index",
    "memory_instructions",
    "memory_tool",
    "memory_toolset",
    "render_working_memory",
]
