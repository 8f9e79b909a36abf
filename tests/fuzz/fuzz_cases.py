"""Fuzz cases: one bad (or, by chance, valid) input each, on top of a valid `tau run` with the `test:` model.

A case is a command line, files (under `work/` = cwd and workspace, or `home/` = $HOME), extra environment and stdin.
Targets: job frontmatter, config TOML (user or project), `.mcp.json` / `--mcp-config`, Claude-style settings JSON,
and CLI flags (plus `TAU_*` variables). Each target mixes structured values from `fuzz_values.Mean` rendered by
`fuzz_render` with raw documents no serializer would write (alias bombs, invalid dates, 5,000-digit integers,
non-UTF-8 bytes, duplicate keys, ...). `make_case(rng, index)` is deterministic in the generator's state.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fuzz_render import Deep, json_document, render, toml_document, yaml_document
from fuzz_values import (
    DURATIONS,
    ENUM_NOISE,
    MODELS,
    NOT_A_COMMAND,
    NUMBER_TEXTS,
    PATHS,
    RECORD_PATHS,
    RULES,
    SAFE_COMMANDS,
    TEXTS,
    TOOLS,
    URLS,
    Mean,
    nest,
)

MODEL = "test:fuzz"
VALID_JOB = f"---\nmodel: {MODEL}\n---\nSay hi.\n"


@dataclass
class Case:
    id: str
    target: str
    args: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # "work/..." or "home/..."
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""

    @property
    def argv_ok_for_exec(self) -> bool:
        """A real process can take these arguments (no NUL: a C string ends there)."""
        return not any("\x00" in arg for arg in self.args) and not any("\x00" in v for v in self.env.values())

    def describe(self) -> str:
        files = {name: data[:300] for name, data in self.files.items()}
        where = f"{self.id} [{self.target}]"
        return f"{where} args={self.args!r} env={self.env!r} files={files!r} stdin={self.stdin[:200]!r}"


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _aliases(level: int) -> str:
    return ", ".join([f"*b{level - 1}" if level else "x"] * 9)


# -- raw documents ------------------------------------------------------------------------------------------------

RAW_YAML = (
    f"model: {MODEL}\nx: !!binary aGk=\n",
    f"model: {MODEL}\nvars: !!set {{a, b}}\n",
    f"model: {MODEL}\nx: !!python/object/apply:os.system ['true']\n",
    f"a: &a [*a]\nmodel: {MODEL}\n",
    f"model: {MODEL}\nvars: {{d: 2024-13-45}}\n",
    f"model: {MODEL}\nvars: {{d: 2024-02-30T25:61:00Z}}\n",
    f"model: {MODEL}\nvars: {{d: 2024-01-01}}\n",
    "? [a, b]\n: c\n",
    f"model: {MODEL}\n\tx: 1\n",
    f"model: {MODEL}\nmodel: bogus:x\n",
    f"model: {MODEL}\nlimits: {{max_turns: {'9' * 5000}}}\n",
    f"model: {MODEL}\nlimits: {{max_usd: {'9' * 400}.5}}\n",
    f"model: {MODEL}\n<<: {{limits: {{max_turns: 3}}}}\n",
    f"model: {MODEL}\nx: *undefined\n",
    f"--- !!map\nmodel: {MODEL}\n",
    f'model: {MODEL}\ninstructions: "\\x00"\n',
    f'model: {MODEL}\ninstructions: "\\ud800"\n',
    f'model: {MODEL}\nvars: {{"\\udcff": x}}\n',
    "[1, 2\n",
    f"model: {MODEL}\nlimits:\n  max_turns: 0o17\n",
    f"model: {MODEL}\nlimits: {{max_turns: 1:2:3}}\n",
    f"model: {MODEL}\nlimits: {{timeout: .inf, max_usd: .nan}}\n",
    f"model: {MODEL}\nunit: \x85\n",
    f"model: {MODEL}\n%YAML 1.1\n",
    f"model: {MODEL}\nvars:\n" + "".join(f"  k{i}: v\n" for i in range(20_000)),
    f"model: {MODEL}\npermissions: {{allow: [{', '.join(['Bash(ls:*)'] * 5000)}]}}\n",
    f"model: {MODEL}\n" + "".join(f"b{i}: &b{i} [{_aliases(i)}]\n" for i in range(9)),  # 9**9 values once expanded
)
RAW_TOML = (
    "a = " + "[" * 3000 + "1" + "]" * 3000,
    "a = " + "{b = " * 300 + "1" + "}" * 300,
    "x = 1979-13-45\n",
    "x = 1979-05-27T07:32:00Z\n",
    "[vars]\nd = 1979-05-27\nt = 07:32:00\n",
    "[limits]\nmax_turns = " + "9" * 5000 + "\n",
    'model = "\\ud800"\n',
    'model = "a\\u0000b"\n',
    "[[limits]]\nmax_turns = 1\n",
    f"model = '{MODEL}'\nmodel = 'x'\n",
    "= 1\n",
    "[\n",
    "limits.max_turns.x = 1\n",
    "[limits]\nmax_usd = inf\ntimeout = nan\n",
    '[sandbox]\nmemory = "' + "9" * 40 + 't"\n',
    '[sandbox]\nmemory = "1e999g"\n',
    '[models."test:*"]\ncontext_window = 0\n',
    "[providers.bogus]\nbase_url = 'http://127.0.0.1:1'\n",
    "[providers.openai]\nbase_url = 'http://[::1'\n",
    'trusted_workspaces = ["/", "~nosuchuser"]\n',
    "model = \x00\n",
)
RAW_JSON: tuple[bytes, ...] = (
    b'{"mcpServers": {"a": {"command": "tau-fuzz-no-such-command", "required": true}}}',
    b'{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "required": true}}}',
    b'{"mcpServers": {"a": {"command": "true", "required": true, "timeout": 1}}}',
    b"[" * 5000 + b"]" * 5000,
    b'{"mcpServers": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3001,
    b'{"mcpServers": {"a": {"command": "true", "args": ["\\ud800"]}}}',
    b'{"mcpServers": {"a": {"command": "true", "env": {"A=B": "x", "": "y"}}}}',
    b'{"mcpServers": {"a": {"command": "true", "env": {"A": "\\u0000"}}}}',
    b'{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "timeout": Infinity}}}',
    b'{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "timeout": NaN, "required": true}}}',
    b'{"x": ' + b"9" * 5000 + b"}",
    b'{"mcpServers": {"\xff": {}}}',
    b"\xef\xbb\xbf{}",
    b"",
    b"[]",
    b"null",
    b'"str"',
    b'{"a": 1} trailing',
    b'{"mcpServers": {}, "mcpServers": 5}',
    b'{"mcpServers": {"a": {"command": "\\u0000"}}}',
    b'{"permissions": {"allow": ["Bash(ls:*)"], "defaultMode": "\\ud800"}}',
    b'{"permissions": {"additionalDirectories": ["~nosuchuser", "\\u0000"]}}',
    b'{"env": {"TAU_MODEL": "bogus:x", "PATH": 5}}',
    b'{"hooks": {"PreToolUse": [{"matcher": "[", "hooks": [{"type": "command", "command": "true"}]}]}}',
    b'{"hooks": {"Stop": "true"}}',
    b'{"hooks": [1, 2]}',
)


# -- builders -----------------------------------------------------------------------------------------------------


def _settings_dict(mean: Mean, count: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(count):
        dotted, value = mean.setting()
        nest(dotted, value, data)
    return data


def frontmatter_case(mean: Mean, case_id: str) -> Case:
    raw = mean.chance(0.1)
    if mean.chance(0.25):
        text = str(mean.pick(RAW_YAML))
    else:
        data = _settings_dict(mean, mean.rng.randrange(1, 4))
        if not isinstance(data.get("model"), str) or mean.chance(0.5):
            data["model"] = MODEL
        if mean.chance(0.1):
            data[mean.key()] = mean.value()
        text = yaml_document(data, raw=raw)
    body = mean.pick(
        ("Say hi.\n", "Say hi.\n", "Hi {{ who }}.\n", "\n", "{{#if}}\n", mean.text() + "\n", "Use {{x}}, \\{{y}}.\n")
    )
    document = f"---\n{text}---\n{body}"
    if mean.chance(0.1):
        document = document.replace("---\n", "", 1) if mean.chance(0.5) else f"---\n{text}{body}"  # unclosed
    args = ["run", "job.md"] if mean.chance(0.85) else ["run", "-"]
    case = Case(case_id, "frontmatter", args)
    if args[1] == "-":
        case.stdin = _bytes(document)
    else:
        case.files["work/job.md"] = _bytes(document)
    return case


def toml_case(mean: Mean, case_id: str) -> Case:
    if mean.chance(0.3):
        text = str(mean.pick(RAW_TOML))
    else:
        text = toml_document(_settings_dict(mean, mean.rng.randrange(1, 4)), raw=mean.chance(0.1))
    where = "home/.config/tau/config.toml" if mean.chance(0.5) else "work/.tau/config.toml"
    case = Case(case_id, "toml", ["run", "job.md"], {"work/job.md": _bytes(VALID_JOB), where: _bytes(text)})
    if mean.chance(0.3):
        case.args.append("--trust-workspace")
    return case


def _server(mean: Mean) -> Any:
    if mean.chance(0.1):
        return mean.value()
    server: dict[str, Any] = {}
    kind = mean.pick(("stdio", "http", "sse", None, "streamable-http", "ws", "", 5))
    if kind is not None:
        server["type"] = kind
    if kind in ("stdio", None, "ws") or mean.chance(0.3):
        server["command"] = mean.pick(SAFE_COMMANDS) if mean.chance(0.8) else mean.value()
    if kind not in ("stdio",) or mean.chance(0.2):
        server["url" if mean.chance(0.8) else "httpUrl"] = mean.url()
    for key in ("args", "env", "headers", "cwd", "timeout", "required", "disabled", "host", "includeTools"):
        if mean.chance(0.2):
            server[key] = _server_value(mean, key)
    return server


def _server_value(mean: Mean, key: str) -> Any:
    if key in ("env", "headers"):
        return {mean.pick(("A", "A=B", "", "\x00", "X-Token")): mean.text()} if mean.chance(0.8) else mean.value()
    if key in ("args", "includeTools"):
        return [mean.text()] if mean.chance(0.7) else mean.value()
    if key == "timeout":
        return mean.number() if mean.chance(0.8) else mean.text()
    if key == "cwd":
        return mean.path()
    return mean.pick((True, False, "yes", 1, None))


def mcp_document(mean: Mean) -> bytes:
    if mean.chance(0.3):
        return bytes(mean.pick(RAW_JSON))
    servers = {mean.pick(("a", "srv", "", "a b", "é", "x" * 300, "mcp__x", "\ud800")): _server(mean)}
    document: Any = {"mcpServers": servers} if mean.chance(0.9) else servers
    return _bytes(json_document(document, raw=mean.chance(0.05)))


def mcp_case(mean: Mean, case_id: str) -> Case:
    document = mcp_document(mean)
    case = Case(case_id, "mcp", ["run", "job.md"], {"work/job.md": _bytes(VALID_JOB)}, env={"MCP_TIMEOUT": "3000"})
    roll = mean.rng.random()
    if roll < 0.4:
        case.files["work/.mcp.json"] = document
        case.args.append("--trust-workspace")
    elif roll < 0.7:
        case.files["work/servers.json"] = document
        case.args += ["--mcp-config", "servers.json"]
    else:
        case.args += ["--mcp-config", document.decode("utf-8", "surrogateescape")]
    if mean.chance(0.2):
        case.args.append("--strict-mcp-config")
    return case


_SETTINGS_FILES = (
    "work/.claude/settings.json",
    "work/.tau/settings.json",
    "work/.claude/settings.local.json",
    "home/.claude/settings.json",
    "home/.config/tau/settings.json",
)


def settings_case(mean: Mean, case_id: str) -> Case:
    if mean.chance(0.3):
        document = bytes(mean.pick(RAW_JSON))
    else:
        data: dict[str, Any] = {}
        for _ in range(mean.rng.randrange(1, 4)):
            key = mean.pick(("permissions", "env", "enableAllProjectMcpServers", "enabledMcpjsonServers", "model"))
            data[key] = _settings_value(mean, key)
        document = _bytes(json_document(data, raw=mean.chance(0.05)))
    case = Case(case_id, "settings", ["run", "job.md"], {"work/job.md": _bytes(VALID_JOB)})
    case.files[str(mean.pick(_SETTINGS_FILES))] = document
    if mean.chance(0.3):
        case.args.append("--trust-workspace")
    return case


def _settings_value(mean: Mean, key: str) -> Any:
    if key != "permissions" or mean.chance(0.15):
        return mean.value() if key != "env" or mean.chance(0.3) else {mean.pick(("A", "A=B", "", "TAU_X")): mean.text()}
    permissions: dict[str, Any] = {}
    for name in ("allow", "ask", "deny", "defaultMode", "additionalDirectories", "disableBypass"):
        if mean.chance(0.35):
            permissions[name] = mean.rules() if name in ("allow", "ask", "deny") else mean.enum(("plan", "dontAsk"))
    return permissions


_FLAG_VALUES: dict[str, Callable[[Mean], Any]] = {
    "--max-turns": lambda m: m.pick((*NUMBER_TEXTS, "3", "abc", "")),
    "--max-tool-calls": lambda m: m.pick((*NUMBER_TEXTS, "1")),
    "--max-consecutive-failures": lambda m: m.pick(NUMBER_TEXTS),
    "--max-tokens": lambda m: m.pick((*NUMBER_TEXTS, "1", "10")),
    "--max-usd": lambda m: m.pick((*NUMBER_TEXTS, "0.0001", "1e308")),
    "--timeout": lambda m: m.pick(DURATIONS),
    "--idle-timeout": lambda m: m.pick(DURATIONS),
    "--tools": lambda m: m.pick(TOOLS),
    "--allow": lambda m: m.pick(RULES),
    "--ask": lambda m: m.pick(RULES),
    "--deny": lambda m: m.pick(RULES),
    "--permission-mode": lambda m: m.pick((*ENUM_NOISE, "plan", "acceptEdits")),
    "--output": lambda m: m.pick((*ENUM_NOISE, "json", "stream-json", "claude-stream-json")),
    "--on-ask": lambda m: m.pick((*ENUM_NOISE, "deny", "suspend")),
    "--sandbox-policy": lambda m: m.pick((*ENUM_NOISE, "read-only", "workspace-write")),
    "--sandbox": lambda m: m.pick(("host", "vm", "", "Docker")),
    "--container": lambda m: m.pick(("BAD NAME", "-x", "a" * 300, "x:y", "")),
    "--var": lambda m: m.pick(("who=Ada", "1x=2", "noeq", "a=\udcff", "=x", "a-b=c", "a=" + "x" * 100_000, "a=\x00")),
    "--cwd": lambda m: m.pick(PATHS),
    "--output-schema": lambda m: m.pick(PATHS),
    "--mcp-config": lambda m: mcp_document(m).decode("utf-8", "surrogateescape"),
    "--record": lambda m: m.pick(RECORD_PATHS),
    "--base-url": lambda m: m.pick(URLS),
    "--model": lambda m: m.pick(MODELS),
    "--session-id": lambda m: m.pick((*TEXTS, "fuzz-session", "a/b", "..", "x" * 300)),
    "--state-dir": lambda m: m.pick(PATHS),
    "--execute-plan": lambda m: m.pick(PATHS),
    "-p": lambda m: m.text(),
}
_SWITCHES = ("--plan", "--strict-mcp-config", "--keep-sandbox", "--trust-workspace", "-q")
_ENV_VARS = ("TAU_MAX_TURNS", "TAU_TIMEOUT", "TAU_MODEL", "TAU_OUTPUT", "TAU_MAX_USD", "TAU_TOOLS", "TAU_BASE_URL")


def flags_case(mean: Mean, case_id: str) -> Case:
    if mean.chance(0.5):
        case = Case(case_id, "flags", ["run", "-p", "Say hi.", "--model", MODEL])
    else:
        case = Case(case_id, "flags", ["run", "job.md"], {"work/job.md": _bytes(VALID_JOB)})
    for _ in range(mean.rng.randrange(1, 4)):
        flag = str(mean.pick(list(_FLAG_VALUES)))
        value = str(_FLAG_VALUES[flag](mean))
        case.args += [f"{flag}={value}"] if mean.chance(0.1) and flag.startswith("--") else [flag, value]
    if mean.chance(0.3):
        case.args.append(str(mean.pick(_SWITCHES)))
    if mean.chance(0.2):
        value = mean.pick((*DURATIONS, *NUMBER_TEXTS, *MODELS, *TOOLS))
        case.env[str(mean.pick(_ENV_VARS))] = str(value).replace("\x00", "")
    if mean.chance(0.05):
        case.args.insert(1, "--bogus-flag")
    return case


TARGETS: dict[str, Callable[[Mean, str], Case]] = {
    "frontmatter": frontmatter_case,
    "toml": toml_case,
    "mcp": mcp_case,
    "settings": settings_case,
    "flags": flags_case,
}


def make_case(rng: random.Random, index: int) -> Case:
    """Case `index`: the five targets in turn, each case's content drawn from `rng`."""
    target = list(TARGETS)[index % len(TARGETS)]
    return TARGETS[target](Mean(rng), f"case-{index:04d}")


__all__ = ["NOT_A_COMMAND", "Case", "Deep", "make_case", "render"]
