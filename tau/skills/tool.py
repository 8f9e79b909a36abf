"""The `skill` tool: level 2 (a skill's SKILL.md body and its file list) and level 3 for skills outside the workspace.

`skill(name, arguments=None)` returns the body (as parsed at discovery; `${CLAUDE_SKILL_DIR}`, `${CLAUDE_SKILL_ROOT}`
and `${TAU_SKILL_DIR}` replaced by the directory the model can use; `$ARGUMENTS` by `arguments`, which are appended
as an `ARGUMENTS:` line when the body does not use them, as Claude Code does) wrapped in `<skill name=...
directory=...>`, then the skill's other files (at most `MAX_LISTED_FILES`, hidden entries, `node_modules` and
`__pycache__` left out, depth <= `MAX_DEPTH`).

Activation (`SkillBinding`, filled in by the runtime, which owns permissions and subagents): a skill with `context:
fork` is handed to `binding.fork` with its rendered body as the prompt, and the subagent's answer is the result
(None from `fork`: it cannot fork here, the skill loads inline); an inline skill is passed to `binding.activate`,
whose lines (what its `allowed-tools` pre-approved, or why not) follow the body. Without a binding, every skill
loads inline and nothing is pre-approved.

Where the files are read from:
- A skill inside the workspace (`Skill.workspace_dir` set) is listed and read through `ctx.workspace`, with paths
  relative to the workspace, so the model reads its resources with the normal `read` tool; this works in the docker
  sandbox as well (relative paths resolve in the container's workspace).
- A skill outside the workspace (user-level `~/.claude/skills`, or a project root above the workspace) cannot be
  reached by `read`: workspace confinement refuses it, and in the sandbox it does not exist. The result says so,
  gives the absolute host path, and the model reads its files with `skill(name, file=...)`, served from the host
  through the catalog's `SkillFiles`, confined to that skill's directory (symlinks resolved) and to text files.

Unknown or model-disabled skills and bad `file` paths are `ToolFailed` results the model can act on.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import Tool
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.workspaces import Workspace, WorkspaceError, WorkspaceUnavailableError

from tau.confine import inside, path_problem
from tau.skills.catalog import SKILL_FILE, Skill, SkillCatalog
from tau.tool_schemas import cached_tool

__all__ = [
    "DIRECTORY_VARIABLES",
    "MAX_FILE_CHARS",
    "MAX_LISTED_FILES",
    "Activate",
    "Fork",
    "SkillBinding",
    "render_body",
    "skill_tool",
    "skills_toolset",
]

MAX_LISTED_FILES = 100
MAX_DEPTH = 4
MAX_FILE_CHARS = 100_000
_SKIP = {"node_modules", "__pycache__"}

DIRECTORY_VARIABLES = ("${CLAUDE_SKILL_DIR}", "${CLAUDE_SKILL_ROOT}", "${TAU_SKILL_DIR}")
_ARGUMENT_VARIABLES = ("${ARGUMENTS}", "$ARGUMENTS")

Lister = Callable[[str], Awaitable[list[tuple[str, bool]]]]
Activate = Callable[[RunContext[None], Skill], list[str]]
"""Called when an inline skill loads; returns lines for the result (what it pre-approved, or why not)."""
Fork = Callable[[RunContext[None], Skill, str], Awaitable[str | None]]
"""Runs a `context: fork` skill in a subagent with the given prompt; the subagent's answer, or None (load inline)."""


@dataclass
class SkillBinding:
    """The catalog a run's `skill` tool serves and the runtime's activation callbacks (set after the tool is built:
    the permission layer and the subagent machinery exist only later)."""

    catalog: SkillCatalog
    activate: Activate | None = None
    fork: Fork | None = None


def render_body(skill: Skill, directory: str, arguments: str | None = None) -> str:
    """The skill's body with its directory variables set to `directory` and `$ARGUMENTS` to `arguments`."""
    body = skill.body
    for variable in DIRECTORY_VARIABLES:
        body = body.replace(variable, directory)
    if arguments is None or not arguments.strip():
        return body.strip()
    if any(variable in body for variable in _ARGUMENT_VARIABLES):
        for variable in _ARGUMENT_VARIABLES:
            body = body.replace(variable, arguments.strip())
        return body.strip()
    return f"{body.strip()}\n\nARGUMENTS: {arguments.strip()}"


async def _walk(list_dir: Lister, directory: str, prefix: str = "", depth: int = 1) -> list[str]:
    """Relative paths of the files under `directory`, sorted, depth-first, at most MAX_LISTED_FILES + 1."""
    found: list[str] = []
    for name, is_dir in sorted(await list_dir(directory)):
        if name.startswith(".") or name in _SKIP or (not prefix and name == SKILL_FILE):
            continue
        relative = f"{prefix}{name}"
        if is_dir and depth < MAX_DEPTH:
            found.extend(await _walk(list_dir, posixpath.join(directory, name), f"{relative}/", depth + 1))
        elif not is_dir:
            found.append(relative)
        if len(found) > MAX_LISTED_FILES:
            break
    return found


def _workspace_lister(workspace: Workspace) -> Lister:
    async def list_dir(path: str) -> list[tuple[str, bool]]:
        return [(entry.name, entry.is_dir) for entry in await workspace.list_dir(path)]

    return list_dir


def _host_lister(catalog: SkillCatalog) -> Lister:
    async def list_dir(path: str) -> list[tuple[str, bool]]:
        names = catalog.files.list_dir(path)
        return [(name, catalog.files.is_dir(posixpath.join(path, name))) for name in names]

    return list_dir


def _relative_file(file: str) -> str:
    problem = path_problem(file)
    if problem is not None:
        raise ToolFailed(f"Refused: file {problem}.")
    path = posixpath.normpath(file.strip())
    if not file.strip() or posixpath.isabs(path) or path == ".." or path.startswith("../"):
        raise ToolFailed(f"file must be a path relative to the skill's directory, inside it (got {file!r}).")
    return path


def _decode(data: bytes, shown: str) -> str:
    if b"\x00" in data[:8192]:
        raise ToolFailed(f"{shown} is a binary file; its contents are not shown.")
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_FILE_CHARS:
        return text[:MAX_FILE_CHARS] + f"\n[truncated: {len(text)} characters, showing the first {MAX_FILE_CHARS}]"
    return text


class _SkillAccess:
    """Listing and reading one skill's files, through the workspace or (outside it) through the host view."""

    def __init__(self, catalog: SkillCatalog, skill: Skill, workspace: Workspace) -> None:
        self.catalog = catalog
        self.skill = skill
        self.workspace = workspace

    @property
    def shown_dir(self) -> str:
        return self.skill.workspace_dir or self.skill.directory

    async def files(self) -> list[str]:
        try:
            if self.skill.workspace_dir is not None:
                directory = await self.workspace.resolve(self.skill.workspace_dir)
                return await _walk(_workspace_lister(self.workspace), directory)
            return await _walk(_host_lister(self.catalog), self.skill.directory)
        except WorkspaceUnavailableError:
            raise
        except (OSError, WorkspaceError):
            return []

    async def read(self, file: str) -> str:
        relative = _relative_file(file)
        shown = posixpath.join(self.shown_dir, relative)
        try:
            if self.skill.workspace_dir is not None:
                data = await self._read_workspace(relative, shown)
            else:
                data = self._read_host(relative, shown)
        except WorkspaceUnavailableError:
            raise
        except FileNotFoundError as error:
            raise ToolFailed(f"{shown} does not exist.") from error
        except (OSError, WorkspaceError) as error:
            raise ToolFailed(f"Cannot read {shown}: {getattr(error, 'strerror', None) or error}") from error
        return _decode(data, shown)

    async def _read_workspace(self, relative: str, shown: str) -> bytes:
        directory = await self.workspace.resolve(self.shown_dir)
        path = posixpath.join(directory, relative)
        if not inside(await self.workspace.realpath(path), await self.workspace.realpath(directory)):
            raise ToolFailed(f"Refused: {shown} leads outside the skill's directory.")
        return await self.workspace.read_bytes(path)

    def _read_host(self, relative: str, shown: str) -> bytes:
        fs = self.catalog.files
        path = posixpath.join(self.skill.directory, relative)
        if not inside(fs.realpath(path), fs.realpath(self.skill.directory)):
            raise ToolFailed(f"Refused: {shown} leads outside the skill's directory.")
        return fs.read_bytes(path)


def _render(skill: Skill, access: _SkillAccess, files: list[str], arguments: str | None) -> str:
    directory = access.shown_dir
    body = render_body(skill, directory, arguments)
    parts = [f'<skill name="{skill.name}" directory="{directory}">\n{body}\n</skill>']
    shown = files[:MAX_LISTED_FILES]
    more = " (first 100 shown)" if len(files) > MAX_LISTED_FILES else ""
    if skill.workspace_dir is not None:
        parts.append(f"The skill's directory is {directory} (relative to the workspace).")
        if shown:
            listing = "\n".join(f"- {posixpath.join(directory, name)}" for name in shown)
            parts.append(
                f"Its other files{more}; read them with the read tool when the instructions call for them:\n{listing}"
            )
    else:
        parts.append(
            f"This skill is installed outside the workspace, at {directory}; the read tool cannot reach it. "
            f'Read its files with skill(name="{skill.name}", file="<path relative to the skill directory>").'
        )
        if shown:
            parts.append(f"Its other files{more}:\n" + "\n".join(f"- {name}" for name in shown))
    return "\n\n".join(parts)


def skill_tool(catalog: SkillCatalog, binding: SkillBinding | None = None) -> Tool[None]:
    """The `skill` tool over `catalog` (activation through `binding`, when given)."""

    async def skill(ctx: RunContext[None], name: str, arguments: str | None = None, file: str | None = None) -> str:
        """Load a skill: its full instructions and the list of its files.

        Call this before doing a task that matches one of the skills listed in your instructions, then follow
        the instructions it returns. Some skills run on their own as a subagent and return its answer. With
        `file`, return that file of the skill instead (a path relative to the skill's directory); use this for
        skills installed outside the workspace, the read tool for the others.

        Args:
            name: The skill's name, exactly as listed.
            arguments: Optional arguments for the skill (what its listing says it takes).
            file: Optional path of one of the skill's files, relative to its directory.
        """
        found = catalog.get(name)
        if found is None or not found.meta.model_invocable:
            available = ", ".join(item.name for item in catalog.model_skills) or "(none)"
            raise ToolFailed(f"No skill named {name!r}. Available skills: {available}.")
        access = _SkillAccess(catalog, found, ctx.workspace)
        if file is not None:
            return await access.read(file)
        if found.meta.fork and binding is not None and binding.fork is not None:
            answer = await binding.fork(ctx, found, render_body(found, access.shown_dir, arguments))
            if answer is not None:
                return answer
        text = _render(found, access, await access.files(), arguments)
        notes = binding.activate(ctx, found) if binding is not None and binding.activate is not None else []
        return "\n\n".join([text, *notes])

    return cached_tool(skill, name="skill")


def skills_toolset(
    catalog: SkillCatalog, *, binding: SkillBinding | None = None, max_retries: int = 3
) -> FunctionToolset[None]:
    """A toolset holding the one `skill` tool over `catalog` (empty when the catalog offers no skill to the model)."""
    tools = [skill_tool(catalog, binding)] if catalog.model_skills else []
    return FunctionToolset[None](tools, max_retries=max_retries)
