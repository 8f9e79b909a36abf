"""Rule parsing and matching: Claude Code's `Tool` / `Tool(specifier)` syntax."""

from __future__ import annotations

import pytest

from tau.errors import ConfigError
from tau.permissions.rules import Rule, parse_rule

WS = "/work/proj"
HOME = "/home/me"


def rule(text: str) -> Rule:
    return parse_rule(text, workspace=WS, home=HOME)


@pytest.mark.parametrize(
    ("text", "tool", "kind"),
    [
        ("Bash", "bash", "none"),
        ("bash", "bash", "none"),
        ("  Read  ", "read", "none"),
        ("Bash(npm test:*)", "bash", "bash"),
        ("Edit(src/**)", "edit", "path"),
        ("LS", "ls", "none"),
        ("TodoWrite", "todo", "none"),
        ("mcp__github__create_issue", "mcp__github__create_issue", "none"),
        ("mcp__github", "mcp__github__", "none"),
        ("mcp__github__*", "mcp__github__", "none"),
        ("mcp__my-server", "mcp__my-server__", "none"),
        ("WebFetch(domain:example.com)", "WebFetch", "opaque"),
        ("mcp__github__create_issue(x)", "mcp__github__create_issue", "opaque"),
        ("Bash(echo (a))", "bash", "bash"),
    ],
)
def test_parse(text: str, tool: str, kind: str) -> None:
    parsed = rule(text)
    assert (parsed.text, parsed.tool, parsed.kind) == (text, tool, kind)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid permission rule '': expected Tool or Tool(specifier)"),
        ("   ", "invalid permission rule ' ': expected Tool or Tool(specifier)"),  # one line, spaces collapsed
        ("Bash(npm", "invalid permission rule 'Bash(npm': expected Tool or Tool(specifier)"),
        ("Bash(x)y", "invalid permission rule 'Bash(x)y': expected Tool or Tool(specifier)"),
        ("Ba sh", "invalid permission rule 'Ba sh': expected Tool or Tool(specifier)"),
        ("Bash()", "invalid permission rule 'Bash()': empty specifier (write Bash alone for all calls)"),
        ("Bash(:*)", "invalid permission rule 'Bash(:*)': ':*' needs a command prefix before it"),
        ("Bash(npm:* test)", "invalid permission rule 'Bash(npm:* test)': ':*' is only allowed at the end"),
        ("Read( )", "invalid permission rule 'Read( )': empty specifier (write Read alone for all calls)"),
        ("B*sh", "invalid permission rule 'B*sh': bad tool name 'B*sh'"),
        ("mcp__*", "invalid permission rule 'mcp__*': bad tool name 'mcp__*'"),
    ],
)
def test_malformed_rules_raise_config_error_naming_the_rule(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        rule(text)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "command", "expected"),
    [
        ("Bash", "anything at all", True),
        ("Bash(npm test:*)", "npm test", True),
        ("Bash(npm test:*)", "npm test --watch", True),
        ("Bash(npm test:*)", "npm tests", False),
        ("Bash(npm test:*)", "npx npm test", False),
        ("Bash(npm run test:*)", "npm run test:unit", False),
        ("Bash(git diff *)", "git diff HEAD~1 -- a.py", True),
        ("Bash(git diff *)", "git diff", True),
        ("Bash(git diff *)", "git difftool", False),
        ("Bash(ls*)", "lsof", True),
        ("Bash(git * main)", "git push origin main", True),
        ("Bash(git * main)", "git push origin main2", False),
        ("Bash(npm test)", "npm test", True),
        ("Bash(npm test)", "npm test --watch", False),
        ("Bash(npm  test)", "npm test", True),
        ('Bash(git commit -m "a b")', "git commit -m a b", True),
        ("Bash(rm -rf *)", "rm -rf /", True),
        ("Bash(echo a.b)", "echo axb", False),
    ],
)
def test_bash_specifiers(text: str, command: str, expected: bool) -> None:
    parsed = rule(text)
    assert parsed.covers("bash")
    assert parsed.matches_command(command) is expected


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ("Read", "/anywhere/at/all", True),
        ("Read(./secrets/**)", f"{WS}/secrets/key.pem", True),
        ("Read(./secrets/**)", f"{WS}/secrets/deep/er/key.pem", True),
        ("Read(./secrets/**)", f"{WS}/src/secrets/key.pem", False),
        ("Read(./secrets/**)", f"{WS}/secrets", True),  # `dir/**` covers the directory itself
        ("Read(./secrets/**)", f"{WS}/secretsx", False),
        ("Read(//etc/ssl/**)", "/etc/ssl", True),
        ("Read(~/.ssh/**)", f"{HOME}/.ssh", True),
        ("Read(src/*/**)", f"{WS}/src/a", True),
        ("Read(./secrets)", f"{WS}/secrets/key.pem", True),
        ("Read(secrets/)", f"{WS}/secrets/key.pem", True),
        ("Read(secrets)", f"{WS}/a/b/secrets/key.pem", True),
        ("Edit(src/**)", f"{WS}/src/a/b.py", True),
        ("Edit(src/**)", f"{WS}/lib/src/b.py", False),
        ("Edit(src/*.py)", f"{WS}/src/b.py", True),
        ("Edit(src/*.py)", f"{WS}/src/sub/b.py", False),
        ("Read(*.env)", f"{WS}/deep/dir/.env", True),  # gitignore: `*` matches a leading dot
        ("Read(*.env)", f"{WS}/deep/dir/env", False),
        ("Read(*.env)", f"{WS}/deep/dir/prod.env", True),
        ("Read(**/*.env)", f"{WS}/prod.env", True),
        ("Read(**/*.env)", f"{WS}/a/b/prod.env", True),
        ("Read(**/.env)", f"{WS}/a/.env", True),
        ("Read(**/*.env)", "/etc/prod.env", False),
        ("Read(~/.ssh/**)", f"{HOME}/.ssh/id_rsa", True),
        ("Read(~/.ssh/**)", f"{WS}/.ssh/id_rsa", False),
        ("Read(//etc/**)", "/etc/passwd", True),
        ("Read(//etc/**)", f"{WS}/etc/passwd", False),
        ("Read(/etc/**)", "/etc/passwd", True),
        ("Read(/etc/**)", f"{WS}/etc/passwd", True),
        ("Read(/etc/**)", "/var/etc/passwd", False),
        ("Read(./)", WS, True),
        ("Read(./)", f"{WS}/a", True),
        ("Read(./)", "/work/project-other/a", False),
        ("Read(./file?.txt)", f"{WS}/file1.txt", True),
        ("Read(./file[0-9].txt)", f"{WS}/file7.txt", True),
        ("Read(./file[!0-9].txt)", f"{WS}/file7.txt", False),
        ("Read(../sibling/**)", "/work/sibling/x", False),
    ],
)
def test_path_specifiers(text: str, path: str, expected: bool) -> None:
    assert rule(text).matches_path(path) is expected


@pytest.mark.parametrize(
    ("text", "tool", "expected"),
    [
        ("Edit", "edit", True),
        ("Edit", "write", True),
        ("Write", "write", True),
        ("Write", "edit", False),
        ("Read", "read", True),
        ("Read", "glob", True),
        ("Read", "grep", True),
        ("Read", "ls", True),
        ("Read", "write", False),
        ("Grep", "glob", False),
        ("Bash", "bash", True),
        ("Bash", "Bash", True),
        ("mcp__gh", "mcp__gh__create_issue", True),
        ("mcp__gh__*", "mcp__gh__list", True),
        ("mcp__gh", "mcp__ghost__list", False),
        ("mcp__gh__list", "mcp__gh__list", True),
        ("mcp__gh__list", "mcp__gh__list_all", False),
        ("WebFetch", "WebFetch", True),
    ],
)
def test_which_tools_a_rule_covers(text: str, tool: str, expected: bool) -> None:
    assert rule(text).covers(tool) is expected


def test_opaque_specifier_counts_only_as_told() -> None:
    opaque = rule("WebFetch(domain:example.com)")
    assert (opaque.matches_call(opaque=True), opaque.matches_call(opaque=False)) == (True, False)
    bare = rule("WebFetch")
    assert (bare.matches_call(opaque=True), bare.matches_call(opaque=False)) == (True, True)
