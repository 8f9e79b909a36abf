"""The read-only allowlist: programs with the options that keep them read-only (`is_read_only`, `read_paths`).

Plan mode allows only these; default and acceptEdits modes auto-allow them. An allowlist, not a denylist: a
program not in `PROGRAMS`, or an option not in its `OptionSpec`, is not read-only. Programs whose every option is
harmless (`cat`, `ls`, `grep`, `wc`...) have `options=None` and are read-only with ANY arguments: they are the
only ones `xargs` or a computed argument (`$x`, `*`, a `find -exec` `{}`) may feed, because such a word can become
any option (a file named `-o` matched by `*` is an option to `sort`). Git is in `readonly_git.py`.

A part is read-only when, besides its program: it writes no file through a redirection, exports no variable
outside `envnames.SAFE_ENV`, has no problem, goes through no escalating wrapper (`sudo`...), and names its
program by a bare name (`/tmp/x/ls` is not `ls`). Declarations (`export LANG=C`, `local x`) that passed the
builtin checks count as read-only: their effects stay in the shell. Left out on purpose, because some argument form
of each writes or runs code: `sed`, `awk`, `tee`, `less`/`more` (LESSOPEN, `!cmd`), `xxd` (writes its 2nd
operand), `tree -o`, `date -s`/`date MMDD...`, `hostname NAME`, `set`/`shopt` (aliases), every interpreter, `env`
with a command (it is a wrapper: the command is judged), `find -exec/-delete/-fprint`, `rg --pre`, `sort -o`/`-T`/
`--compress-program`, `uniq IN OUT`.

`read_paths(part)` lists the static operands of a read-only part that name files it reads (not patterns), and the
values of the options that name a file the program reads (`FILE_OPTIONS`: `wc --files0-from=F`, `grep -f F`, `jq
--rawfile NAME F`, `date -f F`, `diff --from-file=F`...); the policy checks them against Read deny rules and the
workspace. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tau.permissions.options import OptionSpec, Parsed, parse_options
from tau.permissions.readonly_git import git_read_paths
from tau.permissions.shell_types import SimpleCommand
from tau.permissions.shell_words import Unprovable, Word

__all__ = ["FILE_OPTIONS", "PROGRAMS", "Program", "is_read_only", "read_paths"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TRANSPARENT = frozenset(
    {"timeout", "nice", "nohup", "time", "command", "builtin", "exec", "stdbuf", "env", "xargs", "setsid", "ionice"}
)
Operands = Literal["paths", "none", "pattern"]


@dataclass(frozen=True)
class Program:
    """How one program stays read-only. `options` None: any argument; `operands`: what operands are (`pattern`:
    the first is a pattern unless `-e`/`-f` gave one); `check`: a further test on the parsed command line."""

    options: OptionSpec | None = None
    operands: Operands = "paths"
    max_operands: int | None = None
    check: Callable[[Parsed], bool] | None = None
    values: frozenset[str] = frozenset()  # with `options` None: options whose next word is a value, not a file


_ANY = Program()
_ANY_NO_PATHS = Program(operands="none")
_GREP_VALUES = (
    "-e -f -m -A -B -C -d -D --regexp --file --max-count --after-context --before-context --context --include "
    "--exclude --exclude-dir --exclude-from --label --devices --directories --binary-files --group-separator"
)
_ANY_PATTERN = Program(operands="pattern", values=_names(_GREP_VALUES))
_JQ = Program(operands="pattern", values=_names("-f --from-file -L --indent --tab"))
_HEAD_TAIL = Program(values=_names("-n -c --lines --bytes -s --sleep-interval --pid"))
_CUT = Program(values=_names("-d -f -c -b --delimiter --fields --characters --bytes --output-delimiter"))
_LS = Program(values=_names("-I -w -T --ignore --hide --width --tabsize --format --sort --time"))

_SORT = OptionSpec.of(
    "-b --ignore-leading-blanks -d --dictionary-order -f --ignore-case -g --general-numeric-sort -h "
    "--human-numeric-sort -i --ignore-nonprinting -M --month-sort -n --numeric-sort -R --random-sort -r --reverse "
    "-V --version-sort -c -C -m --merge -s --stable -u --unique -z --zero-terminated --debug",
    "-k --key -t --field-separator -S --buffer-size --parallel --random-source --files0-from --batch-size --sort",
    "--check",
)
_UNIQ = OptionSpec.of(
    "-c --count -d --repeated -D -i --ignore-case -u --unique -z --zero-terminated",
    "-f --skip-fields -s --skip-chars -w --check-chars",
    "--all-repeated --group",
)
_TREE = OptionSpec.of(
    "-a -d -l -f -x -i -q -N -Q -p -u -g -s -h -D -F -v -t -c -U -r -n -C -A -S -J -X --noreport --prune --si --du "
    "--inodes --device --dirsfirst --gitignore --matchdirs --ignore-case --metafirst --fromfile --info",
    "-L -P -I --filelimit --timefmt --charset --sort --gitfile",
)
_DATE = OptionSpec.of(
    "-u --utc --universal -R --rfc-email --debug", "-d --date -f --file -r --reference", "-I --iso-8601 --rfc-3339"
)
_HOSTNAME = OptionSpec.of("-f --fqdn --long -s --short -i --ip-address -I --all-ip-addresses -d --domain -A -a --alias")
_COMMAND = OptionSpec.of("-p -v -V")
_RG = OptionSpec.of(
    "-i --ignore-case -S --smart-case -s --case-sensitive -w --word-regexp -x --line-regexp -v --invert-match -n "
    "--line-number -N --no-line-number -l --files-with-matches --files-without-match -c --count --count-matches -o "
    "--only-matching -F --fixed-strings -U --multiline --multiline-dotall -H --with-filename -I --no-filename "
    "--heading --no-heading --hidden --no-hidden --no-ignore --no-ignore-vcs --no-ignore-dot --no-ignore-parent "
    "--no-ignore-global --no-ignore-exclude --no-ignore-files -u -uu -uuu -L --follow --files --json --no-json "
    "--vimgrep --column --no-column -0 --null --trim --no-messages -q --quiet --stats --passthru -a --text -P --pcre2 "
    "--no-config -b --byte-offset -p --pretty --no-unicode --crlf --type-list --sort-files --no-require-git --debug "
    "--trace --one-file-system --null-data --line-buffered --block-buffered --include-zero --invert-match -h --help "
    "-V --version --no-filename --binary --no-binary --unrestricted",
    "-e --regexp -f --file -g --glob --iglob -t --type -T --type-not -m --max-count -d --max-depth --maxdepth -A "
    "--after-context -B --before-context -C --context -j --threads -M --max-columns -r --replace --sort --sortr "
    "--engine --color --colors --encoding -E --max-filesize --path-separator --field-match-separator "
    "--field-context-separator --context-separator --type-add --ignore-file --dfa-size-limit --regex-size-limit",
)
_FIND_WITH_VALUE = _names(
    "-name -iname -path -ipath -wholename -iwholename -regex -iregex -type -xtype -maxdepth -mindepth "
    "-size -mtime -mmin -atime -amin -ctime -cmin -newer -anewer -cnewer -perm -user -group -uid -gid "
    "-links -inum -samefile -printf -regextype -lname -ilname -used -newermt -newerct -newerat -newermm "
    "-fstype -context"
)
_FIND_FLAGS = _names(
    "-empty -print -print0 -ls -prune -not ! -a -and -o -or ( ) , -depth -d -follow -xdev -mount -true "
    "-false -readable -writable -executable -nouser -nogroup -daystart -noleaf -quit -nowarn -warn "
    "-ignore_readdir_race -noignore_readdir_race"
)
_FIND_LEADING = frozenset({"-H", "-L", "-P", "-O0", "-O1", "-O2", "-O3", "-D"})


def _no_operands_unless_plus(parsed: Parsed) -> bool:
    return all((w.value or "").startswith("+") for w in parsed.operands)


_SET_OPTIONS = frozenset({"pipefail", "errexit", "nounset", "xtrace", "verbose", "errtrace", "noclobber", "noglob"})


def _set(args: list[Word]) -> tuple[str, ...] | None:
    """`set -euo pipefail`, `set -x`, `set -- a b`: shell options that change no file and run nothing. Not
    `set -o posix` or others (posix mode expands aliases)."""
    i = 0
    while i < len(args):
        value = args[i].value if args[i].static else None
        if value == "--":
            return ()
        if value is None or value[:1] not in ("-", "+") or len(value) < 2:
            return None
        for letter in value[1:]:
            if letter == "o":
                i += 1
                if i >= len(args) or args[i].value not in _SET_OPTIONS:
                    return None
            elif letter not in "euxvECf":
                return None
        i += 1
    return ()


def _lookup(parsed: Parsed) -> bool:
    return parsed.has("-v", "-V")


PROGRAMS: dict[str, Program] = {
    **dict.fromkeys(
        _names(
            "ls dir vdir cat tac nl head tail wc cut paste fold fmt column rev expand unexpand od hexdump strings "
            "base64 base32 md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum file stat du df "
            "cmp diff comm join realpath readlink cd pushd"
        ),
        _ANY,
    ),
    **dict.fromkeys(
        _names(
            "echo printf true false : pwd basename dirname whoami id groups uname arch nproc printenv env which "
            "type whereis test [ [[ tr numfmt seq expr sleep yes locale getconf tty uptime free ps who w users "
            "exit return break continue shift wait popd dirs jobs trap read mapfile readarray getopts let"
        ),
        _ANY_NO_PATHS,
    ),
    **dict.fromkeys(_names("grep egrep fgrep"), _ANY_PATTERN),
    **dict.fromkeys(_names("head tail"), _HEAD_TAIL),
    **dict.fromkeys(_names("ls dir vdir"), _LS),
    "cut": _CUT,
    "jq": _JQ,
    "sort": Program(_SORT),
    "uniq": Program(_UNIQ, max_operands=1),
    "tree": Program(_TREE),
    "date": Program(_DATE, operands="none", check=_no_operands_unless_plus),
    "hostname": Program(_HOSTNAME, operands="none", max_operands=0),
    "command": Program(_COMMAND, operands="none", check=_lookup),
    "rg": Program(_RG, operands="pattern"),
}


FILE_OPTIONS: dict[str, frozenset[str]] = {
    "wc": _names("--files0-from"),
    "du": _names("--files0-from -X --exclude-from"),
    "sort": _names("--files0-from --random-source"),
    "diff": _names("--from-file --to-file -X --exclude-from"),
    **dict.fromkeys(_names("grep egrep fgrep"), _names("-f --file --exclude-from")),
    "rg": _names("-f --file --ignore-file"),
    "jq": _names("-f --from-file -L --slurpfile --rawfile"),
    "date": _names("-f --file -r --reference"),
    "file": _names("-f --files-from -m --magic-file"),
    "hexdump": _names("-f --format-file"),
}
"""Options whose value names a file (or directory) the program reads: judged like its operands."""


def is_read_only(command: SimpleCommand) -> bool:
    """True when running `command` cannot change files or run a program outside this allowlist."""
    return not command.writes_files and read_paths(command) is not None


COMPUTED = "\x00computed"
"""Stands for an operand whose value is only known when the shell runs (`cat $f`): it may name any file."""


def read_paths(command: SimpleCommand) -> tuple[str, ...] | None:
    """The files a part names when its program is read-only (its redirections aside: the policy judges those as
    writes), or None when the program is not read-only."""
    if command.problem is not None or command.unsafe_assignments or command.escalates:
        return None
    if any(w not in _TRANSPARENT for w in command.wrappers if w != "find"):
        return None
    if command.declaration or not command.words:
        return ()
    program = command.words[0]
    name = program.value
    if not program.static or name is None or "/" in name:
        return None
    args = list(command.words[1:])
    try:
        if name == "git":
            return git_read_paths(args, cwd_changed=command.cwd_changed)
        if name == "find":
            return _find(args)
        if name == "set":
            return _set(args)
        spec = PROGRAMS.get(name)
        return None if spec is None else _program(name, spec, args)
    except Unprovable:
        return None


def _program(name: str, spec: Program, args: list[Word]) -> tuple[str, ...] | None:
    files = FILE_OPTIONS.get(name, frozenset())
    if spec.options is None:
        return _any_args_paths(spec, args, files)
    parsed = parse_options(args, spec.options, "read-only check", permute=True)
    if spec.max_operands is not None and len(parsed.operands) > spec.max_operands:
        return None
    if spec.check is not None and not spec.check(parsed):
        return None
    explicit = parsed.has("-e", "--regexp", "-f", "--file")
    named = tuple(COMPUTED if value is None else value for option, value in parsed.options if option in files)
    return _paths(parsed.operands, spec.operands, explicit) + named


def _any_args_paths(spec: Program, args: list[Word], files: frozenset[str]) -> tuple[str, ...]:
    """Operands of a program every option of which is harmless: the words that are neither an option nor the
    value of one of `spec.values` (jq's `--arg NAME VALUE` takes two); and the values of its `files` options."""
    operands: list[Word] = []
    named: list[str] = []
    explicit_pattern = False
    i = 0
    while i < len(args):
        value = args[i].value if args[i].static else None
        if value == "--":
            operands.extend(args[i + 1 :])
            break
        if value is not None and value.startswith("-") and value != "-":
            explicit_pattern = explicit_pattern or value.startswith(("-e", "-f", "--regexp", "--file"))
            following = args[i + 1 : i + 3]
            named += _option_files(value, following, files, spec.values)
            i += 1 + (value in spec.values) + 2 * (value in ("--arg", "--argjson", "--slurpfile", "--rawfile"))
            continue
        operands.append(args[i])
        i += 1
    return _paths(operands, spec.operands, explicit_pattern) + tuple(named)


def _option_files(option: str, following: list[Word], files: frozenset[str], values: frozenset[str]) -> list[str]:
    """The files `option` (one argument word: `--name=F`, `--name F`, a cluster `-rfF` / `-rf F`) makes the program
    read. A long name is matched as getopt_long would, by any prefix (`wc --files0=F`)."""
    if not files:
        return []
    nxt = [COMPUTED if w.value is None or not w.static else w.value for w in following]
    if option.startswith("--"):
        name, eq, attached = option.partition("=")
        if not any(known.startswith(name) for known in files):
            return []
        if eq:
            return [attached]
        if name in ("--slurpfile", "--rawfile"):  # jq: NAME FILE
            return nxt[1:2] or [COMPUTED]
        return nxt[:1] or [COMPUTED]
    for j, letter in enumerate(option[1:], start=1):
        if f"-{letter}" in files:
            return [option[j + 1 :]] if option[j + 1 :] else (nxt[:1] or [COMPUTED])
        if f"-{letter}" in values:
            return []  # the rest of the cluster is that option's value
    return []


def _paths(operands: list[Word], kind: Operands, explicit_pattern: bool) -> tuple[str, ...]:
    if kind == "none":
        return ()
    if kind == "pattern" and not explicit_pattern:
        operands = operands[1:]
    return tuple(w.value if w.value is not None else COMPUTED for w in operands)


def _find(args: list[Word]) -> tuple[str, ...] | None:
    i = 0
    while i < len(args) and args[i].static and args[i].value in _FIND_LEADING:
        i += 1
    starts: list[str] = []
    while i < len(args):
        value = args[i].value if args[i].static else None
        if value is None:
            return None
        if value.startswith("-") or value in _FIND_FLAGS:
            break
        starts.append(value)
        i += 1
    while i < len(args):
        word = args[i]
        if not word.static or word.value is None:
            return None  # a computed word in a primary's place could be -delete
        if word.value in _FIND_WITH_VALUE:
            i += 2
        elif word.value in _FIND_FLAGS:
            i += 1
        else:
            return None
    return tuple(starts) or (".",)
