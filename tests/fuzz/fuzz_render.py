"""Render fuzzed values as YAML (flow style), TOML and JSON text — including what a serializer would refuse to write.

A value may hold `Deep` markers (nesting far past Python's recursion limit is written as text, never built as
objects), lone surrogates (written as `\\uD800` escapes the parsers turn back into lone surrogates), NUL and other
control characters (escaped, or raw when `raw=True` to hit the readers' own checks), non-finite floats (`.inf`,
`inf`, `Infinity`) and integers of any size.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deep:
    """`levels` nested lists (or mappings) around `leaf`, rendered as text."""

    levels: int
    mapping: bool = False
    leaf: Any = 1


_BARE_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _escape(text: str, *, raw: bool) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif 0xD800 <= code <= 0xDFFF or (
            (code < 0x20 or 0x7F <= code <= 0x9F or code in (0xFFFE, 0xFFFF)) and not raw
        ):
            out.append(f"\\u{code:04X}")  # YAML, TOML and JSON all read \uXXXX
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _float(value: float, *, kind: str) -> str:
    if math.isnan(value):
        return {"yaml": ".nan", "toml": "nan", "json": "NaN"}[kind]
    if math.isinf(value):
        sign = "-" if value < 0 else ""
        return sign + {"yaml": ".inf", "toml": "inf", "json": "Infinity"}[kind]
    text = repr(value)
    if kind == "yaml" and "." not in text:  # PyYAML (YAML 1.1) reads `1e+308` as a string
        text = text.replace("e", ".0e", 1)
    return text


def _deep(deep: Deep, kind: str, raw: bool) -> str:
    leaf = render(deep.leaf, kind, raw=raw)
    if not deep.mapping:
        return "[" * deep.levels + leaf + "]" * deep.levels
    opener = {"yaml": "{k: ", "toml": "{k = ", "json": '{"k": '}[kind]
    return opener * deep.levels + leaf + "}" * deep.levels


def render(value: Any, kind: str, *, raw: bool = False) -> str:
    """`value` as one inline YAML / TOML / JSON value (`kind`: yaml, toml, json)."""
    if isinstance(value, Deep):
        return _deep(value, kind, raw)
    if value is None:
        return {"yaml": "null", "toml": '"null"', "json": "null"}[kind]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value, kind=kind)
    if isinstance(value, str):
        return _escape(value, raw=raw)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(item, kind, raw=raw) for item in value) + "]"
    if isinstance(value, dict):
        sep = " = " if kind == "toml" else ": "
        return (
            "{"
            + ", ".join(key_text(key, kind, raw) + sep + render(item, kind, raw=raw) for key, item in value.items())
            + "}"
        )
    return json.dumps(str(value))


def key_text(key: Any, kind: str, raw: bool = False) -> str:
    if kind == "toml":
        text = str(key)
        return text if _BARE_TOML_KEY.fullmatch(text) else _escape(text, raw=raw)
    if kind == "json":
        return _escape(str(key), raw=raw)
    return render(key, kind, raw=raw) if isinstance(key, str) else render(key, "yaml")


def yaml_document(data: dict[Any, Any], *, raw: bool = False) -> str:
    """A block mapping of flow values: `key: value` per line."""
    return "".join(f"{key_text(key, 'yaml', raw)}: {render(value, 'yaml', raw=raw)}\n" for key, value in data.items())


def toml_document(data: dict[Any, Any], *, raw: bool = False) -> str:
    """Top-level keys with inline values; tables as `[name]` sections of inline values."""
    lines = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            tables.append((key, value))
        else:
            lines.append(f"{key_text(key, 'toml', raw)} = {render(value, 'toml', raw=raw)}")
    for key, table in tables:
        lines.append(f"[{key_text(key, 'toml', raw)}]")
        lines += [f"{key_text(k, 'toml', raw)} = {render(v, 'toml', raw=raw)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def json_document(data: Any, *, raw: bool = False) -> str:
    return render(data, "json", raw=raw)
