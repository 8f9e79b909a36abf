"""Command-line options as getopt / getopt_long read them: `OptionSpec` and `parse_options`.

Owns one parser for the two places that must understand a program's options: wrappers (`env -u X`, `timeout -s
KILL 5`, ...) and the read-only allowlist (`ls -la`, `sort -k2 -r`). Options outside the spec are never skipped:
`parse_options` raises `Unprovable`, and the caller asks (a wrapper) or says "not read-only" (the allowlist).

A word in an option position whose value is not static (`$x`, `*`) could be any option, so it is refused too.
Short options cluster (`-la`), a short option taking a value takes the rest of its cluster or the next word (`-n5`,
`-n 5`), a long one `--name=value` or the next word; `optional` options take only an attached value (`--color`,
`--color=never`, `-i{}`). `--` ends the options; `-` alone is an operand. With `permute` (GNU's default for most
programs) options may follow operands (`ls src -la`); without it the first operand ends them (wrappers: `env -i ls
-la` gives `ls -la` to ls). Abbreviated long options are refused: getopt_long
would expand `--pre` to whichever option of the real program it prefixes, which this table cannot know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tau.permissions.shell_words import Unprovable, Word

__all__ = ["OptionSpec", "Parsed", "parse_options"]


@dataclass(frozen=True)
class OptionSpec:
    """`flags` take no value, `values` take one, `optional` take one only when attached. Names with dashes."""

    flags: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()

    @classmethod
    def of(cls, flags: str = "", values: str = "", optional: str = "") -> OptionSpec:
        """Build from space-separated names: `OptionSpec.of("-i -0 --null", "-u --unset")`."""
        return cls(frozenset(flags.split()), frozenset(values.split()), frozenset(optional.split()))


@dataclass
class Parsed:
    """The options found, in order (`(name, value)`; value None for a flag), and the operand words."""

    options: list[tuple[str, str | None]] = field(default_factory=list[tuple[str, str | None]])
    operands: list[Word] = field(default_factory=list[Word])

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.options)


def parse_options(words: Sequence[Word], spec: OptionSpec, tool: str, *, permute: bool = False) -> Parsed:
    """Split `words` (the arguments, program excluded) into options and operands. Raises `Unprovable`."""
    out = Parsed()
    i = 0
    while i < len(words):
        word = words[i]
        if not word.static:
            if out.operands and not permute:
                out.operands.extend(words[i:])
                return out
            raise Unprovable(f"{tool}: argument {word.text!r} could be any option")
        value = word.value or ""
        if value == "--":
            out.operands.extend(words[i + 1 :])
            return out
        if not value.startswith("-") or value == "-" or (out.operands and not permute):
            if not permute:
                out.operands.extend(words[i:])
                return out
            out.operands.append(word)
            i += 1
            continue
        i = _long(words, i, spec, tool, out) if value.startswith("--") else _short(words, i, spec, tool, out)
    return out


def _long(words: Sequence[Word], i: int, spec: OptionSpec, tool: str, out: Parsed) -> int:
    text = words[i].value or ""
    name, eq, attached = text.partition("=")
    name = _resolve_long(name, spec, tool)
    if name in spec.flags:
        if eq:
            raise Unprovable(f"{tool}: option {name} takes no value")
        out.options.append((name, None))
        return i + 1
    if name in spec.optional:
        out.options.append((name, attached if eq else None))
        return i + 1
    if eq:
        out.options.append((name, attached))
        return i + 1
    return _take_value(words, i, name, tool, out)


def _resolve_long(name: str, spec: OptionSpec, tool: str) -> str:
    if name in spec.flags or name in spec.values or name in spec.optional:
        return name
    raise Unprovable(f"{tool}: unknown option {name}")


def _short(words: Sequence[Word], i: int, spec: OptionSpec, tool: str, out: Parsed) -> int:
    text = words[i].value or ""
    j = 1
    while j < len(text):
        name = "-" + text[j]
        rest = text[j + 1 :]
        if name in spec.flags:
            out.options.append((name, None))
            j += 1
        elif name in spec.optional:
            out.options.append((name, rest or None))
            return i + 1
        elif name in spec.values:
            if rest:
                out.options.append((name, rest))
                return i + 1
            return _take_value(words, i, name, tool, out)
        else:
            raise Unprovable(f"{tool}: unknown option {name}")
    return i + 1


def _take_value(words: Sequence[Word], i: int, name: str, tool: str, out: Parsed) -> int:
    if i + 1 >= len(words):
        raise Unprovable(f"{tool}: option {name} needs a value")
    value_word = words[i + 1]
    out.options.append((name, value_word.value if value_word.static else None))
    return i + 2
