"""Adversarial corpus: attacks on the permission layer, each with the decision it must get.

Families (the attacks that got through the hand-written tokenizer, and more of each kind):

- SMUGGLE: `Bash(git diff *)` allowed; code run from inside expansions, quoting tricks, arithmetic, environment
  prefixes that make git run another program, and redirections nobody checked. None may be allowed.
- PLAN: side effects in plan mode: writes through redirections, options that write or run programs, builtins that
  evaluate subscripts, xargs feeding options, git with configured programs. All denied; the read-only ones allowed.
- DODGE: `Bash(rm:*)` denied; every way of running rm anyway. All denied.
- FILES: Read/Edit deny rules against bash reads and writes.
- DEFAULT / ACCEPT / BYPASS: what the modes auto-allow and what they must still ask.

Each case: mode, rules, command, expected decision kind.
"""

from __future__ import annotations

from typing import Any

import pytest

from tau.config.spec import PermissionMode, PermissionsSpec
from tau.permissions.policy import PermissionPolicy

WS = "/work/proj"
HOME = "/home/me"

Rules = dict[str, tuple[str, ...]]
Case = tuple[PermissionMode, Rules, str, str]

GIT_DIFF: Rules = {"allow": ("Bash(git diff *)",)}
SMUGGLE: list[tuple[str, str]] = [
    ("git diff ${x:-'}'$(touch pwn)}", "ask"),
    ('git diff ${x:-"}"$(touch pwn)}', "ask"),
    ('git diff "${x:-$(touch pwn)}"', "ask"),
    ("git diff ${x:-${y:-$(touch pwn)}}", "ask"),
    ("git diff ${x/a/$(touch pwn)}", "ask"),
    ("git diff ${x/#$(touch pwn)/y}", "ask"),
    ("git diff ${x#$(touch pwn)}", "ask"),
    ("git diff ${x%%`touch pwn`}", "ask"),
    ("git diff ${x^^$(touch pwn)}", "ask"),
    ('git diff "${x//"$(touch pwn)"}"', "ask"),
    ("git diff $'\\'' $(touch pwn) $'\\''", "ask"),
    ("git diff $'\\'' $(touch pwn) '", "ask"),
    ("git diff $'\\x27'$(touch pwn)", "ask"),
    ('git diff $"$(touch pwn)"', "ask"),
    ("git diff $((x))", "ask"),
    ("git diff $((x + 1))", "ask"),
    ("git diff $(( $(cat f) ))", "ask"),
    ("git diff $[x]", "ask"),
    ("git diff ${a[x]}", "ask"),
    ("git diff ${a[$i]}", "ask"),
    ('git diff "${a[x]}"', "ask"),
    ("git diff ${x@P}", "ask"),
    ("git diff ${x@Q}", "ask"),
    ("git diff ${!x}", "ask"),
    ("git diff ${!x[@]}", "ask"),
    ("git diff ${x:y}", "ask"),
    ("git diff ${x:0:$((n))}", "ask"),
    ("git diff ${#a[x]}", "ask"),
    ("git diff $(touch pwn)", "ask"),
    ("git diff `touch pwn`", "ask"),
    ("git diff <(touch pwn)", "ask"),
    ("git diff >(touch pwn)", "ask"),
    ("git diff <<EOF\n$(touch pwn)\nEOF", "ask"),
    ("git diff <<EOF\n`touch pwn`\nEOF", "ask"),
    ("git diff <<EOF\n$((x))\nEOF", "ask"),
    ("git diff <<< $(touch pwn)", "ask"),
    ("git diff > $(touch pwn)", "ask"),
    ("git diff ${x:=$(touch pwn)}", "ask"),
    ('git diff "${x[$(touch pwn)]}"', "ask"),
    ("git diff `echo \\`touch pwn\\``", "ask"),
    ("git diff > ../x", "ask"),
    ("git diff > /tmp/x", "ask"),
    ("git diff >> ~/.bashrc", "ask"),
    ("git diff 2> ../err", "ask"),
    ("git diff &> out", "ask"),
    ("git diff &>> out", "ask"),
    ("git diff >| x", "ask"),
    ("git diff >& x", "ask"),
    ("git diff >&x", "ask"),
    ("git diff 1>x", "ask"),
    ("git diff <> x", "ask"),
    ('git diff > "$HOME/x"', "ask"),
    ("git diff > ~other/x", "ask"),
    ("git diff {fd}>x", "ask"),
    ("git diff > out.patch", "ask"),
    ("GIT_EXTERNAL_DIFF=./x git diff", "ask"),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=diff.external GIT_CONFIG_VALUE_0=./x git diff", "ask"),
    ("BASH_ENV=./x git diff", "ask"),
    ("ENV=./x git diff", "ask"),
    ("PATH=.:$PATH git diff", "ask"),
    ("LD_PRELOAD=./x.so git diff", "ask"),
    ("LD_LIBRARY_PATH=. git diff", "ask"),
    ("GIT_DIR=/tmp/evil git diff", "ask"),
    ("GIT_WORK_TREE=/ git diff", "ask"),
    ("GIT_PAGER=./x git diff", "ask"),
    ("PAGER=./x git diff", "ask"),
    ("GIT_SSH_COMMAND=x git diff", "ask"),
    ("HOME=/tmp/evil git diff", "ask"),
    ("XDG_CONFIG_HOME=/tmp/evil git diff", "ask"),
    ("env GIT_EXTERNAL_DIFF=x git diff", "ask"),
    ("env -i GIT_DIR=x git diff", "ask"),
    ("env -u HOME GIT_PAGER=x git diff", "ask"),
    ("export GIT_EXTERNAL_DIFF=x; git diff", "ask"),
    ("export GIT_EXTERNAL_DIFF=x && git diff", "ask"),
    ("declare -x GIT_PAGER=x; git diff", "ask"),
    ("GIT_EXTERNAL_DIFF=x; export GIT_EXTERNAL_DIFF; git diff", "ask"),
    ("PATH=/tmp/evil; git diff", "ask"),
    ("read PATH < f; git diff", "ask"),
    ("printf -v PATH /tmp/evil; git diff", "ask"),
    ("for PATH in /tmp/evil; do git diff; done", "ask"),
    ("git -c diff.external=./x diff", "ask"),
    ("git -c core.pager=./x diff", "ask"),
    ("git --config-env=diff.external=X diff", "ask"),
    ("git --git-dir=/tmp/x diff", "ask"),
    ("git --work-tree=/ diff", "ask"),
    ("git -C /tmp/x diff", "ask"),
    ("git --exec-path=/tmp diff", "ask"),
    ("git -p diff", "ask"),
    ("git diff; touch pwn", "ask"),
    ("git diff && touch pwn", "ask"),
    ("git diff || touch pwn", "ask"),
    ("git diff & touch pwn", "ask"),
    ("git diff | sh", "ask"),
    ("git diff\ntouch pwn", "ask"),
    ("git diff \\\n; touch pwn", "ask"),
    ("git diff\rtouch pwn", "ask"),
    ("if git diff; then touch pwn; fi", "ask"),
    ("git diff \\ #; touch pwn", "ask"),  # bash: ` #` is a word, not a comment
    ("git diff \n\n\\touch pwn", "ask"),  # the parser folds the next line into the word
    ("git diff $\n\\touch pwn", "ask"),
    ("git diff\n\\ touch pwn", "ask"),
    ("git diff } ]; touch pwn", "ask"),
    ("git diff a\\\tb", "ask"),
    ("git 'diff --output=../x'", "ask"),  # one word for git; joined text would read `git diff --output=../x`
    ("'git diff' x", "ask"),
    ('git "$(echo diff) x"', "ask"),
    ("git diff $CMD", "allow"),  # an unknown argument is what `git diff *` accepts; it runs nothing by itself
    ("git diff # $(touch pwn)", "allow"),
    ("git diff", "allow"),
    ("git diff HEAD~1 -- src/a.py", "allow"),
    ("git --no-pager diff --stat", "allow"),
    ("git diff > /dev/null 2>&1", "allow"),
]

PLAN: list[tuple[str, str]] = [
    ("ls >& out", "deny"),
    ("ls >&out", "deny"),
    ("ls &>out", "deny"),
    ("echo x >| f", "deny"),
    ("ls 1>f", "deny"),
    ("ls 2>err", "deny"),
    ("> f", "deny"),
    (": > f", "deny"),
    ("cat < x > y", "deny"),
    ("exec >x", "deny"),
    ("exec 3>x", "deny"),
    ("cat <<EOF > x\na\nEOF", "deny"),
    ("ls | tee x", "deny"),
    ("{ ls; } > f", "deny"),
    ("ls | wc > f", "deny"),
    ("sort -o out in", "deny"),
    ("sort --output=out in", "deny"),
    ("sort --outp=out in", "deny"),
    ("sort -ro out in", "deny"),
    ("sort --compress-program=sh in", "deny"),
    ("sort -T /tmp in", "deny"),
    ("sort $opts in", "deny"),
    ("sort *", "deny"),
    ("git grep -O foo", "deny"),
    ("git grep -Ovim foo", "deny"),
    ("git grep --open-files-in-pager=sh foo", "deny"),
    ("git -p log", "deny"),
    ("git --paginate log", "deny"),
    ("git -c core.pager=sh log", "deny"),
    ("git -C /tmp log", "deny"),
    ("git -C sub --no-pager log --oneline", "deny"),
    ("git --git-dir=/x log", "deny"),
    ("git --work-tree=/ status", "deny"),
    ("git --exec-path=/tmp status", "deny"),
    ("git log --output=x", "deny"),
    ("git log --out=x", "deny"),
    ("git diff --ext-diff", "deny"),
    ("git diff --textconv", "deny"),
    ("git log --show-signature", "deny"),
    ("git cat-file --textconv HEAD:x", "deny"),
    ("git cat-file --filters HEAD:x", "deny"),
    ("git config core.pager x", "deny"),
    ("git config --add a.b c", "deny"),
    ("git config --unset a.b", "deny"),
    ("git branch newbranch", "deny"),
    ("git branch -D old", "deny"),
    ("git tag v1", "deny"),
    ("git tag -v v1", "deny"),
    ("git stash", "deny"),
    ("git stash pop", "deny"),
    ("git remote add x y", "deny"),
    ("git remote show origin", "deny"),
    ("git worktree add x", "deny"),
    ("git reflog expire --all", "deny"),
    ("git checkout x", "deny"),
    ("git commit -m x", "deny"),
    ("git push", "deny"),
    ("git help log", "deny"),
    ("cd /tmp && git status", "deny"),
    ("cd sub && git status", "deny"),
    ("(cd sub; git status)", "deny"),
    ("pushd sub; git log", "deny"),
    ("env -C sub git status", "deny"),
    ("ls | xargs git log", "deny"),
    ("test -v 'a[$(touch pwn)]'", "deny"),
    ("[ -v 'a[$(touch pwn)]' ]", "deny"),
    ("[[ -v a[x] ]]", "deny"),
    ('test -v "$name"', "deny"),
    ("[[ $x -eq 1 ]]", "deny"),
    ("printf -v 'a[$(touch pwn)]' x", "deny"),
    ('printf -v "$n" x', "deny"),
    ("read -a 'a[$(touch pwn)]'", "deny"),
    ("unset 'a[$(touch pwn)]'", "deny"),
    ("declare -i n; n=x", "deny"),
    ("declare -n r=x", "deny"),
    ("mapfile -C 'touch pwn' -c 1 a < f", "deny"),
    ("let x=y", "deny"),
    ("((x = y))", "deny"),
    ("echo $((x))", "deny"),
    ("echo ${!x}", "deny"),
    ("xargs sort", "deny"),
    ("ls | xargs sort", "deny"),
    ("ls | xargs -I{} sort {}", "deny"),
    ("ls | xargs -0 rm", "deny"),
    ("ls | xargs sh -c 'rm $1'", "deny"),
    ("ls | xargs sh -c 'cat $1'", "deny"),  # cat reads a computed path: it may lie outside the workspace
    ("find . -delete", "deny"),
    ("find . -exec rm {} \\;", "deny"),
    ("find . -exec cat {} \\;", "deny"),
    ("find . -execdir ls \\;", "deny"),
    ("find . -ok cat {} \\;", "deny"),
    ("find . -fprint x", "deny"),
    ("find . -fls x", "deny"),
    ("find . -name x -o -delete", "deny"),
    ("find $dir", "deny"),
    ("rg --pre sh x", "deny"),
    ("rg --pre=sh x", "deny"),
    ("rg --pr sh x", "deny"),
    ("rg -z x", "deny"),
    ("tree -o x", "deny"),
    ("date -s 2020-01-01", "deny"),
    ("date 010101", "deny"),
    ("hostname evil", "deny"),
    ("uniq a b", "deny"),
    ("sed -n 1p x", "deny"),
    ("awk '{print}' x", "deny"),
    ("less x", "deny"),
    ("xxd a b", "deny"),
    ("python -c 'print(1)'", "deny"),
    ("time -o out ls", "deny"),
    ("/tmp/evil/ls", "deny"),
    ("./ls", "deny"),
    ("sudo ls", "deny"),
    ("env FOO=1 ls", "deny"),
    ("ls ~/.ssh", "deny"),
    ("cat ../x", "deny"),
    ("cat /etc/passwd", "deny"),
    ("source ./env.sh", "deny"),
    ('eval "$x"', "deny"),
    ("alias ls='rm -rf x'", "deny"),
    ("ls", "allow"),
    ("ls -la src", "allow"),
    ("ls > /dev/null 2>&1", "allow"),
    ("echo x > /dev/tty", "allow"),
    ("git status", "allow"),
    ("git --no-pager log --oneline -5", "allow"),
    ("git log -p -- src", "allow"),
    ("git show HEAD~1:README.md", "allow"),
    ("git diff --stat HEAD", "allow"),
    ("git branch -a", "allow"),
    ("git tag -l 'v*'", "allow"),
    ("git stash list", "allow"),
    ("git remote -v", "allow"),
    ("git config --get user.name", "allow"),
    ("git status; cd sub", "allow"),
    ("grep -rn foo .", "allow"),
    ("rg -n foo src", "allow"),
    ("wc -l *.py", "allow"),
    ("sort -u -k2 a.txt", "allow"),
    ("uniq -c a.txt", "allow"),
    ("ls | xargs cat", "deny"),  # stdin decides the paths: `echo /etc/shadow | xargs cat`
    ("ls | xargs wc -l", "deny"),
    ("find . -name '*.py' -type f", "allow"),
    ('find . -name "$x"', "allow"),
    ("tree -L 2", "allow"),
    ("date +%F", "allow"),
    ("cat <<EOF\nhi\nEOF", "allow"),
    ("for f in a b; do cat $f; done", "deny"),  # computed paths are not proven inside the workspace
    ("head -n 5 README.md | wc -c", "allow"),
    ("cd sub && ls", "allow"),
    ("printf -v x %s y", "allow"),
    ("test -v x && echo set", "allow"),
    ("export LANG=C; ls", "allow"),
    ("command -v git", "allow"),
    ("eval 'ls -la'", "allow"),
    ("bash -c 'ls -la'", "allow"),
    ("set -euo pipefail; ls", "allow"),
    ("set -o posix", "deny"),  # posix mode expands aliases
    ('while IFS= read -r line; do echo "$line"; done < f', "allow"),
    ("IFS=: ls", "deny"),
    ("trap - EXIT", "allow"),
    ("trap 'rm x' EXIT", "deny"),
]

RM: Rules = {"deny": ("Bash(rm:*)",)}
DODGE: list[str] = [
    "rm x",
    "rm",
    "  rm x",
    "rm\tx",
    "exec rm x",
    "exec -a foo rm x",
    "exec -c rm x",
    "stdbuf rm x",
    "stdbuf -oL -e0 rm x",
    "stdbuf -i0 -o L rm x",
    "setsid rm x",
    "setsid -f rm x",
    "builtin command rm x",
    "command rm x",
    "command -p rm x",
    "command -- rm x",
    "command exec rm x",
    "{rm,-f,x}",
    "{ rm x; }",
    "rm{,} x",
    "\\rm x",
    "'r'm x",
    "r\\m x",
    '"rm" x',
    'r""m x',
    "r''m x",
    "$'\\x72m' x",
    "$'\\162m' x",
    "$'\\u0072m' x",
    '$"rm" x',
    "r\\\nm x",
    "/bin/rm x",
    "./rm x",
    "/usr/bin/../bin/rm x",
    "/???/rm x",
    "nice rm x",
    "nice -n 5 rm x",
    "nice -5 rm x",
    "nice --adjustment=5 rm x",
    "ionice -c3 rm x",
    "timeout 5 rm x",
    "timeout -k 1 -s KILL 5 rm x",
    "nohup rm x",
    "nohup rm x &",
    "time rm x",
    "time -p rm x",
    "env rm x",
    "env -i rm x",
    "env -u X rm x",
    "env X=1 rm x",
    "env -- rm x",
    "env - rm x",
    "/usr/bin/env rm x",
    "env -S 'rm x'",
    "sudo rm x",
    "sudo -u root rm x",
    "sudo -E rm x",
    "sudo -s rm x",
    "doas rm x",
    "busybox rm x",
    "chroot / rm x",
    "flock /tmp/l rm x",
    "flock /tmp/l -c 'rm x'",
    "coproc rm x",
    "watch rm x",
    "watch -n 1 -x rm x",
    "xargs rm",
    "echo x | xargs -0 rm",
    "ls | xargs -n1 -P4 rm",
    "ls | xargs -I{} rm {}",
    "xargs sh -c 'rm \"$@\"' _",
    "find . -exec rm {} \\;",
    "find . -execdir rm {} +",
    "find . -ok rm {} \\;",
    "find . -exec sh -c 'rm {}' \\;",
    "bash -c 'rm x'",
    'sh -c "rm x"',
    "bash -lc 'rm x'",
    "bash -e -o pipefail -c 'rm x'",
    "bash -c -- 'rm x'",
    "bash -O extglob -c 'rm x'",
    "dash -c 'rm x'",
    "zsh -c 'rm x'",
    "ksh -c 'rm x'",
    "busybox sh -c 'rm x'",
    "sudo sh -c 'rm x'",
    "env bash -c 'rm x'",
    "bash -c 'bash -c \"rm x\"'",
    "bash -c 'rm x; ('",
    "eval rm x",
    "eval 'rm x'",
    'eval "r""m x"',
    "builtin eval rm x",
    "\\eval 'rm x'",
    "e\"val\" 'rm x'",
    "trap 'rm x' EXIT",
    "su -c 'rm x' root",
    "if true; then rm x; fi",
    "for i in 1; do rm x; done",
    "while true; do rm x; break; done",
    "case a in a) rm x;; esac",
    "f() { rm x; }; f",
    "(rm x)",
    "! rm x",
    "true && rm x",
    "ls; rm x",
    "ls | rm x",
    "echo hi; $CMD; rm -rf /",
    "echo $(rm x)",
    "echo `rm x`",
    'echo "$(rm x)"',
    "cat <(rm x)",
    "ls > >(rm x)",
    "x=$(rm x)",
    "echo ${x:-$(rm x)}",
    "cat <<EOF\n$(rm x)\nEOF",
    "LANG=C rm x",
    "FOO=1 rm x",
    "$(echo rm) x",
    "x=rm; $x y",
    "${x:-rm} y",
    "ls\rrm x",
    "timeout --weird 5 rm x",
    "x \\ #; rm x",
    "x \n\n\\rm x",
    "ls $\n\\rm x",
    "! { rm x; }",
]

FILES: list[tuple[PermissionMode, Rules, str, str]] = [
    ("default", {"deny": ("Read(./secrets/**)",)}, "cat secrets/key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "cat ./secrets/../secrets/key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "cat < secrets/key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "grep -r x secrets", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "ls secrets", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "cd secrets && cat key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "git show HEAD:secrets/key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "xargs -a secrets/key cat", "deny"),
    ("plan", {"deny": ("Read(./secrets/**)",)}, "head -c 10 secrets/key", "deny"),
    ("bypassPermissions", {"deny": ("Read(./secrets/**)",)}, "sort secrets/key", "deny"),
    ("default", {"deny": ("Read(./secrets/**)",)}, "grep secrets/ README.md", "allow"),  # a pattern, not a path
    ("default", {"deny": ("Read(~/.ssh/**)",)}, "cat ~/.ssh/id_rsa", "deny"),
    ("default", {"deny": ("Read(//etc/shadow)",)}, "cat /etc/shadow", "deny"),
    ("default", {"deny": ("Edit(src/**)",)}, "echo x > src/a.py", "deny"),
    ("acceptEdits", {"deny": ("Edit(src/**)",)}, "echo x >> ./src/../src/b", "deny"),
    ("bypassPermissions", {"deny": ("Edit(src/**)",)}, "echo x > src/a.py", "deny"),
    ("acceptEdits", {"deny": ("Edit(src/**)",)}, "cd src && echo x > a.py", "deny"),
    ("acceptEdits", {"deny": ("Edit(//etc/**)",)}, "echo x > /etc/motd", "deny"),
    ("acceptEdits", {"deny": ("Edit(src/**)",)}, "echo x > docs/a.md", "allow"),
    ("default", {"allow": ("Edit(docs/**)",)}, "echo x > docs/a.md", "allow"),
    ("default", {"allow": ("Edit(docs/**)",)}, "echo x > src/a.md", "ask"),
    ("default", {"ask": ("Edit(docs/**)",)}, "ls > docs/a.md", "ask"),
]

MODES: list[tuple[PermissionMode, Rules, str, str]] = [
    ("default", {}, "ls -la", "allow"),
    ("default", {}, "cat README.md | head -5", "allow"),
    ("default", {}, "git log --oneline -5", "allow"),
    ("default", {}, "grep -rn TODO src", "allow"),
    ("default", {}, "ls ~", "ask"),
    ("default", {}, "cat /etc/hosts", "ask"),
    ("default", {}, "cd /tmp && ls", "ask"),
    ("default", {}, "ls > out.txt", "ask"),
    ("default", {}, "npm test", "ask"),
    ("default", {"ask": ("Bash(ls:*)",)}, "ls -la", "ask"),
    ("default", {"deny": ("Bash(git log:*)",)}, "git -C x --no-pager log", "deny"),
    ("default", {"allow": ("Bash(npm test:*)",)}, "npm test", "allow"),
    ("default", {"allow": ("Bash(npm test:*)",)}, "NODE_ENV=test npm test", "ask"),
    ("default", {"allow": ("Bash(NODE_ENV=test npm test)",)}, "NODE_ENV=test npm test", "allow"),
    ("default", {"allow": ("Bash(npm test:*)",)}, "sudo npm test", "ask"),
    ("default", {"allow": ("Bash(sudo npm test)",)}, "sudo npm test", "allow"),
    ("default", {"allow": ("Bash(echo:*)",)}, "echo $((x + 1))", "ask"),
    ("default", {"allow": ("Bash(echo $((x + 1)))",)}, "echo $((x + 1))", "allow"),
    ("default", {"allow": ("Bash(make:*)",)}, "timeout 60 make", "allow"),
    ("acceptEdits", {}, "echo x > notes.md", "allow"),
    ("acceptEdits", {}, "ls > out.txt && cat out.txt", "allow"),
    ("acceptEdits", {}, "echo x > ../notes.md", "ask"),
    ("acceptEdits", {}, "echo x > /tmp/x", "ask"),
    ("acceptEdits", {}, "echo x > $OUT", "ask"),
    ("acceptEdits", {}, "cd $d && echo x > f", "ask"),
    ("acceptEdits", {}, "touch x", "ask"),
    ("bypassPermissions", {}, "rm -rf build", "allow"),
    ("bypassPermissions", {}, 'eval "$x"', "allow"),
    ("bypassPermissions", {"deny": ("Bash(rm:*)",)}, 'eval "$x"', "ask"),
    ("bypassPermissions", {"deny": ("Bash(rm:*)",)}, "git diff $((x))", "ask"),
    ("bypassPermissions", {"deny": ("Bash(rm:*)",)}, "timeout 5 rm x", "deny"),
    ("plan", {"allow": ("Bash",)}, "rm x", "deny"),
    ("plan", {"ask": ("Bash(ls:*)",)}, "ls", "ask"),
]


def _cases() -> list[Any]:
    cases: list[Any] = []
    cases += [pytest.param("default", GIT_DIFF, c, k, id=f"smuggle:{c[:60]}") for c, k in SMUGGLE]
    cases += [pytest.param("plan", {}, c, k, id=f"plan:{c[:60]}") for c, k in PLAN]
    for mode in ("default", "acceptEdits", "plan", "bypassPermissions"):
        cases += [pytest.param(mode, RM, c, "deny", id=f"dodge-{mode}:{c[:60]}") for c in DODGE]
    cases += [pytest.param(m, r, c, k, id=f"files-{m}:{c[:60]}") for m, r, c, k in FILES]
    cases += [pytest.param(m, r, c, k, id=f"modes-{m}:{c[:60]}") for m, r, c, k in MODES]
    return cases


@pytest.mark.parametrize(("mode", "rules", "command", "expected"), _cases())
def test_adversarial(mode: PermissionMode, rules: Rules, command: str, expected: str) -> None:
    spec = PermissionsSpec(
        mode=mode, allow=rules.get("allow", ()), ask=rules.get("ask", ()), deny=rules.get("deny", ())
    )
    policy = PermissionPolicy.from_spec(spec, workspace=WS, home=HOME)
    decision = policy.evaluate("bash", {"command": command})
    assert decision.kind == expected, decision.reason


def test_the_corpus_is_large() -> None:
    assert len(_cases()) >= 200


@pytest.mark.parametrize(
    "command",
    [
        "cat $HOME/.aws/credentials",
        "head -n 5 ${KEY_FILE}",
        "wc -l $(printf /etc/shadow)",
        "echo /etc/shadow | xargs cat",
    ],
)
def test_a_computed_read_is_not_auto_allowed_in_default_mode(command: str) -> None:
    policy = PermissionPolicy.from_spec(PermissionsSpec(), workspace=WS, home=HOME)
    assert policy.evaluate("bash", {"command": command}).kind == "ask"


@pytest.mark.parametrize(
    ("command", "located"),
    [
        ("cat link/x", f"{WS}/link/x"),
        ("cd link && cat x", f"{WS}/link/x"),
        ("cat < link/x", f"{WS}/link/x"),
        ("grep -r k link/", f"{WS}/link"),
    ],
)
def test_reads_are_judged_where_they_really_lead(command: str, located: str) -> None:
    policy = PermissionPolicy.from_spec(PermissionsSpec(), workspace=WS, home=HOME)
    assert located in policy.read_locations(command)
    assert policy.evaluate("bash", {"command": command}).kind == "allow"  # as written: inside
    leads = {located: "/elsewhere/x"}
    assert policy.evaluate("bash", {"command": command}, real=leads).kind == "ask"
    plan = PermissionPolicy.from_spec(PermissionsSpec(mode="plan"), workspace=WS, home=HOME)
    assert plan.evaluate("bash", {"command": command}, real=leads).kind == "deny"


def test_input_redirection_outside_the_workspace_is_not_auto_allowed() -> None:
    policy = PermissionPolicy.from_spec(PermissionsSpec(), workspace=WS, home=HOME)
    assert policy.evaluate("bash", {"command": "cat < ../secret"}).kind == "ask"
    assert policy.evaluate("bash", {"command": "xargs -a /etc/secret echo"}).kind == "ask"


@pytest.mark.parametrize(
    "path", [".git/hooks/pre-commit", ".git/config", ".tau/config.toml", ".claude/settings.json", ".mcp.json"]
)
def test_edits_of_what_configures_later_runs_are_never_auto_allowed(path: str) -> None:
    accept = PermissionPolicy.from_spec(PermissionsSpec(mode="acceptEdits", allow=("Edit",)), workspace=WS, home=HOME)
    assert accept.evaluate("write", {"file_path": path}).kind == "ask"
    named = PermissionPolicy.from_spec(PermissionsSpec(allow=(f"Edit({path})",)), workspace=WS, home=HOME)
    assert named.evaluate("write", {"file_path": path}).kind == "allow"
    bypass = PermissionPolicy.from_spec(PermissionsSpec(mode="bypassPermissions"), workspace=WS, home=HOME)
    assert bypass.evaluate("write", {"file_path": path}).kind == "allow"
