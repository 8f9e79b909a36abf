"""The whole `tau` command tree, read from the real click objects: every command and option has help, every command's
help ends with examples that parse, a flag name means one thing on every command, the common options come from
`tau.cli.options` (one help text each), every command that shows or lists has `--json` (its shape in the help) and
every command that runs an agent has `-o FORMAT`. A new command or option that breaks a rule fails here, by name."""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Iterator

import click
import pytest

from tau.cli import options
from tau.cli.main import cli
from tau.cli.options import AliasOption, RenamedOption, SharedOption

# Commands that run an agent: `-o/--output FORMAT`, no --json.
RUNS = {"run", "resume", "fork", "plan approve", "plan reject"}
# Commands that neither show/list nor run an agent, and why they need neither --json nor -o.
NEITHER = {
    "schema events": "prints a JSON Schema: always JSON",
    "hooks test": "prints the combined hook decision: always JSON",
    "hooks setup": "prints the Setup hooks' result: always JSON",
    "inject": "an action; one line on stderr",
    "stop": "an action; lines on stderr",
    "mcp login": "an action (OAuth in a browser)",
    "mcp logout": "an action",
    "sandbox build": "prints the image tag only",
    "sandbox exec": "passes the command's own output through",
    "sandbox rm": "an action",
    "sandbox prune": "an action",
    "sessions rm": "an action",
    "presets rm": "an action",
    "mail send": "an action; prints the message's number",
    "sessions gc": "an action",
    "sessions export": "an action (writes a bundle)",
    "sessions import": "an action",
    "sessions reindex": "an action",
    "sessions view": "an action (writes the viewer's HTML file)",
    "serve": "a server",
    "watch": "runs jobs; each job's result.json and events.jsonl are its output",
    "worker": "executes runs submitted through Temporal; its front ends render them",
}
# Option names that stand for a family of close meanings on different commands (different help texts allowed).
FAMILIES = {
    "--reason": "the reason given for the command's decision: a denied call (resume/fork), a rejected plan, a stop",
    "--all": "also what the command leaves out by default: subagent sessions (sessions ls), live orphans (prune)",
    "--model": "the model: the one a run uses (-m), or in `sessions ls` the sessions whose model contains TEXT",
    "--timeout": "a wall-clock limit: on a run (exit 124), or on how long `mcp login` waits for the browser",
    "--permission-mode": "the permission mode; `plan approve` offers only the execution modes (not plan)",
}
# Names that must always be one of the shared definitions of tau.cli.options (its `shared` name on the right).
SHARED = {
    "--state-dir": "state-dir",
    "--cwd": "cwd",
    "--json": "json",
    "--output": "output",
    "--trust-workspace": "trust-workspace",
    "--quiet": "quiet",
    "--compat": "compat",
    "--mcp-config": "mcp-config",
    "--session-id": "session-id",
    "--allow": "allow",
    "--deny": "deny",
    "--max-turns": "max-turns",
}
SHARED_EXCEPT = {("--model", "sessions ls")}  # the listing filter (see FAMILIES)


def walk(command: click.Command = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """(command path without `tau`, command) for the root and every group and command below it."""
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], (*path, name))


COMMANDS = dict(walk())
LEAVES = {name: command for name, command in COMMANDS.items() if not isinstance(command, click.Group)}


def visible_options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def long_names(option: click.Option) -> list[str]:
    return [name for name in (*option.opts, *option.secondary_opts) if name.startswith("--")] or list(option.opts)


def signature(option: click.Option) -> tuple[object, ...]:
    """What an option means, as far as a reader of the help sees: names, value shape, and its help text (or, for
    an option of tau.cli.options, the definition it comes from)."""
    choices = tuple(option.type.choices) if isinstance(option.type, click.Choice) else None
    meaning = f"shared:{option.shared}" if isinstance(option, SharedOption) else option.help
    return (tuple(option.opts), option.is_flag, option.multiple, option.metavar, choices, meaning)


def example_lines(command: click.Command) -> list[str]:
    epilog = command.epilog or ""
    return [line.strip() for line in epilog.splitlines() if line.startswith("  tau ")]


def parse_example(line: str) -> None:
    """Parse one example command line with the real parser (up to a shell redirection or pipe); raises on error."""
    words: list[str] = []
    for word in shlex.split(line)[1:]:
        if word in {">", "<", "|", ">>"}:
            break
        words.append(word)
    context = click.Context(cli, info_name="tau")
    command: click.Command = cli
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(context, words[0])
        assert sub is not None, f"{line}: no command {words[0]!r}"
        context = click.Context(sub, info_name=words.pop(0), parent=context)
        command = sub
    try:
        command.make_context(context.info_name, words, parent=context.parent)
    except click.exceptions.Exit as done:  # --help
        assert done.exit_code == 0


def test_the_tree_is_read_whole() -> None:
    """Guards the walk: every top-level command and the deepest ones are there."""
    assert {"run", "resume", "fork", "sessions ls", "sessions show", "plan approve", "sandbox exec", "trust"} <= set(
        COMMANDS
    )
    assert len(LEAVES) >= 40


@pytest.mark.parametrize("name", sorted(COMMANDS), ids=lambda name: name or "tau")
def test_every_command_has_help_and_ends_with_examples_that_parse(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"tau {name}: no help text"
    lines = example_lines(command)
    assert lines, f"tau {name}: its help ends with no example (epilog=examples(...))"
    assert command.epilog is not None and command.epilog.startswith("\b\nExample")
    for line in lines:
        parse_example(line)
    rendered = command.get_help(click.Context(command, info_name=f"tau {name}".strip()))
    assert rendered.rstrip().endswith(lines[-1]), f"tau {name}: the examples are not the end of its help"
    capsys.readouterr()  # deprecation warnings of examples (there should be none) and --help output


def test_every_visible_option_has_help() -> None:
    missing = [
        f"tau {name} {option.opts[0]}"
        for name, command in COMMANDS.items()
        for option in visible_options(command)
        if not (option.help or "").strip()
    ]
    assert missing == []


def test_one_meaning_per_flag_name() -> None:
    """Every spelling of an option (long or short) has one signature across commands, unless it is a listed family;
    a short option always stands for the same long one."""
    seen: dict[str, dict[tuple[object, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, command in COMMANDS.items():
        for option in visible_options(command):
            for spelling in (*option.opts, *option.secondary_opts):
                seen[spelling][signature(option)].append(name or "tau")
    clashes = {
        spelling: {str(sig[-1]): where for sig, where in meanings.items()}
        for spelling, meanings in seen.items()
        if len(meanings) > 1 and spelling not in FAMILIES
    }
    assert clashes == {}, clashes
    longs_of_short: dict[str, set[str]] = defaultdict(set)
    for command in COMMANDS.values():
        for option in visible_options(command):
            for short in (name for name in option.opts if len(name) == 2):
                longs_of_short[short].add(" ".join(long_names(option)))
    assert {short: longs for short, longs in longs_of_short.items() if len(longs) > 1} == {}


def test_families_are_real() -> None:
    """The family table lists only names that do carry several help texts (a stale entry fails)."""
    for spelling in FAMILIES:
        helps = {
            option.help
            for command in COMMANDS.values()
            for option in visible_options(command)
            if spelling in (*option.opts, *option.secondary_opts)
        }
        assert len(helps) > 1, spelling


def test_common_options_come_from_options_py_with_one_help_text() -> None:
    helps: dict[str, set[str]] = defaultdict(set)
    for name, command in COMMANDS.items():
        for option in visible_options(command):
            for spelling in long_names(option):
                if spelling in SHARED and (spelling, name) not in SHARED_EXCEPT:
                    assert isinstance(option, SharedOption), f"tau {name} {spelling}: not from tau.cli.options"
                    assert option.shared == SHARED[spelling], f"tau {name} {spelling}: {option.shared}"
            if isinstance(option, SharedOption):
                helps[option.shared].add(option.help or "")
    cwd_helps = helps.pop("cwd")
    assert cwd_helps == {
        options.CWD_HELP.format(options.CWD_DEFAULT),
        options.CWD_HELP.format("the workspace recorded in the snapshot"),
    }
    assert {shared: len(texts) for shared, texts in helps.items() if len(texts) > 1} == {}
    assert helps["state-dir"] == {options.STATE_DIR_HELP} and helps["json"] == {options.JSON_HELP}


def test_show_commands_have_json_and_run_commands_have_output() -> None:
    """Every leaf command is classified: it runs an agent (-o FORMAT), it shows or lists (--json, its shape in the
    help), or it is listed in NEITHER with the reason."""
    problems: list[str] = []
    for name, command in LEAVES.items():
        shared_names = {option.shared for option in visible_options(command) if isinstance(option, SharedOption)}
        if name in RUNS:
            if "output" not in shared_names or "json" in shared_names:
                problems.append(f"tau {name}: runs an agent: -o FORMAT, not --json")
        elif name in NEITHER:
            if "json" in shared_names or "output" in shared_names:
                problems.append(f"tau {name}: listed in NEITHER but has --json/-o")
        elif "json" not in shared_names:
            problems.append(f"tau {name}: shows or lists something: it needs --json (or a place in NEITHER)")
        elif "--json prints" not in (command.help or ""):
            problems.append(f"tau {name}: its help does not say what --json prints")
    assert problems == []
    assert set(NEITHER) | RUNS <= set(LEAVES)


def test_hidden_old_spellings() -> None:
    """An alias (still working) never shares its name with a visible option of any command; a renamed spelling's
    name is in use elsewhere (else it should have stayed an alias)."""
    visible = {spelling for command in COMMANDS.values() for o in visible_options(command) for spelling in o.opts}
    aliases, renamed = set(), set()
    for command in COMMANDS.values():
        for param in command.params:
            if isinstance(param, AliasOption):
                aliases.update(param.opts)
            elif isinstance(param, RenamedOption):
                renamed.update(param.opts)
    assert aliases == {"--project-dir", "--deny-rule"}
    assert not aliases & visible
    assert renamed == {"-o", "--output", "--status"}
    assert renamed <= visible
