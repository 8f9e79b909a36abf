"""Every `tau ...` command line the usage skill, the contributor skill and AGENTS.md show parses with tau's real CLI
parser: a documented command, flag or choice that disappears (or changes meaning) fails here, naming the line."""

from __future__ import annotations

import click
import pytest
from selfskills_docs import DOCS, ROOT, USAGE_SKILL, CommandLine, command_lines, command_path, parse

from tau.cli.main import cli

ALL_LINES = [line for doc in DOCS for line in command_lines(doc)]


def _parses(line: CommandLine) -> str | None:
    """None when `line` parses (or, for an inline mention of a bare command, names one); else why not."""
    try:
        names, _, rest = command_path(cli, line.argv)
        if line.inline and not rest:
            return None if names or not line.argv else f"{line}: names no command"
        parse(cli, line.argv)
    except click.exceptions.Exit as done:  # --help / --version: the parser answered and stopped
        return None if done.exit_code == 0 else f"{line}: exit {done.exit_code}"
    except (click.UsageError, LookupError) as error:
        return f"{line}: {error}"
    return None


def test_the_docs_show_commands_at_all() -> None:
    """Guards the extraction: the usage skill shows dozens of runnable lines, among them every main command."""
    usage = [line for line in ALL_LINES if line.source == str(USAGE_SKILL.relative_to(ROOT))]
    shown = {line.argv[0] for line in usage if line.argv and not line.inline}
    assert len([line for line in usage if not line.inline]) >= 30
    assert {"run", "sessions", "resume", "fork", "rewind", "sandbox", "serve", "watch", "doctor"} <= shown


@pytest.mark.parametrize("line", ALL_LINES, ids=str)
def test_documented_command_line_parses(line: CommandLine, capsys: pytest.CaptureFixture[str]) -> None:
    assert _parses(line) is None
    capsys.readouterr()  # --help / --version output of the lines that ask for it


@pytest.mark.parametrize(
    "argv",
    [
        ("run", "job.md", "--no-such-flag"),
        ("run", "job.md", "-o", "yaml"),
        ("sessions", "nosuch"),
        ("resume",),
        ("run", "job.md", "--max-turns", "many"),
    ],
)
def test_the_check_fails_for_lines_that_do_not_parse(argv: tuple[str, ...]) -> None:
    """The check itself can fail: an unknown flag, a bad choice, an unknown subcommand, a missing argument, a bad
    value are all reported."""
    assert _parses(CommandLine("doc.md", 1, argv, inline=False)) is not None


def test_inline_mentions_of_commands_that_do_not_exist_fail() -> None:
    assert _parses(CommandLine("doc.md", 1, ("sessions", "fork"), inline=True)) is not None
    assert _parses(CommandLine("doc.md", 1, ("frobnicate",), inline=True)) is not None
