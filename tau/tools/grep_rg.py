"""grep's ripgrep engine: `rg` run through `ctx.workspace.run` with an argv (no shell quoting involved).

Flags: `--hidden --glob '!.git' --sort path`; ripgrep's own ignore rules (`.gitignore` in git repositories) apply.
Modes map to `rg -l`, `rg -c --with-filename` and `rg --json` (parsed, so context lines and undecodable bytes are
exact). A regex ripgrep rejects is a `ModelRetry` with its message; output past the backend's cap is a `ToolFailed`.
Files rg cannot read (permissions, or paths the command sandbox masks) are skipped: exit 2 with matches elsewhere is
a result, and exit 2 with only per-path errors is "no matches", never a failed search.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, cast

from pydantic_ai import ModelRetry
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.workspaces import Workspace, WorkspaceOutputLimitError, WorkspaceTimeoutError

from tau.tools.grep_core import FileHits, GrepRequest, Line

_MODE_FLAGS = {"files_with_matches": ["-l"], "count": ["-c", "--with-filename"], "content": ["--json"]}


def rg_argv(request: GrepRequest) -> list[str]:
    argv = ["rg", "--hidden", "--glob", "!.git", "--sort", "path", "--color", "never", *_MODE_FLAGS[request.mode]]
    if request.ignore_case:
        argv.append("-i")
    if request.mode == "content":
        argv += ["-B", str(request.before), "-A", str(request.after)]
    if request.glob is not None:
        argv += ["--glob", request.glob]
    return [*argv, "-e", request.pattern, "--", request.root]


def _text(value: dict[str, Any]) -> str:
    if "text" in value:
        return cast(str, value["text"])
    return base64.b64decode(cast(str, value["bytes"])).decode("utf-8", errors="replace")


def _parse_json(stdout: str) -> list[FileHits]:
    files: dict[str, FileHits] = {}
    for raw in stdout.splitlines():
        message = cast(dict[str, Any], json.loads(raw))
        kind = message.get("type")
        if kind not in ("match", "context"):
            continue
        data = cast(dict[str, Any], message["data"])
        path = _text(cast(dict[str, Any], data["path"]))
        text = _text(cast(dict[str, Any], data["lines"])).removesuffix("\n").removesuffix("\r")
        hits = files.setdefault(path, FileHits(path=path, count=0))
        hits.lines.append(Line(cast(int, data["line_number"]), text, kind == "match"))
        hits.count += kind == "match"
    return list(files.values())


def _parse(stdout: str, request: GrepRequest) -> list[FileHits]:
    if request.mode == "content":
        return _parse_json(stdout)
    if request.mode == "count":
        pairs = (line.rsplit(":", 1) for line in stdout.splitlines() if line)
        return [FileHits(path=path, count=int(count)) for path, count in pairs]
    return [FileHits(path=line, count=1) for line in stdout.splitlines() if line]


_PATH_ERROR = re.compile(r"^.+: .+ \(os error \d+\)$")


def _only_path_errors(stderr: str) -> bool:
    """Whether rg's stderr holds only per-path errors (`<path>: Permission denied (os error 13)`), no usage error."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and all(_PATH_ERROR.match(line) for line in lines)


async def search_rg(workspace: Workspace, request: GrepRequest, *, timeout: float) -> list[FileHits]:
    try:
        result = await workspace.run(rg_argv(request), timeout=timeout)
    except WorkspaceTimeoutError as error:
        raise ToolFailed(f"grep timed out after {timeout:g}s; narrow the path or glob") from error
    except WorkspaceOutputLimitError as error:
        raise ToolFailed("grep produced too much output; narrow the pattern, path or glob") from error
    if result.exit_code == 1:
        return []
    if result.exit_code == 2 and "regex parse error" in result.stderr:
        raise ModelRetry(f"Invalid regular expression {request.pattern!r}:\n{result.stderr.strip()}")
    if result.exit_code == 2 and not result.stdout and _only_path_errors(result.stderr):
        return []  # every match candidate was unreadable (or masked): nothing found, not a failed search
    if result.exit_code not in (0, 2) or (result.exit_code == 2 and not result.stdout):
        raise ToolFailed(f"grep failed (rg exit code {result.exit_code}): {result.stderr.strip()}")
    return _parse(result.stdout, request)
