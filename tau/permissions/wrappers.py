"""Programs that run other programs: `unwrap(words) -> Unwrapped`, the program a command really executes.

Owns the table of wrappers and how each one's options are read. For `timeout -s KILL 5 nice -n 5 rm x` the program
is `rm x`, reached through `timeout` and `nice`; deny rules are matched against it whatever wraps it.

- Transparent wrappers (allow rules match the inner command): `command` (`-v`/`-V` is a lookup, not a run),
  `builtin`, `exec` (`-c`, `-l`, `-a NAME`), `env` (options, `NAME=value` assignments, `-C DIR`; `-S` strings are
  split and read on), `nice`, `ionice` (not with `-p/-P/-u`, which act on other processes), `timeout`, `stdbuf`,
  `setsid`, `nohup`, `time` (not `-o/-a`, which write a file), `busybox APPLET`, `coproc`, `xargs` (its input
  becomes one more dynamic word, or fills the `-I` replacement, so only a rule that accepts any further arguments
  can match), `watch` (its words are joined and run by `sh -c`, unless `-x`).
  `xargs -a FILE` reads FILE (reported in `reads`).
- Escalating wrappers (deny rules see the inner command, but an allow rule must match the whole command as
  written): `sudo`, `doas`, `chroot`, `flock` (which also creates its lock file: reported in `writes`).
- Shell strings: `sh|bash|dash|zsh|ksh|ash|mksh -c STRING`, `eval WORDS`, `trap STRING SIGNALS`, `flock ... -c
  STRING`, `su -c STRING`, `script -c STRING /dev/null` come back in `scripts`, for the caller to parse and analyse
  like the line itself (`script` only with its typescript sent to /dev/null and no log files: anything else writes a
  file, and without `-c` it runs an interactive shell).
- `find ... -exec/-execdir/-ok/-okdir CMD ... ;|+`: find is the program; each CMD is an `extra` invocation
  (`{}` is a dynamic word; a `{}` inside a longer word, such as a `sh -c` script, pastes file names into code:
  `Unprovable`).

A wrapper option the table does not know, an option word that is not static, a missing command, a shell string
that is not static: `Unprovable` (the caller asks). Pure.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from tau.permissions.options import OptionSpec, Parsed, parse_options
from tau.permissions.shell_words import Unprovable, Word

__all__ = ["XARGS_INPUT", "Invocation", "Unwrapped", "program_name", "unwrap"]

XARGS_INPUT = Word("{xargs input}", None)
_FOUND = Word("{}", None)
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "rbash"})
_MAX_WRAPPERS = 16


@dataclass
class Invocation:
    """One program run: `argv` after wrappers, and what the wrappers did on the way."""

    argv: list[Word]
    wrappers: list[str] = field(default_factory=list[str])
    assignments: list[str] = field(default_factory=list[str])
    escalates: bool = False
    chdir: bool = False
    writes: list[Word] = field(default_factory=list[Word])
    reads: list[Word] = field(default_factory=list[Word])


@dataclass
class Unwrapped:
    """The programs one simple command runs: `main` (None when it only runs shell code), `extra` (find -exec),
    and `scripts`, shell code it runs (`bash -c`, `eval`, ...) with the wrapper that runs it."""

    main: Invocation | None
    extra: list[Invocation] = field(default_factory=list[Invocation])
    scripts: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])


def program_name(word: Word) -> str | None:
    """The basename of a static command word (`/usr/bin/env` -> `env`), None when it is not static."""
    return posixpath.basename(word.value) if word.static and word.value is not None else None


def unwrap(words: list[Word]) -> Unwrapped:
    """Strip wrappers from a simple command's words (assignments already removed)."""
    inv = Invocation(list(words))
    out = Unwrapped(inv)
    for _ in range(_MAX_WRAPPERS):
        if not inv.argv:
            return out
        name = program_name(inv.argv[0])
        if name is None:
            return out
        if name == "find":
            extra, scripts = _find_exec(inv.argv[1:])
            out.extra.extend(extra)
            out.scripts.extend(scripts)
            return out
        handler = _WRAPPERS.get(name)
        if handler is None:
            return out
        step = handler(inv.argv[1:])
        if step.script is not None:
            out.scripts.append((name, step.script))
            out.main = None
            return out
        if step.inner is None:
            return out  # the wrapper runs nothing else (`env` alone prints the environment)
        inv.wrappers.append(name)
        inv.assignments.extend(step.assignments)
        inv.escalates = inv.escalates or step.escalates
        inv.chdir = inv.chdir or step.chdir
        inv.writes.extend(step.writes)
        inv.reads.extend(step.reads)
        inv.argv = step.inner
    raise Unprovable("too many wrappers")


@dataclass
class _Step:
    inner: list[Word] | None
    assignments: list[str] = field(default_factory=list[str])
    escalates: bool = False
    chdir: bool = False
    writes: list[Word] = field(default_factory=list[Word])
    reads: list[Word] = field(default_factory=list[Word])
    script: str | None = None


def _command_after(parsed: Parsed, tool: str) -> list[Word]:
    if not parsed.operands:
        raise Unprovable(f"{tool} without a command")
    return parsed.operands


def _static(word: Word, what: str) -> str:
    if not word.static or word.value is None:
        raise Unprovable(f"{what} {word.text!r} is not static")
    return word.value


# --- transparent wrappers ------------------------------------------------------------------------------------------

_ENV = OptionSpec.of(
    "-i --ignore-environment -0 --null -v --debug",
    "-u --unset -C --chdir -S --split-string",
    "--block-signal --default-signal --ignore-signal",
)


def _env(args: list[Word]) -> _Step:
    if args[:1] and args[0].static and args[0].value == "-":
        args = args[1:]  # `env -` is `env -i`
    parsed = parse_options(args, _ENV, "env")
    rest = list(parsed.operands)
    for name, value in parsed.options:
        if name in ("-S", "--split-string"):
            if value is None:
                raise Unprovable("env -S with a dynamic string")
            rest = [Word(v, v) for v in _split(value, "env -S")] + rest
    assignments: list[str] = []
    while rest and rest[0].static and (match := _ASSIGNMENT.fullmatch(rest[0].value or "")):
        assignments.append(match.group(1))
        rest = rest[1:]
    if rest and not rest[0].static:
        raise Unprovable(f"env: {rest[0].text!r} could be an assignment or a program")
    if not rest:
        if assignments:
            raise Unprovable("env with assignments and no command")
        return _Step(None)
    chdir = parsed.has("-C", "--chdir")
    return _Step(rest, assignments=assignments, chdir=chdir)


def _split(value: str, what: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise Unprovable(f"{what}: {exc}") from exc


_NICE = OptionSpec.of("", "-n --adjustment")


def _nice(args: list[Word]) -> _Step:
    if args and args[0].static and re.fullmatch(r"-\d+", args[0].value or ""):
        args = args[1:]
    parsed = parse_options(args, _NICE, "nice")
    return _Step(parsed.operands or None)


_IONICE = OptionSpec.of("-t --ignore", "-c --class -n --classdata -p --pid -P --pgid -u --uid")


def _ionice(args: list[Word]) -> _Step:
    parsed = parse_options(args, _IONICE, "ionice")
    if parsed.has("-p", "--pid", "-P", "--pgid", "-u", "--uid"):
        return _Step(None)
    return _Step(parsed.operands or None)


_TIMEOUT = OptionSpec.of("--preserve-status --foreground -v --verbose", "-s --signal -k --kill-after")


def _timeout(args: list[Word]) -> _Step:
    parsed = parse_options(args, _TIMEOUT, "timeout")
    if len(parsed.operands) < 2:
        raise Unprovable("timeout without a duration and a command")
    _static(parsed.operands[0], "timeout duration")
    return _Step(parsed.operands[1:])


_STDBUF = OptionSpec.of("", "-i --input -o --output -e --error")
_SETSID = OptionSpec.of("-c --ctty -f --fork -w --wait")
_NOHUP = OptionSpec()
_TIME = OptionSpec.of("-p --portability -v --verbose -q --quiet", "-f --format -o --output", "-a --append")
_COMMAND = OptionSpec.of("-p -v -V")
_EXEC = OptionSpec.of("-c -l", "-a")
_BUSYBOX = OptionSpec()


def _simple(spec: OptionSpec, tool: str) -> Callable[[list[Word]], _Step]:
    def strip(args: list[Word]) -> _Step:
        return _Step(_command_after(parse_options(args, spec, tool), tool))

    return strip


def _time(args: list[Word]) -> _Step:
    parsed = parse_options(args, _TIME, "time")
    if parsed.has("-o", "--output", "-a", "--append"):
        raise Unprovable("time -o writes a file")
    return _Step(parsed.operands or None)


def _command(args: list[Word]) -> _Step:
    parsed = parse_options(args, _COMMAND, "command")
    if parsed.has("-v", "-V"):
        return _Step(None)
    return _Step(parsed.operands or None)


def _exec(args: list[Word]) -> _Step:
    return _Step(parse_options(args, _EXEC, "exec").operands)  # no command: only redirects the shell


def _builtin(args: list[Word]) -> _Step:
    return _Step(args or None)


def _coproc(args: list[Word]) -> _Step:
    return _Step(_command_after(Parsed(operands=args), "coproc"))


_XARGS = OptionSpec.of(
    "-0 --null -r --no-run-if-empty -t --verbose -x --exit --show-limits",
    "-a --arg-file -d --delimiter -E -I -L --max-lines -n --max-args -P --max-procs -s --max-chars",
    "-e --eof -i --replace -l",
)


def _xargs(args: list[Word]) -> _Step:
    parsed = parse_options(args, _XARGS, "xargs")
    reads = [Word(v, v) for n, v in parsed.options if n in ("-a", "--arg-file") and v is not None]
    if parsed.has("-a", "--arg-file") and len(reads) < len([n for n, _ in parsed.options if n in ("-a", "--arg-file")]):
        raise Unprovable("xargs -a with a computed file")
    inner = parsed.operands or [Word("echo", "echo")]
    replace = next((value or "{}" for name, value in parsed.options if name in ("-I", "-i", "--replace")), None)
    if replace is None:
        return _Step([*inner, XARGS_INPUT], reads=reads)
    marked = [Word(w.text, None) if w.value is None or replace in w.value else w for w in inner]
    if replace in (inner[0].value or ""):
        raise Unprovable("xargs replaces the command name")
    return _Step(marked, reads=reads)


_WATCH = OptionSpec.of(
    "-b --beep -c --color -C --no-color -e --errexit -g --chgexit -t --no-title -w --no-wrap -x --exec -p --precise "
    "-r --no-rerun",
    "-n --interval -q --equexit",
    "-d --differences",
)


def _watch(args: list[Word]) -> _Step:
    parsed = parse_options(args, _WATCH, "watch")
    operands = _command_after(parsed, "watch")
    if parsed.has("-x", "--exec"):
        return _Step(operands)
    return _Step(None, script=" ".join(_static(w, "watch command") for w in operands))


# --- escalating wrappers -------------------------------------------------------------------------------------------

_SUDO = OptionSpec.of(
    "-A --askpass -b --background -E -H --set-home -k --reset-timestamp -K --remove-timestamp -n --non-interactive "
    "-P --preserve-groups -S --stdin -B --bell -N --no-update -i --login -s --shell -e --edit -l --list -v "
    "--validate",
    "-u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -r --role -t --type -T --command-timeout "
    "-U --other-user",
    "--preserve-env",
)
_SUDO_SHELL = ("-i", "-s", "--login", "--shell", "-e", "--edit", "-l", "--list", "-v", "--validate")


def _sudo(args: list[Word]) -> _Step:
    parsed = parse_options(args, _SUDO, "sudo")
    if parsed.has(*_SUDO_SHELL):
        raise Unprovable("sudo -i/-s/-e/-l/-v does not run a plain command")
    return _Step(_command_after(parsed, "sudo"), escalates=True, chdir=parsed.has("-D", "--chdir"))


_DOAS = OptionSpec.of("-n", "-u -C")


def _doas(args: list[Word]) -> _Step:
    if any(w.static and w.value == "-s" for w in args[:4]):
        raise Unprovable("doas -s runs a shell")
    return _Step(_command_after(parse_options(args, _DOAS, "doas"), "doas"), escalates=True)


_CHROOT = OptionSpec.of("--skip-chdir", "--userspec --groups")


def _chroot(args: list[Word]) -> _Step:
    parsed = parse_options(args, _CHROOT, "chroot")
    if len(parsed.operands) < 2:
        raise Unprovable("chroot without a command runs an interactive shell")
    return _Step(parsed.operands[1:], escalates=True, chdir=True)


_FLOCK = OptionSpec.of(
    "-s --shared -x -e --exclusive -n --nb --nonblock -u --unlock -o --close -F --no-fork --verbose",
    "-w --wait --timeout -E --conflict-exit-code -c --command",
)


def _flock(args: list[Word]) -> _Step:
    parsed = parse_options(args, _FLOCK, "flock")
    if not parsed.operands:
        raise Unprovable("flock without a lock file")
    lock, rest = parsed.operands[0], parsed.operands[1:]
    if lock.static and (lock.value or "").isdigit() and not rest:
        return _Step(None)  # `flock FD` locks an open descriptor, runs nothing
    if rest[:1] and rest[0].static and rest[0].value in ("-c", "--command"):
        if len(rest) != 2:
            raise Unprovable("flock -c takes exactly one command string")
        return _Step(None, script=_static(rest[1], "flock -c command"))
    if not rest:
        raise Unprovable("flock without a command")
    return _Step(rest, escalates=True, writes=[lock])


# --- shell code ----------------------------------------------------------------------------------------------------

_SHELL = OptionSpec.of(
    "-a -b -e -f -h -k -l -m -n -p -t -u -v -x -B -C -E -H -P -T -r -s --login --noprofile --norc --posix "
    "--restricted --noediting --verbose",
    "-o +o -O +O",
)


def _shell(args: list[Word]) -> _Step:
    i, command_flag = 0, False
    while i < len(args) and args[i].static:
        value = args[i].value or ""
        if value in ("-o", "+o", "-O", "+O"):
            i += 2
        elif value in ("-i", "--rcfile", "--init-file") or (value[:1] == "-" and value[1:2] != "-" and "i" in value):
            raise Unprovable(f"shell option {value} runs start-up files")
        elif value.startswith("--"):
            parse_options([args[i]], _SHELL, "shell")
            i += 1
        elif value.startswith(("-", "+")) and len(value) > 1:
            letters = value[1:]
            command_flag = command_flag or "c" in letters
            if letters.replace("c", ""):
                parse_options([Word("-" + letters.replace("c", ""), "-" + letters.replace("c", ""))], _SHELL, "shell")
            i += 1
        else:
            break
    if not command_flag:
        return _Step(None)  # `bash script.sh` or `bash` reading stdin: the program is the shell itself
    if i >= len(args):
        raise Unprovable("shell -c without a command string")
    return _Step(None, script=_static(args[i], "shell -c string"))


def _eval(args: list[Word]) -> _Step:
    return _Step(None, script=" ".join(_static(w, "eval argument") for w in args))


def _trap(args: list[Word]) -> _Step:
    if not args or (args[0].static and (args[0].value or "").startswith("-")):
        return _Step(None)
    return _Step(None, script=_static(args[0], "trap action"))


_SU = OptionSpec.of("-l --login -m -p --preserve-environment -P --pty", "-c --command -s --shell -g --group -G -w")


def _su(args: list[Word]) -> _Step:
    parsed = parse_options(args, _SU, "su", permute=True)
    script = next((value for name, value in parsed.options if name in ("-c", "--command")), None)
    if script is None:
        raise Unprovable("su without -c runs an interactive shell")
    return _Step(None, script=script)


_SCRIPT = OptionSpec.of("-a --append -e --return -f --flush -q --quiet", "-c --command -E --echo -o --output-limit")


def _script(args: list[Word]) -> _Step:
    parsed = parse_options(args, _SCRIPT, "script", permute=True)
    commands = [value for name, value in parsed.options if name in ("-c", "--command")]
    if len(commands) != 1 or commands[0] is None:
        raise Unprovable("script without one static -c string runs a shell nobody checked")
    if [(w.static, w.value) for w in parsed.operands] != [(True, "/dev/null")]:
        raise Unprovable("script writes its typescript to a file")
    return _Step(None, script=commands[0])


_WRAPPERS: dict[str, Callable[[list[Word]], _Step]] = {
    "env": _env,
    "nice": _nice,
    "ionice": _ionice,
    "timeout": _timeout,
    "stdbuf": _simple(_STDBUF, "stdbuf"),
    "setsid": _simple(_SETSID, "setsid"),
    "nohup": _simple(_NOHUP, "nohup"),
    "time": _time,
    "command": _command,
    "builtin": _builtin,
    "exec": _exec,
    "busybox": _simple(_BUSYBOX, "busybox"),
    "coproc": _coproc,
    "xargs": _xargs,
    "watch": _watch,
    "sudo": _sudo,
    "doas": _doas,
    "chroot": _chroot,
    "flock": _flock,
    "eval": _eval,
    "trap": _trap,
    "su": _su,
    "script": _script,
    **dict.fromkeys(_SHELLS, _shell),
}


# --- find -exec ----------------------------------------------------------------------------------------------------

_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def _find_exec(args: list[Word]) -> tuple[list[Invocation], list[tuple[str, str]]]:
    invocations: list[Invocation] = []
    scripts: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        if args[i].static and args[i].value in _FIND_EXEC:
            end = next((j for j in range(i + 1, len(args)) if args[j].static and args[j].value in (";", "+")), -1)
            if end < 0 or end == i + 1:
                raise Unprovable(f"find {args[i].value} without a terminated command")
            words = [_FOUND if w.static and w.value == "{}" else w for w in args[i + 1 : end]]
            if any(w.static and "{}" in (w.value or "") and w is not _FOUND for w in words):
                raise Unprovable("find -exec pastes file names into a word (`{}` inside it)")
            inner = unwrap(words)
            scripts.extend(inner.scripts)
            if inner.main is not None:
                inner.main.wrappers.insert(0, "find")
                invocations.append(inner.main)
            invocations.extend(inner.extra)
            i = end + 1
        else:
            i += 1
    return invocations, scripts
