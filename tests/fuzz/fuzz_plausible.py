"""Plausible values per settings key: well-typed but at the edges (1 ms timeouts, 1-byte caps, 60-level schemas,
rules with odd globs, dirs outside the workspace), so fuzzed configs also get past validation and into the run.

Keys are leaf names of the settings schema (`limits.max_turns` -> `max_turns`). Never `environment: docker` or a
`sandbox.container` (that would start containers) and never a command that does something.
"""

from __future__ import annotations

from typing import Any


def _schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    return schema


WEIRD_TEXT = (
    "hi",
    "\u202eevil\u202c",
    "日本語 🙂",
    "a\u200bb",
    "{{ who }}",
    "\\{{x}}",
    "x" * 20_000,
    "\r\n\t",
    "é\u0301",
)
DIRS = (".tau/x", "..", "../..", "~", "/proc/x", "nowhere", "~nosuchuser/x", "memory\u202e", "x" * 255)
PERMISSION_RULES = (
    ["Read(**[!a-)"],
    ["Read({a,b)"],
    ["Bash(ls:*)", "Bash(*)"],
    ["Edit(//etc/**)"],
    ["mcp__x"],
    ["WebFetch(domain:*)"],
    ["Read(~nosuchuser/**)"],
    ["Bash(" + "(" * 40 + ")" * 40 + ")"],
    ["Read(" + "**/" * 200 + "x)"],
    ["Grep(\\)"],
)
SCHEMAS: tuple[dict[str, Any], ...] = (
    {"type": "object"},
    {"type": "string"},
    {"type": "array", "items": {"type": "integer"}},
    {"type": "object", "properties": {"a": {"$ref": "#/nope"}}},
    {"$ref": "http://127.0.0.1:1/schema.json"},
    {"type": "object", "required": ["x"], "additionalProperties": False},
    {"type": ["string", "null"]},
    {"enum": []},
    {"not": {}},
    {"type": "object", "properties": {"\u202e": {"type": "string"}}},
    _schema(20),
    _schema(60),
)

PLAUSIBLE: dict[str, tuple[Any, ...]] = {
    "model": ("test:fuzz", "test:" + "x" * 500, "test:\u202e"),
    "model_settings": ({"temperature": 0.5}, {"max_tokens": 5}, {"seed": 2**62}, {"extra_body": {"a": [1]}}, {}),
    "base_url": ("http://127.0.0.1:1/v1", "https://localhost:1"),
    "instructions": WEIRD_TEXT,
    "tools": (["read"], [], ["mcp__a__b"], "bash, grep", ["Read", "Bash"]),
    "mode": ("default", "acceptEdits", "plan", "bypassPermissions"),
    "allow": PERMISSION_RULES,
    "ask": PERMISSION_RULES,
    "deny": PERMISSION_RULES,
    "additional_directories": (["~"], [".."], ["/proc"], ["nowhere"]),
    "on_ask": ("deny", "suspend", "tty"),
    "max_turns": (1, 2, 2**53 - 1),
    "max_tool_calls": (1,),
    "max_consecutive_failures": (1,),
    "max_tokens": (1, 10**15),
    "max_usd": (1e-9, 1e300),
    "timeout": ("1ms", "366d", 0.001, "none"),
    "idle_timeout": ("1ms", "1h", "off"),
    "tool_timeout": ("1ms", 1),
    "tool_output_chars": (1, 2**53 - 1),
    "ask_timeout": ("1ms",),
    "format": ("json", "stream-json", "claude-stream-json", "text"),
    "schema": (*SCHEMAS, "schema.json", None),
    "enabled": (True, False),
    "compat": (True, False),
    "working": (True, False),
    "max_bytes": (1, 10**12),
    "dir": DIRS,
    "config": (['{"mcpServers": {}}'], ['{"mcpServers": {"a": {"command": "true"}}}'], ["nowhere.json"], "x.json"),
    "strict": (True, False),
    "enable_all_project": (True, False, None),
    "enabled_project": (["a"], []),
    "disabled_project": (["a"],),
    "policy": ("read-only", "workspace-write", "full"),
    "writable_roots": (["~"], ["/proc"], ["nowhere"]),
    "image": ("tau-sandbox:latest", "localhost:5000/a/b@sha256:" + "0" * 64),
    "network": ("none", "bridge"),
    "memory": ("4m", "2g", 4 * 1024**2, "8pb"),
    "cpus": (0.001, 1024),
    "pids_limit": (1,),
    "keep": (True, False),
    "workdir": ("/work", "relative", ""),
    "strategy": ("off", "clear_tool_results", "sliding_window", "summarize", "tiered"),
    "threshold": (0.0001, 1),
    "keep_last": (1, 10**9),
    "max_files": (1,),
    "max_file_bytes": ("1b", 1),
    "max_total_bytes": ("1k",),
    "max_depth": (0, 100),
    "max_result_chars": (200,),
    "models": ({"x": "test:y"}, {"x": "bogus"}, {"test:*": {"context_window": 1}}, {"openai:*": {"max_retries": 0}}),
    "providers": ({"openai": {"api_key_env": "NO_SUCH_KEY"}}, {"ollama": {"base_url": "http://127.0.0.1:1"}}),
    "environment": ("host", {"kind": "host"}),
    "cwd": (".", "..", "~", "nowhere"),
    "vars": ({"who": "Ada"}, {"x": None}, {"a-b": 1}, {"who": "{{ who }}"}),
    "env": ({"A": "\u202e"}, {"PATH": ""}, {"HOME": "/nonexistent"}, {"X": "x" * 100_000}),
    "trusted_workspaces": (["~"], ["nowhere"]),
}
