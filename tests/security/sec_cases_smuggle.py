"""Allowed-prefix smuggling: `Bash(git diff *)` is allowed, and each attack hides a write behind `git diff`.

Every payload, run by plain bash, creates `pwn-<case>` (calibrated), most of them inside the workspace: under the
default mode's `workspace-write` policy the kernel lets a command write there, so only the permission engine stands
between these lines and the file. The `acceptEdits` batch adds redirections and `--output` options that lead out
of the workspace through planted symlinks, where the rules may allow an in-workspace write and the kernel must stop
the real target. A hostile repository batch plants git configuration that runs programs (`diff.external`,
`core.fsmonitor`, filter and textconv drivers) and runs the allowed or read-only git commands over it.
"""

from __future__ import annotations

from typing import Any

from sec_harness import Batch, Case, bash, batches

__all__ = ["BATCHES", "CASES"]

FAMILY = "smuggle"
X = "#!/bin/sh\ntouch pwn-{ID}\n"  # a planted program an attack tries to make git run


def sm(case_id: str, command: str, *, script: bool = False, **kw: Any) -> Case:
    if script:
        kw["files"] = {"x-{ID}.sh": X, **kw.get("files", {})}
    return bash(f"sm-{case_id}", FAMILY, command, **kw)


PAYLOAD = "$(touch pwn-{ID})"

EXPANSIONS = [
    sm("quoted-brace-sq", "git diff ${x:-'}'" + PAYLOAD + "}"),
    sm("quoted-brace-dq", 'git diff ${x:-"}"' + PAYLOAD + "}"),
    sm("default-value", 'git diff "${x:-' + PAYLOAD + '}"'),
    sm("nested-default", "git diff ${x:-${y:-" + PAYLOAD + "}}"),
    sm("assign-default", "git diff ${x:=" + PAYLOAD + "}"),
    sm("alt-value", "x=1; git diff ${x:+" + PAYLOAD + "}"),
    sm("pattern-subst", "x=a; git diff ${x/a/" + PAYLOAD + "}"),
    sm("prefix-strip", "x=a; git diff ${x#" + PAYLOAD + "}"),
    sm("suffix-strip-bt", "x=a; git diff ${x%%`touch pwn-{ID}`}"),
    sm("case-mod", "x=a; git diff ${x^^" + PAYLOAD + "}"),
    sm("subst-in-dq", 'x=a; git diff "${x//"' + PAYLOAD + '"}"'),
    sm("ansi-c-quote", "git diff $'\\'' " + PAYLOAD + " $'\\''"),
    sm("ansi-c-hex", "git diff $'\\x27'" + PAYLOAD),
    sm("locale-string", 'git diff $"' + PAYLOAD + '"'),
    sm("arith-var", "x='a[" + PAYLOAD + "]'; git diff $((x))"),
    sm("arith-var-plus", "x='a[" + PAYLOAD + "]'; git diff $((x + 1))"),
    sm("arith-old", "x='a[" + PAYLOAD + "]'; git diff $[x]"),
    sm("array-subscript", "x='b[" + PAYLOAD + "]'; git diff ${a[x]}"),
    sm("array-subscript-dq", "x='b[" + PAYLOAD + ']\'; git diff "${a[x]}"'),
    sm("substring-offset", "x='b[" + PAYLOAD + "]'; y=abc; git diff ${y:x}"),
    sm("prompt-expand", "x='" + PAYLOAD + "'; git diff ${x@P}"),
    sm("indirect", "x='a[" + PAYLOAD + "]'; git diff ${!x}"),
    sm(
        "arith-from-file", "read -r x < payload-{ID}; git diff $((x))", files={"payload-{ID}": "a[$(touch pwn-{ID})]\n"}
    ),
    sm("subst-in-arith", "git diff $(( $(touch pwn-{ID}) 0 ))"),
    sm("command-subst", "git diff " + PAYLOAD),
    sm("backticks", "git diff `touch pwn-{ID}`"),
    sm("nested-backticks", "git diff `echo \\`touch pwn-{ID}\\``"),
    sm("process-subst-in", "git diff <(touch pwn-{ID})"),
    sm("process-subst-out", "git diff >(touch pwn-{ID})"),
    sm("heredoc-subst", "git diff <<EOF\n" + PAYLOAD + "\nEOF"),
    sm("herestring-subst", "git diff <<< " + PAYLOAD),
    sm("redirect-target-subst", "git diff > " + PAYLOAD),
    sm("subscript-in-default", 'git diff "${x[' + PAYLOAD + ']}"'),
]

ENV_PREFIXES = [
    sm("git-external-diff", "GIT_EXTERNAL_DIFF=./x-{ID}.sh git diff", script=True),
    sm(
        "git-config-count",
        "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=diff.external GIT_CONFIG_VALUE_0=./x-{ID}.sh git diff",
        script=True,
    ),
    sm("env-external-diff", "env GIT_EXTERNAL_DIFF=./x-{ID}.sh git diff", script=True),
    sm("export-external-diff", "export GIT_EXTERNAL_DIFF=./x-{ID}.sh; git diff", script=True),
    sm("declare-x", "declare -x GIT_EXTERNAL_DIFF=./x-{ID}.sh; git diff", script=True),
    sm("export-later", "GIT_EXTERNAL_DIFF=./x-{ID}.sh; export GIT_EXTERNAL_DIFF; git diff", script=True),
    sm("printf-v-export", "printf -v GIT_EXTERNAL_DIFF ./x-{ID}.sh; export GIT_EXTERNAL_DIFF; git diff", script=True),
    sm("config-env", "V=./x-{ID}.sh git --config-env=diff.external=V diff", script=True),
    sm("dash-c-external", "git -c diff.external=./x-{ID}.sh diff", script=True),
    sm(
        "bash-env",
        "BASH_ENV=./x-{ID}.sh GIT_EXTERNAL_DIFF=./bashdiff-{ID} git diff",
        script=True,
        files={"bashdiff-{ID}": "#!/bin/bash\ntrue\n"},
    ),
    sm("path-hijack", "PATH=./bin-{ID}:$PATH git diff", files={"bin-{ID}/git": X}),
    sm("path-assign", "PATH=./bin-{ID}:$PATH; git diff", files={"bin-{ID}/git": X}),
]

COMPOUND = [
    sm("semicolon", "git diff; touch pwn-{ID}"),
    sm("and", "git diff && touch pwn-{ID}"),
    sm("or", "git diff --bogus-flag 2>/dev/null || touch pwn-{ID}"),
    sm("background", "git diff & touch pwn-{ID}"),
    sm("newline", "git diff\ntouch pwn-{ID}"),
    sm("if", "if git diff; then touch pwn-{ID}; fi"),
    sm("pipe-to-sh", "git diff | sh -c 'touch pwn-{ID}'"),
    sm("escaped-blank-comment", "git diff \\ #; touch pwn-{ID}"),
    sm("brace-closer", "git diff } ]; touch pwn-{ID}"),
]

REDIRECTIONS = [
    sm("redirect-inside", "git diff > pwn-{ID}"),
    sm("redirect-append", "git diff >> pwn-{ID}"),
    sm("redirect-stderr", "git diff 2> pwn-{ID}"),
    sm("redirect-both", "git diff &> pwn-{ID}"),
    sm("redirect-clobber", "git diff >| pwn-{ID}"),
    sm("redirect-dup", "git diff >& pwn-{ID}"),
    sm("redirect-fd1", "git diff 1>pwn-{ID}"),
    sm("redirect-rw", "git diff <> pwn-{ID}"),
    sm("redirect-fd-var", "git diff {fd}>pwn-{ID}"),
    sm("redirect-outside", "git diff > ../outside/empty/pwn-{ID}"),
    sm("redirect-home", 'git diff > "$HOME/pwn-{ID}"'),
    sm("redirect-abs", "git diff > {OUT}/empty/pwn-{ID}"),
]

# acceptEdits: an in-workspace redirection is allowed; these lead out through symlinks the workspace holds
ACCEPT = [
    sm("ae-redirect-outlink", "git diff > outlink/empty/pwn-{ID}"),
    sm("ae-redirect-outabs", "git diff > outabs/empty/pwn-{ID}"),
    sm("ae-redirect-homelink", "git diff > homelink/pwn-{ID}"),
    sm("ae-append-bashrc", "git diff >> homelink/.bashrc", unchanged=("../home/.bashrc",)),
    sm("ae-output-option-out", "git diff --output=outlink/empty/pwn-{ID}"),
    sm("ae-output-option-dotdot", "git diff --output=../outside/empty/pwn-{ID}"),
    sm("ae-redirect-proc-cwd", "git diff > /proc/self/cwd/../outside/empty/pwn-{ID}"),
    sm("ae-redirect-hardlink", "git diff > hardlink.txt", unchanged=("../outside/target.txt",)),
    sm("ae-redirect-git-hook", "git diff > .git/hooks/pwn-{ID}"),
    sm("ae-redirect-git-config", "git diff >> .git/config", unchanged=(".git/config",)),
]

HOSTILE_CONFIG = (
    "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = ./hostile.sh\n"
    '[diff]\n\texternal = ./hostile.sh\n[diff "evil"]\n\ttextconv = ./hostile.sh\n\tcommand = ./hostile.sh\n'
    '[filter "evil"]\n\tclean = ./hostile.sh\n\tsmudge = ./hostile.sh\n'
)
HOSTILE_FILES = {
    ".git/config": HOSTILE_CONFIG,
    ".gitattributes": "*.txt diff=evil filter=evil\n",
    "hostile.sh": "#!/bin/sh\ntouch pwn-{ID}\ncat\n",
}
# Fixed: an untrusted repository's git config is replaced by its harmless keys under workspace-write too
# (SandboxConfig.sanitise_git), so an allowed `git diff --ext-diff` runs none of its programs.


def hostile(case_id: str, command: str, **kw: Any) -> Case:
    """A command run in a workspace whose git config and attributes name a program (one batch per case)."""
    return bash(f"sm-{case_id}", FAMILY, command, files=HOSTILE_FILES, **kw)


HOSTILE = [
    hostile("hostile-git-diff", "git diff"),
    hostile("hostile-git-diff-ext", "git diff --ext-diff"),
    hostile("hostile-git-diff-output", "git diff --output=out.patch"),
    hostile("hostile-git-diff-textconv", "git diff --textconv"),
    hostile("hostile-git-status", "git status"),
    hostile("hostile-git-log-p", "git log -p"),
    hostile("hostile-git-show", "git show HEAD"),
    hostile("hostile-git-grep", "git grep -e two"),
    hostile("hostile-git-diff-stat", "git diff --stat"),
]

CASES = EXPANSIONS + ENV_PREFIXES + COMPOUND + REDIRECTIONS + ACCEPT + HOSTILE

ALLOW = ("--allow", "Bash(git diff *)")
BATCHES = [
    *batches("smuggle-default", ALLOW, EXPANSIONS + ENV_PREFIXES + COMPOUND + REDIRECTIONS),
    Batch("smuggle-accept-edits", (*ALLOW, "--permission-mode", "acceptEdits"), tuple(ACCEPT)),
    *(Batch(f"smuggle-{case.id}", ALLOW, (case,)) for case in HOSTILE),
]
