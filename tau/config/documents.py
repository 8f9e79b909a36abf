"""The one door for untrusted structured text: YAML, TOML and JSON documents parsed into plain, bounded data.

Every job-file frontmatter, `config.toml`, output schema, `.mcp.json` and inline `--mcp-config` JSON is parsed here;
every settings layer (also `TAU_*` variables and flags) passes `check_tree`. Each function raises nothing but
`ConfigError` (exit 2, one line naming the source and the field): a syntax error, a number Python refuses to convert
(over 4,300 digits, a timestamp like 2024-13-45), a parser's RecursionError — all become one line.

What comes out (`check_tree` enforces it on any value, however it was built):

- containers nested at most `MAX_DEPTH` deep, and at most `MAX_NODES` values counted as a walk sees them (a YAML
  alias reached twice counts twice, so an alias bomb is refused instead of expanded later by validation or JSON);
- only dict, list, str, int, float, bool, None and date/time values (YAML's `!!binary` bytes or `!!set` are refused);
- floats finite, ints within 64 bits (±9.2e18): no setting means more, and JSON consumers can hold them;
- strings (keys too) that UTF-8 can encode (no lone surrogates from `\\ud800` escapes) and hold no NUL character.

Pure: no I/O (callers read files with `jobfile.read_text_file`).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

import yaml

from tau.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_NODES", "check_text", "check_tree", "load_json", "load_toml", "load_yaml", "tree_problem"]

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_INT = 2**63 - 1
_SCALARS = (str, bool, int, float, type(None), date, datetime, time)
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def check_text(text: str) -> str | None:
    """Why `text` cannot be a config string (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"is not valid Unicode text (lone surrogate {text[error.start]!r} at position {error.start})"
    return None


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, date | time):
        return None
    if isinstance(value, int):
        return None if -MAX_INT <= value <= MAX_INT else "integer out of range (at most 9223372036854775807)"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    return f"unsupported value of type {type(value).__name__}"


def _field(path: list[str]) -> str | None:
    if not path:
        return None
    shown = path if len(path) <= 6 else [*path[:6], "…"]
    return ".".join(shown)


def tree_problem(value: object) -> tuple[str | None, str] | None:
    """(dotted field, problem) for the first thing in `value` that breaks the module's invariants, or None."""
    budget = [MAX_NODES]
    return _walk(value, [], budget)


def _walk(value: object, path: list[str], budget: list[int]) -> tuple[str | None, str] | None:
    budget[0] -= 1
    if budget[0] < 0:
        return _field(path[:1]), f"more than {MAX_NODES} values (YAML aliases count each time they are used)"
    if isinstance(value, Mapping):
        items: list[tuple[object, object]] = list(value.items())
    elif isinstance(value, list | tuple):
        items = [(index, item) for index, item in enumerate(value)]
    else:
        problem = _scalar_problem(value) if isinstance(value, _SCALARS) else None
        if problem is None and not isinstance(value, _SCALARS):
            problem = f"unsupported value of type {type(value).__name__}"
        return None if problem is None else (_field(path), problem)
    if len(path) >= MAX_DEPTH:
        return _field(path), _TOO_DEEP
    for key, item in items:
        key_problem = _scalar_problem(key) if isinstance(key, _SCALARS) else "unsupported key"
        if key_problem is not None:
            return _field(path), f"key {_shown(key)} {key_problem}"
        found = _walk(item, [*path, str(key)], budget)
        if found is not None:
            return found
    return None


def _shown(key: object) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:39] + "…"


def check_tree(value: object, *, source: str, field: str | None = None) -> None:
    """Raise ConfigError (naming `source` and the dotted field below `field`) unless `value` keeps the invariants."""
    found = tree_problem(value)
    if found is not None:
        where, problem = found
        raise ConfigError(problem, source=source, field=".".join(p for p in (field, where) if p) or None)


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:200] + "…" if len(text) > 200 else text) or type(error).__name__


def _yaml_problem(error: yaml.YAMLError, first_line: int) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or _first_line(error)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + first_line}, column {mark.column + 1}: {problem}"


def load_yaml(text: str, *, source: str, what: str = "YAML", first_line: int = 1) -> Any:
    """`yaml.safe_load(text)`, checked; `first_line` is the file line the text starts on (for error marks)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error, first_line).replace("YAML", what, 1), source=source) from None
    except RecursionError:
        raise ConfigError(f"invalid {what}: {_TOO_DEEP}", source=source) from None
    except (ValueError, TypeError, OverflowError) as error:  # int() of 5,000 digits, a date like 2024-13-45
        raise ConfigError(f"invalid {what}: {_first_line(error)}", source=source) from None
    check_tree(data, source=source)
    return data


def load_toml(text: str, *, source: str) -> dict[str, Any]:
    """`tomllib.loads(text)`, checked."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"invalid TOML: {_TOO_DEEP}", source=source) from None
    except ValueError as error:  # TOMLDecodeError, and int() of 5,000 digits
        raise ConfigError(f"invalid TOML: {_first_line(error)}", source=source) from None
    check_tree(data, source=source)
    return data


def load_json(text: str, *, source: str) -> Any:
    """`json.loads(text)`, checked (`NaN`/`Infinity` literals are refused like `1e999`)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ConfigError(f"invalid JSON: {_TOO_DEEP}", source=source) from None
    except ValueError as error:  # JSONDecodeError, and int() of 5,000 digits
        raise ConfigError(f"invalid JSON: {_first_line(error)}", source=source) from None
    check_tree(data, source=source)
    return data
