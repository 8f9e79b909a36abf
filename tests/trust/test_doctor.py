"""`tau doctor` as a real subprocess in a hermetic sandbox: per source file, what a run there loads, skips and why.

The clone is real-world-shaped: Claude Code's user file (with keys tau does not read, and hooks tau does not run
from there), tau's user settings with a hook, a project `.claude/settings.json` with every kind of key (rules, a
looser `defaultMode`, `additionalDirectories`, `env`, MCP approval keys, hooks including a handler type tau lacks,
`statusLine`, `includeCoAuthoredBy`, `enabledPlugins`), a local file, a `.tau/config.toml`, a `.mcp.json` whose
servers would leave a marker if started, and memory files. Asserted whole (JSON and text), untrusted and trusted:
every key of every settings file is accounted for exactly once (loads, skips with the reason, or ignores as not
implemented) — never dropped silently — and doctor executes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from tau_e2e import Sandbox, TauResult, run_tau

CLAUDE_USER = {
    "model": "opus",
    "cleanupPeriodDays": 30,
    "permissions": {"allow": ["Read(~/.zshrc)"]},
    "hooks": {"Notification": [{"hooks": [{"type": "command", "command": "say 'Claude needs you'"}]}]},
}
TAU_USER = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}}
PROJECT = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "permissions": {
        "allow": ["Bash(npm run test:*)"],
        "ask": ["Bash(git push:*)"],
        "deny": ["Read(./.env)", "Bash(curl:*)"],
        "defaultMode": "acceptEdits",
        "additionalDirectories": ["../docs"],
    },
    "env": {"NODE_ENV": "development"},
    "enableAllProjectMcpServers": False,
    "enabledMcpjsonServers": ["db", "cache"],
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
    "includeCoAuthoredBy": False,
    "enabledPlugins": {"formatter@acme": True},
    "hooks": {
        "PostToolUse": [
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "npx prettier --write ."}]},
            {"matcher": "Bash", "hooks": [{"type": "http", "url": "https://hooks.example/audit"}]},
        ]
    },
}
LOCAL = {"permissions": {"deny": ["Edit(src/**)"]}, "disabledMcpjsonServers": ["cache"], "outputStyle": "Explanatory"}
CONFIG_TOML = 'model = "openai:gpt-4.1"\n\n[limits]\nmax_turns = 20\n'
MARKER = 'touch "$HOME/started-$0"'


def server(name: str) -> dict[str, Any]:
    return {"command": "sh", "args": ["-c", MARKER, name]}


MCP = {"mcpServers": {name: server(name) for name in ("db", "cache", "analytics")}}


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path / "box")
    box.write(".git/HEAD", "ref: refs/heads/main\n")
    write(box.home / ".claude" / "settings.json", CLAUDE_USER)
    write(box.home / ".config" / "tau" / "settings.json", TAU_USER)
    write(box.work / ".claude" / "settings.json", PROJECT)
    write(box.work / ".claude" / "settings.local.json", LOCAL)
    write(box.work / ".mcp.json", MCP)
    box.write(".tau/config.toml", CONFIG_TOML)
    box.write("CLAUDE.md", "Use npm, not yarn.\n")
    box.write("AGENTS.md", "Run the tests before committing.\n")
    return box


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def doctor(box: Sandbox, *args: str, cwd: Path | None = None) -> TauResult:
    return run_tau("doctor", *args, sandbox=box, cwd=cwd)


def report(box: Sandbox, *args: str) -> dict[str, Any]:
    result = doctor(box, "--json", *args)
    assert result.returncode == 0, result
    data = json.loads(result.stdout.replace(str(box.root), "<box>"))
    assert isinstance(data, dict)
    return data


HOME = "<box>/home"
WORK = "<box>/work"
HINT = f"trust it with `tau trust {WORK}`, --trust-workspace or TAU_TRUST_WORKSPACE=1"
PROJECT_IGNORES = [
    "statusLine (not implemented by tau)",
    "includeCoAuthoredBy (not implemented by tau)",
    "enabledPlugins (not implemented by tau)",
]
USER_SOURCES = [
    {
        "path": f"{HOME}/.claude/settings.json",
        "kind": "user settings",
        "loads": ["permissions.allow"],
        "ignores": [
            "model (not implemented by tau)",
            "cleanupPeriodDays (not implemented by tau)",
            "hooks (not implemented by tau)",
        ],
    },
    {"path": f"{HOME}/.config/tau/settings.json", "kind": "user settings", "loads": [], "ignores": []},
]
HTTP_WARNING = "hooks.PostToolUse[1].hooks[0]: handler type 'http' is not supported by tau; skipped"
USER_HOOKS = {"path": f"{HOME}/.config/tau/settings.json", "kind": "hooks", "loads": ["Stop *: notify-send done"]}
MEMORY = {
    "path": WORK,
    "kind": "memory files",
    "loads": [f"{WORK}/AGENTS.md (33 bytes)", f"{WORK}/CLAUDE.md (19 bytes)"],
    "skips": [],
}


def test_an_untrusted_clone_shows_what_restricts_and_what_waits_for_trust(box: Sandbox) -> None:
    assert report(box) == {
        "workspace": WORK,
        "trust": {"root": WORK, "trusted": False, "verdict": "untrusted (never trusted)", "hint": HINT},
        "sources": [
            *USER_SOURCES,
            {
                "path": f"{WORK}/.tau/config.toml",
                "kind": "project settings",
                "loads": ["limits.max_turns"],
                "skips": ["model (needs trust)"],
            },
            {
                "path": f"{WORK}/.claude/settings.json",
                "kind": "project settings",
                "loads": ["permissions.ask", "permissions.deny"],
                "skips": [
                    "permissions.defaultMode (would loosen)",
                    "permissions.allow (needs trust)",
                    "permissions.additionalDirectories (needs trust)",
                    "enableAllProjectMcpServers (needs trust)",
                    "enabledMcpjsonServers (needs trust)",
                    "env (needs trust)",
                ],
                "ignores": PROJECT_IGNORES,
            },
            {
                "path": f"{WORK}/.claude/settings.local.json",
                "kind": "local settings",
                "loads": ["permissions.deny", "disabledMcpjsonServers"],
                "ignores": ["outputStyle (not implemented by tau)"],
            },
            USER_HOOKS,
            {
                "path": f"{WORK}/.claude/settings.json",
                "kind": "hooks",
                "skips": [
                    "PostToolUse Edit|Write: npx prettier --write . (needs trust)",
                    HTTP_WARNING,
                ],
            },
            {
                "path": f"{WORK}/.mcp.json",
                "kind": "MCP servers",
                "skips": [
                    "db (project server not started: untrusted workspace)",
                    "cache (listed in disabledMcpjsonServers)",
                    "analytics (project server not started: untrusted workspace)",
                ],
            },
            MEMORY,
        ],
    }
    assert not list(box.home.glob("started-*"))


def test_a_trusted_clone_loads_everything_and_follows_the_approval_keys(box: Sandbox) -> None:
    assert report(box, "--trust-workspace") == {
        "workspace": WORK,
        "trust": {"root": WORK, "trusted": True, "verdict": "trusted (--trust-workspace)", "hint": ""},
        "sources": [
            *USER_SOURCES,
            {"path": f"{WORK}/.tau/config.toml", "kind": "project settings", "loads": ["model", "limits.max_turns"]},
            {
                "path": f"{WORK}/.claude/settings.json",
                "kind": "project settings",
                "loads": [
                    "permissions.defaultMode",
                    "permissions.allow",
                    "permissions.ask",
                    "permissions.deny",
                    "permissions.additionalDirectories",
                    "enableAllProjectMcpServers",
                    "enabledMcpjsonServers",
                    "env.NODE_ENV",
                ],
                "ignores": PROJECT_IGNORES,
            },
            {
                "path": f"{WORK}/.claude/settings.local.json",
                "kind": "local settings",
                "loads": ["permissions.deny", "disabledMcpjsonServers"],
                "ignores": ["outputStyle (not implemented by tau)"],
            },
            USER_HOOKS,
            {
                "path": f"{WORK}/.claude/settings.json",
                "kind": "hooks",
                "loads": ["PostToolUse Edit|Write: npx prettier --write ."],
                "skips": [HTTP_WARNING],
            },
            {
                "path": f"{WORK}/.mcp.json",
                "kind": "MCP servers",
                "loads": ["db (stdio)"],
                "skips": [
                    "cache (listed in disabledMcpjsonServers)",
                    "analytics (project server not approved (enabledMcpjsonServers))",
                ],
            },
            MEMORY,
        ],
    }
    assert not list(box.home.glob("started-*"))  # doctor reads; it starts no server and runs no hook
    listed = run_tau("mcp", "ls", "--trust-workspace", sandbox=box)  # the twin: this one starts what a run would
    assert listed.returncode == 1, listed  # `sh` is no MCP server: it leaves its marker and fails
    assert sorted(p.name for p in box.home.glob("started-*")) == ["started-db"]


def _accounted(entry: dict[str, Any]) -> set[str]:
    lines = [*entry.get("loads", []), *entry.get("skips", []), *entry.get("ignores", [])]
    return {line.split(" ")[0].split(".")[0] for line in lines}


@pytest.mark.parametrize("trust", [[], ["--trust-workspace"]], ids=["untrusted", "trusted"])
def test_every_key_of_every_settings_file_is_accounted_for_once(box: Sandbox, trust: list[str]) -> None:
    """Nothing is dropped silently: each top-level key (but `$schema`) of each settings file shows in its entries."""
    data = report(box, *trust)
    files = {
        f"{HOME}/.claude/settings.json": CLAUDE_USER,
        f"{WORK}/.claude/settings.json": PROJECT,
        f"{WORK}/.claude/settings.local.json": LOCAL,
    }
    for path, content in files.items():
        entries = [source for source in data["sources"] if source["path"] == path]
        seen = set().union(*(_accounted(entry) for entry in entries))
        want = {key for key in content if key != "$schema"}
        assert want - seen - {"hooks"} == set(), path
        if "hooks" in content:  # its hooks show under a `hooks` entry, or as ignored
            assert any(e["kind"] == "hooks" for e in entries) or "hooks" in seen, path
        settings_entry = next(e for e in entries if e["kind"].endswith("settings"))
        ignores = settings_entry.get("ignores", [])
        assert len(ignores) == len(set(ignores))


def test_text_output_names_each_file_with_its_lines(box: Sandbox) -> None:
    result = doctor(box)
    assert result.returncode == 0, result
    text = result.stdout.replace(str(box.root), "<box>")
    blocks = text.split("\n\n")
    assert blocks[0].splitlines() == [
        f"workspace {WORK}",
        f"repository root {WORK}: untrusted (never trusted)",
        f"  {HINT}",
    ]
    assert f"{WORK}/.claude/settings.json  [project settings]\n" in text
    project = next(b for b in blocks if b.startswith(f"{WORK}/.claude/settings.json  [project settings]"))
    assert project.splitlines()[1:] == [
        "  load   permissions.ask",
        "  load   permissions.deny",
        "  skip   permissions.defaultMode (would loosen)",
        "  skip   permissions.allow (needs trust)",
        "  skip   permissions.additionalDirectories (needs trust)",
        "  skip   enableAllProjectMcpServers (needs trust)",
        "  skip   enabledMcpjsonServers (needs trust)",
        "  skip   env (needs trust)",
        "  ignore statusLine (not implemented by tau)",
        "  ignore includeCoAuthoredBy (not implemented by tau)",
        "  ignore enabledPlugins (not implemented by tau)",
    ]
    mcp = next(b for b in blocks if b.startswith(f"{WORK}/.mcp.json"))
    assert mcp.splitlines() == [
        f"{WORK}/.mcp.json  [MCP servers]",
        "  skip   db (project server not started: untrusted workspace)",
        "  skip   cache (listed in disabledMcpjsonServers)",
        "  skip   analytics (project server not started: untrusted workspace)",
    ]


def test_cwd_and_tau_trust_change_the_verdict_doctor_shows(box: Sandbox) -> None:
    elsewhere = doctor(box, "--json", "--cwd", str(box.work), cwd=box.home)
    here = doctor(box, "--json")
    assert elsewhere.stdout == here.stdout
    assert run_tau("trust", sandbox=box).returncode == 0
    assert report(box)["trust"] == {"root": WORK, "trusted": True, "verdict": "trusted (tau trust)", "hint": ""}
    write(box.work / ".mcp.json", {"mcpServers": {**MCP["mcpServers"], "telemetry": server("telemetry")}})
    assert report(box)["trust"] == {
        "root": WORK,
        "trusted": False,
        "verdict": "untrusted (changed since `tau trust`: .mcp.json)",
        "hint": HINT,
    }


def test_hooks_switched_off_are_shown_skipped(box: Sandbox) -> None:
    box.write(".tau/config.toml", "[hooks]\nenabled = false\n")
    hooks = [s for s in report(box, "--trust-workspace")["sources"] if s["kind"] == "hooks"]
    assert [(h["path"], h.get("loads", [])) for h in hooks] == [
        (f"{HOME}/.config/tau/settings.json", []),
        (f"{WORK}/.claude/settings.json", []),
    ]
    assert hooks[0]["skips"] == ["Stop *: notify-send done (hooks.enabled is false)"]


@pytest.mark.parametrize(
    ("relative", "content"),
    [(".claude/settings.json", '{"permissions": '), (".mcp.json", "[1, 2]"), (".claude/settings.local.json", "[]")],
)
def test_a_malformed_file_is_one_line_naming_it_and_exit_2(box: Sandbox, relative: str, content: str) -> None:
    box.write(relative, content)
    result = doctor(box, "--trust-workspace")
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1 and str(box.work / relative) in result.stderr, result


def test_disable_all_hooks_is_shown_on_the_file_that_sets_it_and_needs_trust(box: Sandbox) -> None:
    write(box.work / ".claude" / "settings.local.json", {"disableAllHooks": True})

    def hooks(*args: str) -> list[tuple[str, list[str], list[str]]]:
        found = [s for s in report(box, *args)["sources"] if s["kind"] == "hooks"]
        return [(s["path"], s.get("loads", []), s.get("skips", [])) for s in found]

    assert hooks("--trust-workspace") == [
        (f"{WORK}/.claude/settings.json", [], [HTTP_WARNING]),
        (f"{WORK}/.claude/settings.local.json", [], ["disableAllHooks is set: no file hooks run"]),
    ]
    assert hooks() == [  # untrusted, the repository cannot switch the user's own hooks off
        (f"{HOME}/.config/tau/settings.json", ["Stop *: notify-send done"], []),
        (
            f"{WORK}/.claude/settings.json",
            [],
            [
                "PostToolUse Edit|Write: npx prettier --write . (needs trust)",
                HTTP_WARNING,
            ],
        ),
        (f"{WORK}/.claude/settings.local.json", [], ["disableAllHooks (needs trust)"]),
    ]
