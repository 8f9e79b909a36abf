"""The shared options of `tau.cli.options` through tau's real parser: an old spelling kept as an alias gives its value
to the new option (the new spelling wins a single-valued clash; repeatable values add up) and warns once on stderr;
an absent `--trust-workspace` is None (so TAU_TRUST_WORKSPACE still decides); the common run flags parse the same on
every command that runs an agent."""

from __future__ import annotations

from typing import Any

import click
import pytest

from tau.cli.main import cli


def params(path: str, *args: str) -> dict[str, Any]:
    """The parameters `tau PATH ARGS` hands its command (nothing runs)."""
    context = click.Context(cli, info_name="tau")
    command: click.Command = cli
    for name in path.split():
        sub = command.get_command(context, name) if isinstance(command, click.Group) else None
        assert sub is not None, name
        context = click.Context(sub, info_name=name, parent=context)
        command = sub
    return dict(command.make_context(path, list(args), parent=context.parent).params)


def test_deny_rule_is_the_old_spelling_of_deny_on_resume_and_fork(capsys: pytest.CaptureFixture[str]) -> None:
    assert params("resume", "s", "--deny", "Bash(rm:*)", "--deny-rule", "Edit(src/**)")["deny"] == (
        "Edit(src/**)",
        "Bash(rm:*)",
    )
    assert params("fork", "s", "--deny-rule", "Read(./secrets/**)")["deny"] == ("Read(./secrets/**)",)
    assert capsys.readouterr().err.splitlines() == ["tau: warning: --deny-rule is deprecated: use --deny"] * 2
    resumed = params("resume", "s", "--deny-call", "call_1=not now", "--approve", "call_2")
    assert resumed["deny_calls"] == ("call_1=not now",) and resumed["approve"] == ("call_2",) and resumed["deny"] == ()
    assert capsys.readouterr().err == ""


def test_project_dir_is_the_old_spelling_of_cwd_on_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert params("hooks ls", "--project-dir", "/old")["cwd"] == "/old"
    assert params("hooks test", "Stop", "--input", "-", "--cwd", "/new", "--project-dir", "/old")["cwd"] == "/new"
    assert params("hooks setup", "--project-dir", "/old", "--cwd", "/new")["cwd"] == "/new"
    assert params("hooks ls")["cwd"] is None
    assert capsys.readouterr().err.count("--project-dir is deprecated: use --cwd") == 3


@pytest.mark.parametrize("path", ["run", "doctor", "hooks ls", "mcp ls"])
def test_trust_workspace_is_none_unless_given(path: str) -> None:
    assert params(path)["trust_workspace"] is None
    assert params(path, "--trust-workspace")["trust_workspace"] is True


@pytest.mark.parametrize(
    ("path", "lead"),
    [
        ("run", ()),
        ("resume", ("s",)),
        ("fork", ("s",)),
        ("plan approve", ("s",)),
        ("plan reject", ("s", "--reason", "x")),
    ],
)
def test_every_command_that_runs_takes_the_same_output_flag(path: str, lead: tuple[str, ...]) -> None:
    for given in (("-o", "stream-json"), ("--output", "stream-json"), ("--output=stream-json",)):
        assert params(path, *lead, *given)["output"] == "stream-json"
    with pytest.raises(click.BadParameter):
        params(path, *lead, "-o", "yaml")


@pytest.mark.parametrize(
    ("path", "lead"),
    [("sessions export", ("s",)), ("sessions view", ("s",)), ("trust", ())],
)
def test_renamed_spellings_are_usage_errors_naming_the_new_one(path: str, lead: tuple[str, ...]) -> None:
    old = ("--status",) if path == "trust" else ("-o", "out.file")
    with pytest.raises(click.UsageError, match="was renamed"):
        params(path, *lead, *old)
