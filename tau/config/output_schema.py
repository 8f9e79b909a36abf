"""Structured-output schemas: load (inline object or file) and check that they are valid JSON Schema.

A schema file is JSON, or YAML when it ends in `.yaml`/`.yml`; relative paths resolve against the directory of the file
that named them (the process cwd for `--output-schema` and `TAU_OUTPUT_SCHEMA`). The check uses `jsonschema`'s
meta-schema validation when that package is importable (imported lazily, only when a schema is given), otherwise a
structural check of the keywords that matter (`type`, `properties`, `required`, `items`). The schema must be an object.

Beyond validity, the schema must be one pydantic-ai can turn into an output tool (`usable_problem`): the answer is an
object (`"type": "object"`, or a `$ref` to an object in `$defs`), and every `$ref` points into the schema's own root
`$defs` (`#/$defs/name`) — pydantic resolves nothing else (no `#`, `#/properties/...`, `definitions` or URLs), and a
schema it cannot resolve would otherwise fail the run after it started.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tau.config.documents import load_json, load_yaml
from tau.config.jobfile import read_text_file
from tau.config.paths import user_path
from tau.errors import ConfigError

_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
FIELD = "output.schema"


def load_schema(value: object, *, base_dir: Path, source: str) -> tuple[dict[str, Any], str]:
    """(checked schema, where it came from) for an inline mapping or a path string."""
    if isinstance(value, Mapping):
        schema = dict(value)
        check_schema(schema, source=source, field=FIELD)
        return schema, source
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must be a JSON Schema object or the path of a schema file", source=source, field=FIELD)
    path = user_path(value, base_dir=base_dir, source=source, field=FIELD)
    try:
        text = read_text_file(path, source=value, what="file")
        loader = load_yaml if path.suffix in (".yaml", ".yml") else load_json
        loaded = loader(text, source=value)
    except ConfigError as exc:
        problem = str(exc).replace("invalid JSON", "not valid JSON").replace("invalid YAML", "not valid YAML")
        raise ConfigError(f"schema file {problem}", source=source, field=FIELD) from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"schema file {value}: must be a JSON object", source=source, field=FIELD)
    check_schema(loaded, source=source, field=FIELD, prefix=f"schema file {value}: ")
    return loaded, str(path)


def check_schema(schema: dict[str, Any], *, source: str, field: str | None, prefix: str = "") -> None:
    """Raise ConfigError unless `schema` is a valid JSON Schema (draft per its `$schema`, default 2020-12) that
    pydantic-ai can use for a structured answer (`usable_problem`)."""
    try:
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        problem = _structural_problem(schema, "")
    else:
        problem = _jsonschema_problem(jsonschema, schema)
    if problem:
        raise ConfigError(f"{prefix}invalid JSON Schema: {problem}", source=source, field=field)
    problem = usable_problem(schema)
    if problem:
        raise ConfigError(f"{prefix}{problem}", source=source, field=field)


_LOCAL_REF = re.compile(r"#/\$defs/([^/]+)")


def _refs(value: object) -> Iterator[str]:
    """Every string `$ref` in a schema, however deep (iterative: the document is bounded but may be wide)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def usable_problem(schema: Mapping[str, Any]) -> str | None:
    """Why pydantic-ai could not build a structured answer from `schema` (see the module docstring), or None."""
    defs = schema.get("$defs")
    defs = defs if isinstance(defs, Mapping) else {}
    for ref in _refs(schema):
        match = _LOCAL_REF.fullmatch(ref)
        name = match.group(1).replace("~1", "/").replace("~0", "~") if match else None
        if name is None or name not in defs:
            return f"$ref {ref[:80]!r} must point into the schema's own $defs (#/$defs/<name>, a name defined there)"
    root: object = schema
    top_ref = schema.get("$ref")
    if isinstance(top_ref, str):
        root = defs.get(top_ref.removeprefix("#/$defs/"), {})
    if not isinstance(root, Mapping) or root.get("type") != "object":
        return 'the answer must be a JSON object: give the schema "type": "object" (put a single value in a property)'
    return None


def _jsonschema_problem(jsonschema: Any, schema: dict[str, Any]) -> str | None:
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(validator(validator.META_SCHEMA).iter_errors(schema))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or '<root>'}: {error.message}"


def _structural_problem(schema: object, where: str) -> str | None:
    """Minimal fallback check (no jsonschema): the keywords tau relies on have the right shapes."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"{where or '<root>'}: a schema must be an object or a boolean"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for item in kinds:
        if item not in _TYPES:
            return f"{where or '<root>'}: {item!r} is not a valid type"
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return f"{where or '<root>'}: 'required' must be a list of strings"
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return f"{where or '<root>'}: 'properties' must be an object"
    children = [(f"{where}/properties/{name}", sub) for name, sub in properties.items()]
    if "items" in schema:
        children.append((f"{where}/items", schema["items"]))
    for child_where, child in children:
        problem = _structural_problem(child, child_where.lstrip("/"))
        if problem:
            return problem
    return None
