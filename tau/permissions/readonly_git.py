"""Git on the read-only allowlist: subcommands with the options that make git run no other program by themselves.

Owns `git_read_paths(args, cwd_changed=...)`: the paths a read-only git command names, or None when it is not
read-only. Only these global options are allowed before the subcommand: `--no-pager`/`-P`, `--no-optional-locks`,
the pathspec switches and `--no-replace-objects`. Never `-p/--paginate`, `-c`, `--config-env`, `-C`, `--git-dir`,
`--work-tree`, `--exec-path`, `--namespace`, and never, in any subcommand, `--ext-diff`, `--textconv`,
`--output`, `-O/--open-files-in-pager`, `--show-signature` (gpg), `--upload-pack`, `--contents` of another file...:
the spec of each subcommand lists what is allowed, so they are simply absent. Abbreviated long options are not
accepted (git would expand `--out` to `--output`).

Git is not read-only when an earlier part of the line changed directory (`cd x && git status`): the kernel
sandbox neutralises the configured programs (fsmonitor, filters, textconv, pagers) of the workspace's own
repository only. Listing subcommands (`branch`, `tag`, `stash`, `remote`, `worktree`, `config`, `reflog`) are
allowed in their listing forms only. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tau.permissions.options import OptionSpec, Parsed, parse_options
from tau.permissions.shell_words import Word

__all__ = ["GIT_HARMLESS_GLOBALS", "git_read_paths"]

GIT_HARMLESS_GLOBALS = frozenset(
    {
        "--no-pager",
        "-P",
        "--no-optional-locks",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-replace-objects",
        "--no-lazy-fetch",
        "--no-advice",
    }
)
_COUNT = re.compile(r"-\d+")

_DIFF_FLAGS = (
    "-p -u --patch -s --no-patch --raw --patch-with-raw --numstat --shortstat --compact-summary --summary "
    "--patch-with-stat -z --name-only --name-status --no-color --no-color-moved --no-renames --rename-empty "
    "--no-rename-empty --check --full-index --binary --find-copies-harder -D --irreversible-delete --pickaxe-all "
    "--pickaxe-regex -R -a --text --ignore-cr-at-eol --ignore-space-at-eol -b --ignore-space-change -w "
    "--ignore-all-space --ignore-blank-lines -W --function-context --exit-code --quiet --no-ext-diff --no-textconv "
    "--no-prefix --default-prefix --minimal --patience --histogram --indent-heuristic --no-indent-heuristic "
    "--no-abbrev -1 -2 -3 -0 --base --ours --theirs --cached --staged --merge-base --no-index --cumulative "
    "--ita-invisible-in-index --ita-visible-in-index --no-relative --no-stat"
)
_DIFF_VALUES = (
    "--diff-filter -S -G -l --word-diff-regex --inter-hunk-context -I --ignore-matching-lines --anchored "
    "--diff-algorithm --ws-error-highlight --src-prefix --dst-prefix --line-prefix --color-moved-ws"
)
_DIFF_OPTIONAL = (
    "-U --unified --stat --dirstat --submodule --color --color-moved --word-diff --color-words --abbrev -B "
    "--break-rewrites -M --find-renames -C --find-copies --relative --ignore-submodules"
)
_LOG_FLAGS = (
    "--oneline --graph --no-decorate --all --reverse --first-parent --merges --no-merges --follow --abbrev-commit "
    "--no-abbrev-commit --relative-date --left-right --cherry-pick --cherry-mark --cherry --boundary "
    "--simplify-by-decoration --full-history --dense --sparse --simplify-merges --topo-order --date-order "
    "--author-date-order --walk-reflogs -g --source --use-mailmap --no-use-mailmap --log-size -i "
    "--regexp-ignore-case --all-match --invert-grep -E --extended-regexp -F --fixed-strings --basic-regexp "
    "--perl-regexp --remove-empty --no-walk --do-walk --parents --children --timestamp --count --objects "
    "--no-max-parents --no-min-parents --full-diff --no-notes --name-only --mailmap --no-mailmap -m -c --cc "
    "--no-diff-merges --combined-all-paths --show-pulls --single-worktree --not --in-commit-order --header"
)
_LOG_VALUES = (
    "-n --max-count --skip --since --after --until --before --author --committer --grep --format -L --since-as-filter "
    "--max-parents --min-parents --exclude --date --diff-merges --encoding --expand-tabs"
)
_LOG_OPTIONAL = "--decorate --pretty --branches --tags --remotes --glob --ancestry-path --ignore-missing"


def _spec(flags: str = "", values: str = "", optional: str = "") -> OptionSpec:
    return OptionSpec.of(flags, values, optional)


_DIFF = _spec(_DIFF_FLAGS, _DIFF_VALUES, _DIFF_OPTIONAL)
_LOG = _spec(f"{_DIFF_FLAGS} {_LOG_FLAGS}", f"{_DIFF_VALUES} {_LOG_VALUES}", f"{_DIFF_OPTIONAL} {_LOG_OPTIONAL}")
_LIST_REFS = (
    "-a --all -r --remotes -v -vv --verbose -l --list --show-current --no-color --no-column -i --ignore-case "
    "--omit-empty --no-abbrev -n"
)
_LIST_REF_VALUES = "--contains --no-contains --merged --no-merged --points-at --sort --format --abbrev"


@dataclass(frozen=True)
class _Sub:
    options: OptionSpec
    check: Callable[[Parsed], bool] | None = None
    counts: bool = False  # `-5` means `-n 5`


def _only_listing(parsed: Parsed) -> bool:
    return not parsed.operands or parsed.has("-l", "--list")


def _remote(parsed: Parsed) -> bool:
    ops = [w.value for w in parsed.operands]
    return not ops or (ops[0] == "get-url" and len(ops) == 2)


def _first_operand(*allowed: str, max_operands: int = 99) -> Callable[[Parsed], bool]:
    def check(parsed: Parsed) -> bool:
        ops = [w.value for w in parsed.operands]
        return (not ops and "" in allowed) or (bool(ops) and ops[0] in allowed and len(ops) <= max_operands)

    return check


def _config(parsed: Parsed) -> bool:
    ops = [w.value for w in parsed.operands]
    if ops[:1] in (["get"], ["list"]):
        return len(ops) <= 2
    return parsed.has("--get", "--get-all", "--get-regexp", "--list", "-l") or len(ops) == 1


_SUBCOMMANDS: dict[str, _Sub] = {
    "status": _Sub(
        _spec(
            "-s --short -b --branch --long -v --verbose -z --no-column --ahead-behind --no-ahead-behind --renames "
            "--no-renames --show-stash --no-show-stash",
            "",
            "--porcelain -u --untracked-files --ignored --ignore-submodules --column --find-renames",
        )
    ),
    "diff": _Sub(_DIFF),
    "log": _Sub(_LOG, counts=True),
    "show": _Sub(_LOG, counts=True),
    "shortlog": _Sub(
        _spec(
            f"{_LOG_FLAGS} -n --numbered -s --summary -e --email --committer",
            _LOG_VALUES + " --group",
            "-w " + _LOG_OPTIONAL,
        ),
        counts=True,
    ),
    "rev-list": _Sub(_LOG, counts=True),
    "whatchanged": _Sub(_LOG, counts=True),
    "diff-tree": _Sub(_spec(f"{_DIFF_FLAGS} -r -t --root --no-commit-id -v --always", _DIFF_VALUES, _DIFF_OPTIONAL)),
    "diff-index": _Sub(_spec(f"{_DIFF_FLAGS} -m", _DIFF_VALUES, _DIFF_OPTIONAL)),
    "diff-files": _Sub(_spec(f"{_DIFF_FLAGS} -q", _DIFF_VALUES, _DIFF_OPTIONAL)),
    "ls-files": _Sub(
        _spec(
            "-c --cached -d --deleted -m --modified -o --others -i --ignored -s --stage -u --unmerged -k --killed -z "
            "-t -v -f --full-name --recurse-submodules --exclude-standard --error-unmatch --debug --eol --deduplicate "
            "--directory --no-empty-directory --sparse",
            "-x --exclude -X --exclude-from --exclude-per-directory --with-tree --format",
            "--abbrev",
        )
    ),
    "ls-tree": _Sub(
        _spec(
            "-d -r -t -l --long -z --name-only --name-status --object-only --full-name --full-tree",
            "--format",
            "--abbrev",
        )
    ),
    "rev-parse": _Sub(
        _spec(
            "--verify -q --quiet --show-toplevel --show-prefix --show-cdup --git-dir --git-common-dir "
            "--is-inside-work-tree --is-inside-git-dir --is-bare-repository --is-shallow-repository --absolute-git-dir "
            "--symbolic --symbolic-full-name --all --sq --revs-only --no-revs --flags --no-flags --local-env-vars "
            "--show-superproject-working-tree --show-object-format --show-ref-format --not",
            "--default --since --after --until --before --git-path --path-format --prefix",
            "--abbrev-ref --short --branches --tags --remotes --glob --disambiguate",
        )
    ),
    "blame": _Sub(
        _spec(
            "-l -t -p --porcelain --line-porcelain --incremental -b --root --show-stats -f --show-name -n "
            "--show-number -s -e --show-email -w -c --reverse --first-parent --color-lines --color-by-age --minimal "
            "--progress --no-progress",
            "-L --ignore-rev --ignore-revs-file --date --abbrev -S",
            "-M -C",
        )
    ),
    "grep": _Sub(
        _spec(
            "-i --ignore-case -I -w --word-regexp -v --invert-match -h -H --full-name -E --extended-regexp -G "
            "--basic-regexp -F --fixed-strings -P --perl-regexp -n --line-number --column -l --files-with-matches "
            "--name-only -L --files-without-match -z --null -o --only-matching -c --count --no-color --break "
            "--heading -p --show-function -W --function-context --and --or --not ( ) --all-match -q --quiet "
            "--cached --untracked --no-index --exclude-standard --no-exclude-standard --recurse-submodules -a --text "
            "-r --recursive --no-recursive --no-textconv",
            "-e -f -A --after-context -B --before-context -C --context -m --max-count --threads --max-depth",
            "--color",
        )
    ),
    "describe": _Sub(
        _spec(
            "--tags --all --long --always --exact-match --contains --first-parent",
            "--match --exclude --candidates",
            "--abbrev --dirty --broken",
        )
    ),
    "cat-file": _Sub(_spec("-t -s -e -p --follow-symlinks --allow-unknown-type --use-mailmap --no-use-mailmap")),
    "merge-base": _Sub(_spec("-a --all --octopus --independent --is-ancestor --fork-point")),
    "show-ref": _Sub(
        _spec(
            "--head --heads --branches --tags -d --dereference --verify --exists -q --quiet", "", "-s --hash --abbrev"
        )
    ),
    "for-each-ref": _Sub(
        _spec(
            "--ignore-case --omit-empty --no-color",
            "--count --sort --format --points-at --merged --no-merged --contains --no-contains --exclude",
            "--color",
        )
    ),
    "name-rev": _Sub(_spec("--tags --name-only --no-undefined --always --all --annotate-stdin", "--refs --exclude")),
    "count-objects": _Sub(_spec("-v --verbose -H --human-readable")),
    "version": _Sub(_spec("--build-options")),
    "branch": _Sub(_spec(_LIST_REFS, _LIST_REF_VALUES, "--color --column --abbrev"), check=_only_listing),
    "tag": _Sub(_spec(_LIST_REFS, _LIST_REF_VALUES, "--color --column -n"), check=_only_listing),
    "remote": _Sub(_spec("-v --verbose --push --all"), check=_remote),
    "stash": _Sub(_LOG, check=_first_operand("list", "show")),
    "worktree": _Sub(_spec("--porcelain -v --verbose -z"), check=_first_operand("list", max_operands=1)),
    "reflog": _Sub(_LOG, check=_first_operand("", "show"), counts=True),
    "config": _Sub(
        _spec(
            "--get --get-all --get-regexp --list -l --show-origin --show-scope --local --global --system --worktree "
            "--name-only -z --null --includes --no-includes --bool --int --bool-or-int --path --expiry-date --all "
            "--show-names",
            "--type --default",
        ),
        check=_config,
    ),
}


def git_read_paths(args: list[Word], *, cwd_changed: bool) -> tuple[str, ...] | None:
    """The path operands of a read-only `git ARGS`, or None when it is not read-only."""
    if cwd_changed:
        return None
    i = 0
    while i < len(args) and args[i].static and args[i].value in GIT_HARMLESS_GLOBALS:
        i += 1
    if i >= len(args) or not args[i].static:
        return None
    sub = _SUBCOMMANDS.get(args[i].value or "")
    if sub is None:
        return None
    rest = args[i + 1 :]
    if sub.counts:
        rest = [w for w in rest if not (w.static and _COUNT.fullmatch(w.value or ""))]
    parsed = parse_options(rest, sub.options, f"git {args[i].value}", permute=True)
    if sub.check is not None and not sub.check(parsed):
        return None
    if args[i].value == "grep" and not parsed.has("-e", "-f"):
        parsed.operands = parsed.operands[1:]
    return tuple(_paths(parsed.operands))


def _paths(operands: list[Word]) -> list[str]:
    out: list[str] = []
    for word in operands:
        value = word.value
        if value is None:
            continue
        out.append(value)
        if ":" in value and not value.startswith(":"):
            out.append(value.split(":", 1)[1])  # `HEAD:secrets/key` reads secrets/key from history
    return out
