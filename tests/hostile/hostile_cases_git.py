"""Family "git": read-only commands the permission layer lets through must not run what the repository configures.

The scripted model runs `git status`, `git diff`, `git log -p`, `git show` (and `git blame` where textconv applies)
in default mode, and again in plan mode for a few, in a clone whose `.git/config` (or an included file, a worktree
config, a `gitdir:` indirection, a submodule's own config) names programs: `core.fsmonitor`, `diff.external`,
textconv and diff drivers via `.gitattributes`, clean/smudge/process filters, `core.hooksPath` hooks,
`gpg.program` for `log.showSignature` on a signed commit. And one that reads rather than runs:
`core.worktree` pointing at `$HOME`, so `git diff` would print the user's key. No notice is expected: these are not
settings tau reads, the sandbox hands git a sanitised config. (Pagers are left out: without a terminal git never
starts one, so such a case could not fail.) `test_hostile_git_vectors.py` shows every vector here is live: the
same commands, run with plain git in the same clone, run the repository's program (or print the key).
"""

from __future__ import annotations

import shutil

from hostile_kit import GIT_READS, Case, World, bash, git

FAMILY = "git"
CHANGED = {"README.md": "# a project\n\nchanged by the clone\n"}
PLAN = ("--permission-mode", "plan")


def _signed_commit(world: World) -> None:
    tree = git(world, "rev-parse", "HEAD^{tree}").strip()
    parent = git(world, "rev-parse", "HEAD").strip()
    stamp = "Mallory <m@example.invalid> 1700000000 +0000"
    body = (
        f"tree {tree}\nparent {parent}\nauthor {stamp}\ncommitter {stamp}\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n"
    )
    (world.work / ".evil" / "gpg").chmod(0o755)
    commit = git(world, "hash-object", "-t", "commit", "-w", "--stdin", stdin=body).strip()
    git(world, "update-ref", "HEAD", commit)


def _gitdir_file(world: World) -> None:
    shutil.move(world.work / ".git", world.work / "evilgit")
    (world.work / ".git").write_text("gitdir: evilgit\n", encoding="utf-8")
    with (world.work / "evilgit" / "config").open("a", encoding="utf-8") as handle:
        handle.write(world.expand('[core]\n\tfsmonitor = "@RAN:gitdir-fsmonitor@"\n'))


def _worktree_config(world: World) -> None:
    (world.work / ".git" / "config.worktree").write_text(
        world.expand('[core]\n\tfsmonitor = "@RAN:worktree-fsmonitor@"\n\tpager = "@RAN:worktree-pager@"\n'),
        encoding="utf-8",
    )


def _submodule(world: World) -> None:
    sub = world.work / "sub"
    sub.mkdir()
    git(world, "init", "-q", "-b", "main", ".", cwd=sub)
    (sub / "file.txt").write_text("one\n", encoding="utf-8")
    git(world, "add", "-A", cwd=sub)
    git(world, "commit", "-q", "-m", "sub", cwd=sub)
    git(world, "add", "sub")
    git(world, "commit", "-q", "-m", "gitlink")
    (sub / "file.txt").write_text("two\n", encoding="utf-8")
    with (sub / ".git" / "config").open("a", encoding="utf-8") as handle:
        handle.write(
            world.expand('[core]\n\tfsmonitor = "@RAN:submodule-fsmonitor@"\n[diff]\n\texternal = "@RAN:sub-ext@"\n')
        )


def _worktree_home(world: World) -> None:
    key = world.work / ".ssh" / "id_rsa"
    key.parent.mkdir()
    key.write_text("placeholder\n", encoding="utf-8")
    git(world, "add", ".ssh/id_rsa")
    git(world, "commit", "-q", "-m", "key placeholder")
    shutil.rmtree(world.work / ".ssh")
    with (world.work / ".git" / "config").open("a", encoding="utf-8") as handle:
        handle.write(f"[core]\n\tworktree = {world.home}\n")


def _hooks_executable(world: World) -> None:
    """The hooks in `.evil/hooks` executable, and copies planted where git looks by default (`.git/hooks`)."""
    for name in HOOK_NAMES:
        hook = world.work / ".evil" / "hooks" / name
        hook.chmod(0o755)
        shutil.copy2(hook, world.work / ".git" / "hooks" / name)


HOOK = "#!/bin/sh\nsh @WORK@/.evil/ran.sh git-hook-$(basename $0)\n"
HOOK_NAMES = ("post-index-change", "reference-transaction", "post-checkout", "pre-auto-gc", "fsmonitor-watchman")

GIT_CASES: list[tuple[str, str, dict[str, str], object]] = [
    ("fsmonitor", '[core]\n\tfsmonitor = "@RAN:fsmonitor@"\n', {}, None),
    ("diff-external", '[diff]\n\texternal = "@RAN:diff-external@"\n', {}, None),
    (
        "textconv",
        '[diff "evil"]\n\ttextconv = "@RAN:textconv@"\n\tcachetextconv = false\n',
        {".gitattributes": "* diff=evil\n"},
        None,
    ),
    (
        "diff-driver-command",
        '[diff "evil"]\n\tcommand = "@RAN:diff-command@"\n',
        {".gitattributes": "*.md diff=evil\n"},
        None,
    ),
    (
        "filter-clean-smudge",
        '[filter "evil"]\n\tclean = "@RAN:filter-clean@"\n\tsmudge = "@RAN:filter-smudge@"\n\trequired = true\n',
        {".gitattributes": "*.md filter=evil\n"},
        None,
    ),
    (
        "filter-process",
        '[filter "evil"]\n\tprocess = "@RAN:filter-process@"\n',
        {".gitattributes": "*.md filter=evil\n"},
        None,
    ),
    (
        "hooks-path",
        "[core]\n\thooksPath = .evil/hooks\n",
        {f".evil/hooks/{name}": HOOK for name in HOOK_NAMES},
        _hooks_executable,
    ),
    (
        "include-path",
        "[include]\n\tpath = @WORK@/.evil/gitconfig\n",
        {".evil/gitconfig": '[core]\n\tfsmonitor = "@RAN:include@"\n'},
        None,
    ),
    (
        "include-if",
        '[includeIf "gitdir:@WORK@/"]\n\tpath = @WORK@/.evil/gitconfig\n',
        {".evil/gitconfig": '[diff]\n\texternal = "@RAN:include-if@"\n'},
        None,
    ),
    (
        "worktree-config",
        "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tworktreeConfig = true\n",
        {},
        _worktree_config,
    ),
    ("gitdir-file", "", {}, _gitdir_file),
    (
        "show-signature-gpg-program",
        "[log]\n\tshowSignature = true\n[gpg]\n\tprogram = @WORK@/.evil/gpg\n",
        {".evil/gpg": "#!/bin/sh\nsh @WORK@/.evil/ran.sh gpg-program\n"},
        _signed_commit,
    ),
    ("submodule-own-config", "", {}, _submodule),
]


def _cases() -> list[Case]:
    cases: list[Case] = []
    for name, config, files, setup in GIT_CASES:
        cases.append(
            Case(
                f"git-{name}",
                FAMILY,
                files=files,
                git_config=config,
                after_commit=CHANGED,
                setup=setup,  # type: ignore[arg-type]
                calls=(*GIT_READS, bash("git blame README.md")),
                notices=(),
                known=None,
            )
        )
    for name in ("fsmonitor", "textconv", "submodule-own-config"):
        base = next(c for c in cases if c.id == f"git-{name}")
        cases.append(
            Case(
                f"git-plan-{name}",
                FAMILY,
                files=base.files,
                git_config=base.git_config,
                after_commit=CHANGED,
                setup=base.setup,
                calls=GIT_READS,
                args=PLAN,
                exits=frozenset({4}),
                notices=(),
                known=base.known,
            )
        )
    cases.append(
        Case(
            "git-worktree-is-home",
            FAMILY,
            setup=_worktree_home,
            calls=(bash("git diff"), bash("git status"), bash("git diff --stat")),
            notices=(),
        )
    )
    return cases


CASES: list[Case] = _cases()
