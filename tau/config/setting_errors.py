"""One-line settings errors: a pydantic `ValidationError` of a settings layer (or any config model) rendered as
`<source>: <dotted.field>: <problem>` (`config_error`), unknown keys with a difflib suggestion (`suggest`, which also
turns kebab-case into the snake_case key it meant). Pure. Split out of `settings` (which re-exports both).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ValidationError

from tau.errors import ConfigError

__all__ = ["config_error", "suggest"]


def suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close and "-" in word and word.replace("-", "_") in choices:
        close = [word.replace("-", "_")]
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- one-line errors ---------------------------------------------------------------------------------------------


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _keys_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The valid keys of the model reached by following `loc` from `root` (dict values are followed through)."""
    model: type[BaseModel] | None = root
    annotation: object = None
    for part in loc:
        if model is not None:
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            annotation, model = field.annotation, None
            nested = _model_in(annotation)
            origin = typing.get_origin(annotation)
            if nested is not None and origin not in (dict, list):
                model = nested
        else:  # a dict key or list index: step into the value type
            model = _model_in(annotation)
    return [f.alias or n for n, f in model.model_fields.items()] if model is not None else []


def _describe_input(value: object) -> str:
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        return f" (got {value!r})"
    return ""


def config_error(
    exc: ValidationError,
    *,
    root: type[BaseModel],
    source: str,
    origins: Mapping[str, str] | None = None,
) -> ConfigError:
    """ONE line for a pydantic error: `<source>: <dotted.field>: <problem>`; `origins` maps dotted fields to sources."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [part for part in first["loc"] if not isinstance(part, str) or not part.startswith("function-")]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden" and loc:
        parent, key = loc[:-1], str(loc[-1])
        field = ".".join(str(p) for p in parent) or None
        problem = f"unknown key {key!r}{suggest(key, _keys_at(root, parent))}"
    elif first["type"] == "invalid_key":
        field = ".".join(str(p) for p in loc[:-1]) or None
        problem = f"keys must be strings (got {loc[-1]!r})" if loc else "keys must be strings"
    else:
        field = ".".join(str(p) for p in loc) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        problem = message + _describe_input(first.get("input")) if first["type"] != "value_error" else message
    where = (origins or {}).get(field or "", source)
    return ConfigError(problem + more, source=where, field=field)
