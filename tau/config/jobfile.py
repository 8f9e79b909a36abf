"""Job documents: markdown with optional YAML frontmatter, and `{{ name }}` prompt variables.

A document starts with a `---` line to have frontmatter; the frontmatter ends at the next `---` (or `...`) line and must
be a YAML mapping (parsed by `documents.load_yaml`: bounded, ConfigError only). Everything after it is the prompt
body. Without a leading `---` the whole text is the body.

Templates: `{{name}}` / `{{ name }}` is replaced by the variable's value; a name with no value is a ConfigError naming
it. `\\{{` is an escape that yields a literal `{{`. Anything else in braces (`{{ a b }}`, `{{#if}}`) is left as written.
Substitution is one pass: values are never re-expanded.

Only `read_job_file` touches the filesystem; the rest is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.config.documents import load_yaml
from tau.config.paths import user_path
from tau.confine import path_problem
from tau.errors import ConfigError

_TEMPLATE = re.compile(r"\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")
MAX_FILE_BYTES = 16 * 2**20
_OPEN = "---"
_CLOSE = ("---", "...")


@dataclass(frozen=True)
class JobDocument:
    """A parsed job: where it came from, the directory its relative paths resolve against, settings and prompt."""

    source: str
    base_dir: Path
    body: str
    frontmatter: Mapping[str, Any] = field(default_factory=dict)


def split_frontmatter(text: str, *, source: str) -> tuple[dict[str, Any], str]:
    """(frontmatter mapping, body). Raises ConfigError for unterminated, invalid or non-mapping frontmatter."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _OPEN:
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in _CLOSE), None)
    if end is None:
        raise ConfigError("frontmatter opened with '---' on line 1 is never closed with '---'", source=source)
    data = load_yaml("".join(lines[1:end]), source=source, what="YAML frontmatter", first_line=2)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"frontmatter must be a mapping of settings, got {_yaml_type(data)}", source=source)
    return data, "".join(lines[end + 1 :])


def _yaml_type(value: object) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def parse_job_text(text: str, *, source: str, base_dir: Path, frontmatter: bool = True) -> JobDocument:
    """Parse a job document (frontmatter optional). With `frontmatter=False` the text is the prompt verbatim."""
    if not frontmatter:
        return JobDocument(source=source, base_dir=base_dir, body=text)
    data, body = split_frontmatter(text, source=source)
    return JobDocument(source=source, base_dir=base_dir, body=body, frontmatter=data)


def read_text_file(path: Path, *, source: str, what: str = "file") -> str:
    """UTF-8 text of `path` (BOM tolerated), or a one-line ConfigError saying why it cannot be read. Files over
    `MAX_FILE_BYTES` are refused (`tau run /dev/zero` must not fill the memory)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(f"{what} is larger than {MAX_FILE_BYTES // 2**20} MiB", source=source)
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", source=source) from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory, not a file", source=source) from None
    except PermissionError:
        raise ConfigError(f"cannot read {what}: permission denied", source=source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not valid UTF-8 (byte {exc.start})", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", source=source) from None
    except ValueError:  # an embedded NUL byte: callers check paths first (`paths.user_path`)
        raise ConfigError(f"cannot read {what}: the path holds a NUL byte", source=source) from None


def read_job_file(path: str, *, cwd: Path) -> JobDocument:
    """Read and parse the job file `path` (relative to `cwd`); `source` in errors is the path as the user wrote it."""
    source = path if path_problem(path) is None else "job file"
    resolved = user_path(path, base_dir=cwd, source=source)
    text = read_text_file(resolved, source=source, what="job file")
    return parse_job_text(text, source=source, base_dir=resolved.parent)


def template_names(text: str) -> list[str]:
    """Variable names the template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in _TEMPLATE.finditer(text):
        if match.group(1):
            seen.setdefault(match.group(1))
    return list(seen)


def render_template(text: str, variables: Mapping[str, str], *, source: str, field: str = "prompt") -> str:
    """Fill `{{ name }}` from `variables`; a missing name is a ConfigError listing every missing one."""
    missing = [name for name in template_names(text) if name not in variables]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        hint = " ".join(f"--var {name}=..." for name in missing)
        problem = f"missing variable {names}: pass {hint} or set a default under 'vars:'"
        raise ConfigError(problem, source=source, field=field)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return "{{" if name is None else variables[name]

    return _TEMPLATE.sub(fill, text)
