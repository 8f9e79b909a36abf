"""Mean values for the bad-input fuzzer: every generator takes a seeded `random.Random` and nothing else.

`Mean` draws the values config parsers choke on: deep nesting, huge and non-finite numbers, wrong types, unicode edge
cases (lone surrogates, NUL, bidi overrides, zero-width and combining characters), long strings, paths that are no
paths (`~nosuchuser`, NUL, over PATH_MAX, /proc), malformed permission rules and globs, durations, URLs. The settings
schema's own keys come from `tau.config.settings.SettingsLayer`, so new settings are fuzzed without touching this file.

Safety: nothing drawn here names a program that does anything (MCP/hook commands are `true`, `false` or a name that
does not exist) or a host beyond the loopback (URLs are local, closed ports, or invalid), so a case that happens to
be valid stays harmless.
"""

from __future__ import annotations

import math
import random
import typing
from typing import Any

from fuzz_plausible import PLAUSIBLE
from fuzz_render import Deep
from pydantic import BaseModel

from tau.config.settings import SettingsLayer

NOT_A_COMMAND = "tau-fuzz-no-such-command"
SAFE_COMMANDS = ("true", "false", NOT_A_COMMAND)

TEXTS = (
    "",
    " ",
    "\t\n",
    "x",
    "hello world",
    "é",
    "日本語",
    "🙂🙂",
    "\u202eevil\u202c",  # bidi override
    "a\u200bb",  # zero width space
    "e\u0301",  # combining accent
    "\ufeffbom",
    "\x1b[31mred\x1b[0m",
    "line\r\nbreak",
    "bell\x07",
    "nul\x00byte",
    "\ud800",  # lone surrogate (a `\ud800` escape in YAML/JSON)
    "\udcff",  # how Python hands over an undecodable argv byte
    "{{ missing }}",
    "{{",
    "${HOME}",
    "${NO_SUCH_FUZZ_VAR}",
    "$(true)",
    "'; true; '",
    "%s%n%x",
    "null",
    "true",
    "on",
    "~",
    "*",
    "**/*",
)
NUMBER_TEXTS = ("0", "-1", "1e999", "-1e999", "inf", "-inf", "nan", "NaN", "1_000", "0x10", "9" * 30, "1.5", "1e-400")
DURATIONS = (
    "90s",
    "5m",
    "1h30m",
    "250ms",
    "2d",
    "0",
    "0s",
    "-1s",
    "99999999999999d",
    "1e999",
    "inf",
    "nan",
    "1.5.5s",
    "5 minutes",
    "s",
    "1h" * 50,
    "366d",
    "367d",
)
NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    1,
    2,
    3,
    2**31,
    2**53,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    10**400,
    -(10**30),
    1.5,
    -0.0,
    1e308,
    1e-320,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
)
RULES = (
    "Bash",
    "Bash(ls:*)",
    "Bash(npm test:*)",
    "Read(**/*.py)",
    "Read(~/.ssh/**)",
    "Edit(//etc/**)",
    "Write(/tmp/*)",
    "WebFetch(domain:example.com)",
    "mcp__srv__tool",
    "mcp__srv",
    "Bash(",
    "Bash)",
    "Bash((x))",
    "(Bash)",
    "Bash(*",
    "Read([)",
    "Read(**[!a-)",
    "Read({a,b)",
    "Read(\x00)",
    "Bash(rm -rf /)",
    "",
    " ",
    "bash",
    "Bash()",
    "Bash(" + "a" * 5000 + ")",
    "Bash(\n)",
    "Nope(x)",
    "9Bash",
    "Bash:*",
)
TOOLS = ("read", "write", "edit", "bash", "glob", "grep", "Bash", "Read", "mcp__a__b", "zap", "", "read,bash", " ")
MODELS = (
    "test:fuzz",
    "test:",
    "test",
    ":x",
    "bogus:x",
    "openai:gpt-4o",
    "openai-chat:m",
    "replay:none.json",
    "replay:~nosuchuser/x.json",
    "TEST:x",
    "test:x\x00",
)
URLS = (
    "http://127.0.0.1:1/mcp",
    "http://localhost:1/v1",
    "https://[::1]:1/x",
    "http://[::1",
    "http://",
    "http:///x",
    "ftp://127.0.0.1/x",
    "not a url",
    "http://127.0.0.1:99999/x",
    "http://127.0.0.1:-1/",
    "http://127.0.0.1:1/sse",
    "//127.0.0.1:1",
    "http://user:pw@127.0.0.1:1/x?token=secret",
    "http://127.0.0.1:1/\x00",
    "${NO_SUCH_FUZZ_VAR}/mcp",
    "http://127.0.0.1:1/" + "a" * 3000,
    "",
)
PATHS = (
    "nowhere",
    "nowhere/deeper/file.json",
    ".",
    "..",
    "/proc/self/mem",
    "/proc/x.json",
    "/dev/null",
    "/dev/zero",
    "/etc/passwd",
    "~",
    "~/x",
    "~nosuchuser/x",
    "a\x00b",
    "\udcff.md",
    "x" * 300,
    "/".join(["d"] * 2100),
    "file.txt",
    "job.md",
    "schema.json",
    " ",
)
# Never a path outside the case's own directory that exists and could be written: `--record` overwrites a regular
# file, and a state dir gets directories created in it (so no "/" and no "/etc/passwd" here or in PATHS).
RECORD_PATHS = ("tape.json", "nowhere/deeper/t.json", "~/t.json", "/proc/x.json", "/dev/null", ".", "x" * 300, "a\x00b")
ENUM_NOISE = ("", "Default", "DEFAULT", "yolo", "docker ", "text ", "json\n", "none", "null", "plan;")


def settings_paths(model: type[BaseModel] = SettingsLayer, prefix: str = "") -> list[str]:
    """Every dotted key of the settings schema (nested models expanded), e.g. `limits.max_turns`."""
    paths: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        paths.append(key)
        nested = [a for a in (field.annotation, *typing.get_args(field.annotation)) if isinstance(a, type)]
        for candidate in nested:
            if issubclass(candidate, BaseModel):
                paths += settings_paths(candidate, key + ".")
    return paths


SETTINGS_PATHS = tuple(settings_paths())


class Mean:
    """Mean values drawn from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: Any) -> Any:
        return options[self.rng.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def text(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return str(self.pick(TEXTS))
        if roll < 0.7:
            return str(self.pick(TEXTS)) * int(self.pick((100, 10_000, 100_000)))
        if roll < 0.85:
            return str(self.pick(NUMBER_TEXTS))
        return "".join(chr(self.rng.choice((0x41, 0x7F, 0x85, 0xA0, 0x2028, 0xFFFE, 0x10FFFF))) for _ in range(4))

    def number(self) -> Any:
        return self.pick(NUMBERS)

    def deep(self) -> Deep:
        """Lists or mappings nested around the 64-level limit, or far beyond it (written as text)."""
        return Deep(self.pick((3, 63, 64, 65, 200, 1500, 20_000)), mapping=self.chance(0.5), leaf=self.scalar())

    def scalar(self) -> Any:
        return self.text() if self.chance(0.5) else self.number()

    def value(self, depth: int = 0) -> Any:
        """Anything: scalars, wrong types, containers (some deep, some wide)."""
        roll = self.rng.random()
        if roll < 0.45 or depth > 2:
            return self.scalar()
        if roll < 0.55:
            return None
        if roll < 0.7:
            return [self.value(depth + 1) for _ in range(self.rng.randrange(4))]
        if roll < 0.85:
            return {self.key(): self.value(depth + 1) for _ in range(self.rng.randrange(4))}
        if roll < 0.95:
            return self.deep()
        return list(range(self.pick((1000, 50_000))))

    def key(self) -> Any:
        roll = self.rng.random()
        if roll < 0.5:
            return self.pick(SETTINGS_PATHS).split(".")[-1]
        if roll < 0.6:
            return self.pick(SETTINGS_PATHS).split(".")[-1].replace("_", "-")
        if roll < 0.9:
            return self.text()
        return self.pick((1, True, None, 1.5))  # non-string keys (YAML)

    def duration(self) -> Any:
        return self.pick(DURATIONS) if self.chance(0.7) else self.number()

    def rule(self) -> str:
        return str(self.pick(RULES)) if self.chance(0.85) else self.text()

    def rules(self) -> Any:
        return [self.rule() for _ in range(self.rng.randrange(1, 4))] if self.chance(0.85) else self.value()

    def path(self) -> Any:
        return self.pick(PATHS) if self.chance(0.8) else self.value()

    def url(self) -> Any:
        return self.pick(URLS) if self.chance(0.85) else self.value()

    def enum(self, valid: tuple[str, ...]) -> Any:
        roll = self.rng.random()
        if roll < 0.3:
            return self.pick(valid)
        if roll < 0.8:
            return self.pick(ENUM_NOISE)
        return self.value()

    def for_key(self, dotted: str) -> Any:
        """A value for settings key `dotted`: usually one of the kind the key takes (durations for timeouts, rules
        for permissions, ...), sometimes anything at all."""
        leaf = dotted.rsplit(".", 1)[-1]
        if leaf in PLAUSIBLE and self.chance(0.45):
            return self.pick(PLAUSIBLE[leaf])
        if self.chance(0.25):
            return self.value()
        if "timeout" in leaf:
            return self.duration()
        if leaf in ("allow", "ask", "deny"):
            return self.rules()
        if leaf in ("cwd", "dir", "writable_roots", "additional_directories", "schema", "config", "workdir"):
            return self.path() if leaf not in ("writable_roots", "additional_directories") else [self.path()]
        if leaf == "base_url":
            return self.url()
        if leaf == "model":
            return self.pick(MODELS)
        if leaf == "tools":
            return self.pick(TOOLS) if self.chance(0.5) else [self.pick(TOOLS) for _ in range(2)]
        if leaf in ("mode", "format", "on_ask", "environment", "policy", "network", "strategy"):
            return self.enum(("default", "plan", "text", "json", "deny", "host", "read-only", "none", "off"))
        if leaf in ("image", "container"):
            return self.pick(("tau-sandbox:latest", "BAD IMAGE:::", "a" * 300, "Upper/Case", "-x", "x@sha256:00"))
        if leaf.startswith("max") or leaf in ("threshold", "cpus", "memory", "keep_last", "pids_limit"):
            return self.number() if self.chance(0.6) else self.pick((*NUMBER_TEXTS, "2g", "1.5GiB", "9" * 40 + "t"))
        return self.value()

    def setting(self) -> tuple[str, Any]:
        """One (dotted key, value): a real key, a misspelt or kebab-cased one, or noise."""
        roll = self.rng.random()
        dotted = str(self.pick(SETTINGS_PATHS))
        if roll < 0.08:
            dotted = dotted.replace("_", "-")
        elif roll < 0.14:
            dotted = dotted[:-1] or "x"
        elif roll < 0.18:
            dotted = f"{dotted}.nope"
        return dotted, self.for_key(dotted)


def nest(dotted: str, value: Any, into: dict[str, Any]) -> dict[str, Any]:
    """Put `value` at `dotted` in `into` (creating tables; a non-table in the way is replaced)."""
    *parents, leaf = dotted.split(".")
    target = into
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
            target[part] = child
        target = child
    target[leaf] = value
    return into
