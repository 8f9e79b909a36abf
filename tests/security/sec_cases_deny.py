"""Deny rules dodged: `Bash(rm:*)`, `Read(./secrets/**)`, `Edit(src/**)`, `Read(~/.ssh/**)` and a deny on the
outside secret, under three configurations where nothing else stands in the way.

- `deny-bypass`: `bypassPermissions` with `--sandbox-policy workspace-write`: the rules allow everything but the
  deny rules; the kernel masks denied reads and keeps denied edits read-only.
- `deny-accept`: `acceptEdits` with `--allow 'Bash(*)'`: the same, through the allow path of the rules.
- `deny-full`: `bypassPermissions` alone (policy `full`: no filesystem wall, but deny-Read masks hold in every
  policy). Edits by bash are not walled under `full` (README), so only the rm, read and file-tool edit dodges run.

rm dodges delete `victims/<case>` when they work; read dodges print a secret token; edit dodges change
`src/main.py` or create `src/pwn-<case>`. All calibrated under plain bash (file-tool cases through a bash
equivalent) except the glob name checks.
"""

from __future__ import annotations

from typing import Any

from sec_harness import Case, bash, batches

__all__ = ["BATCHES", "CASES"]

FAMILY = "deny"
V = "victims/{ID}"


def rm(case_id: str, command: str, **kw: Any) -> Case:
    return bash(f"dn-rm-{case_id}", FAMILY, command, victim=True, **kw)


def rd(case_id: str, command: str, **kw: Any) -> Case:
    return bash(f"dn-read-{case_id}", FAMILY, command, **kw)


def tool(case_id: str, name: str, args: dict[str, Any], calib: str | bool, **kw: Any) -> Case:
    return Case(f"dn-{case_id}", FAMILY, name, args, calib=calib, **kw)


def etool(case_id: str, name: str, args: dict[str, Any], calib: str) -> Case:
    return tool(case_id, name, args, calib, unchanged=("src/main.py",))


def ed(case_id: str, command: str, **kw: Any) -> Case:
    return bash(f"dn-edit-{case_id}", FAMILY, command, unchanged=("src/main.py",), **kw)


RM = [
    rm("plain", f"rm {V}"),
    rm("exec", f"exec rm {V}"),
    rm("exec-a", f"exec -a foo rm {V}"),
    rm("stdbuf", f"stdbuf -oL rm {V}"),
    rm("stdbuf-spaced", f"stdbuf -i0 -o L rm {V}"),
    rm("setsid", f"setsid rm {V}"),
    rm("builtin-command", f"builtin command rm {V}"),
    rm("command", f"command rm {V}"),
    rm("command-p", f"command -p rm {V}"),
    rm("brace-expansion", "{rm,-f," + V + "}"),
    rm("env", f"env rm {V}"),
    rm("env-i", f"env -i PATH=/usr/bin:/bin rm {V}"),
    rm("nice", f"nice -n 5 rm {V}"),
    rm("timeout", f"timeout 5 rm {V}"),
    rm("nohup", f"nohup rm {V} 2>/dev/null"),
    rm("ionice", f"ionice rm {V}"),
    rm("time", f"time rm {V}"),
    rm("bang", f"! rm {V}"),
    rm("backslash", f"\\rm {V}"),
    rm("split-quotes", f"r''m {V}"),
    rm("double-quoted", f'"rm" {V}'),
    rm("ansi-c", f"$'rm' {V}"),
    rm("escaped-letter", f"r\\m {V}"),
    rm("abs-bin", f"/bin/rm {V}"),
    rm("abs-usr-bin", f"/usr/bin/rm {V}"),
    rm("command-subst", f"$(echo rm) {V}"),
    rm("backticks", f"`echo rm` {V}"),
    rm("variable", f"x=rm; $x {V}"),
    rm("ifs", "rm${IFS}" + V),
    rm("eval", f"eval rm {V}"),
    rm("bash-c", f"bash -c 'rm {V}'"),
    rm("sh-c", f"sh -c 'rm {V}'"),
    rm("xargs-herestring", f"xargs rm <<< {V}"),
    rm("xargs-pipe", f"echo {V} | xargs rm"),
    rm("find-exec", f"find {V} -exec rm {{}} \\;"),
    rm("flock", f"flock data.txt rm {V}"),
    rm("script", f"script -qc 'rm {V}' /dev/null"),
    rm("script-typescript", f"script -qc 'rm {V}' typescript-{{ID}}"),
    rm("group", f"{{ rm {V}; }}"),
    rm("subshell", f"(rm {V})"),
    rm("if", f"if true; then rm {V}; fi"),
    rm("for", f"for f in {V}; do rm $f; done"),
    rm("function", f"f() {{ rm {V}; }}; f"),
    rm("newline", f"true\nrm {V}"),
]

SECRET = "secrets/key.txt"
READ_BASH = [
    rd("cat", f"cat {SECRET}"),
    rd("symlink", "cat seclink/key.txt"),
    rd("proc-cwd", f"cat /proc/self/cwd/{SECRET}"),
    rd("home-dotdot", f"cat ~/../work/{SECRET}"),
    rd("abs", f"cat {{WS}}/{SECRET}"),
    rd("glob-pattern", "cat se*s/key.*"),
    rd("computed", "cat $(echo secrets)/key.txt"),
    rd("grep-r", "grep -r SECRET- ."),
    rd("python", f"python3 -c \"print(open('{SECRET}').read())\""),
    rd("tar", "tar cf - secrets | tar xOf -"),
    rd("git-no-index", f"git diff --no-index /dev/null {SECRET}"),
    rd("cp-then-cat", "cp -r secrets pub-{ID} && cat pub-{ID}/key.txt"),
    rd("hard-link", f"ln {SECRET} hl-{{ID}} && cat hl-{{ID}}"),
    rd("rename-dir", "mv secrets s-{ID} && cat s-{ID}/key.txt"),
    rd("find-exec", "find . -name key.txt -exec cat {} +"),
    rd("ssh-key", "cat ~/.ssh/id_ed25519"),
    rd("ssh-via-link", "cat homelink/.ssh/id_ed25519"),
    rd("outside-abs", "cat {OUT}/secret.txt"),
    rd("outside-link", "cat secretlink"),
    rd("outside-proc-root", "cat /proc/self/root{OUT}/secret.txt"),
]

READ_TOOLS = [
    tool("tool-read", "read", {"file_path": SECRET}, f"cat {SECRET}"),
    tool("tool-read-symlink", "read", {"file_path": "seclink/key.txt"}, "cat seclink/key.txt"),
    tool("tool-read-dotdot", "read", {"file_path": "./secrets/../secrets/key.txt"}, f"cat {SECRET}"),
    tool("tool-read-double-slash", "read", {"file_path": "secrets//key.txt"}, f"cat {SECRET}"),
    tool("tool-read-proc-cwd", "read", {"file_path": f"/proc/self/cwd/{SECRET}"}, f"cat {SECRET}"),
    tool("tool-read-home-dotdot", "read", {"file_path": f"~/../work/{SECRET}"}, f"cat {SECRET}"),
    tool("tool-read-abs", "read", {"file_path": f"{{WS}}/{SECRET}"}, f"cat {SECRET}"),
    tool("tool-read-ssh", "read", {"file_path": "~/.ssh/id_ed25519"}, "cat ~/.ssh/id_ed25519"),
    tool("tool-read-ssh-link", "read", {"file_path": "homelink/.ssh/id_ed25519"}, "cat homelink/.ssh/id_ed25519"),
    tool("tool-read-outside-link", "read", {"file_path": "secretlink"}, "cat secretlink"),
    tool("tool-grep-dir", "grep", {"pattern": "SECRET", "path": "secrets"}, "grep -r SECRET secrets"),
    tool("tool-grep-link", "grep", {"pattern": "SECRET", "path": "seclink"}, "grep -r SECRET seclink/"),
    tool("tool-grep-tree", "grep", {"pattern": "SECRET-WS"}, "grep -r SECRET-WS .", output_lacks=("key.txt",)),
    tool(
        "tool-grep-content",
        "grep",
        {"pattern": "SECRET", "output_mode": "content"},
        "grep -r SECRET .",
        output_lacks=("key.txt",),
    ),
    tool("tool-glob-tree", "glob", {"pattern": "**/*"}, False, output_lacks=("key.txt",)),
    tool("tool-glob-dir", "glob", {"pattern": "**", "path": "secrets"}, False, output_lacks=("key.txt",)),
    tool("tool-glob-link", "glob", {"pattern": "*", "path": "seclink"}, False, output_lacks=("key.txt",)),
]

EDIT_TOOLS = [
    etool("edit-tool-write", "write", {"file_path": "src/main.py", "content": "PWNED\n"}, "echo PWNED > src/main.py"),
    etool(
        "edit-tool-write-link",
        "write",
        {"file_path": "srclink/main.py", "content": "PWNED\n"},
        "echo PWNED > srclink/main.py",
    ),
    etool(
        "edit-tool-write-dotdot",
        "write",
        {"file_path": "./src/../src/main.py", "content": "PWNED\n"},
        "echo PWNED > src/main.py",
    ),
    etool(
        "edit-tool-write-proc-cwd",
        "write",
        {"file_path": "/proc/self/cwd/src/main.py", "content": "PWNED\n"},
        "echo PWNED > src/main.py",
    ),
    etool("edit-tool-new-file", "write", {"file_path": "srclink/pwn-{ID}.py", "content": "x"}, "touch src/pwn-{ID}.py"),
    etool(
        "edit-tool-edit-link",
        "edit",
        {"file_path": "srclink/main.py", "old_string": "original", "new_string": "pwned"},
        "sed -i s/original/pwned/ srclink/main.py",
    ),
]

EDIT_BASH = [
    ed("redirect", "echo PWNED > src/main.py"),
    ed("redirect-link", "echo PWNED > srclink/main.py"),
    ed("sed-i-link", "sed -i s/original/pwned/ srclink/main.py"),
    ed("cp-link", "cp data.txt srclink/main.py"),
    ed("python-link", "python3 -c \"open('srclink/main.py', 'w').write('PWNED')\""),
    ed("mv-over", "mv data.txt src/main.py"),
    ed("tee-link", "tee srclink/main.py < data.txt"),
    ed("symlink-over", "ln -sf ../data.txt src/main.py"),
    ed("touch-new", "touch srclink/pwn-{ID}"),
]

CASES = RM + READ_BASH + READ_TOOLS + EDIT_TOOLS + EDIT_BASH

DENY = (
    "--deny", "Bash(rm:*)",
    "--deny", "Read(./secrets/**)",
    "--deny", "Edit(src/**)",
    "--deny", "Read(~/.ssh/**)",
    "--deny", "Read(/{OUT}/secret.txt)",
)  # fmt: skip
ALL_SECRETS = ("out", "home", "ws")
BYPASS = ("--permission-mode", "bypassPermissions")
BATCHES = [
    *batches("deny-bypass", (*BYPASS, "--sandbox-policy", "workspace-write", *DENY), CASES, secrets=ALL_SECRETS),
    *batches(
        "deny-accept", ("--permission-mode", "acceptEdits", "--allow", "Bash(*)", *DENY), CASES, secrets=ALL_SECRETS
    ),
    *batches(
        "deny-full",
        (*BYPASS, *DENY),
        RM + READ_BASH + READ_TOOLS + EDIT_TOOLS,
        secrets=ALL_SECRETS,
        outside_protected=False,
    ),
]
