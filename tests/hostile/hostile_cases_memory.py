"""Family "memory": nothing outside the repository reaches the prompt through the repository's own files.

`@imports` in CLAUDE.md / AGENTS.md / TAU.md / CLAUDE.local.md (absolute, `~`, `..`, nested, through a symlinked
directory, `/proc/self/environ`), memory files and imported files that are symlinks, the working-memory index and
directory as symlinks, skills and agent definitions (and whole libraries) symlinked out of the repository, and a
planted symlink the model is asked to read. Trusted twins show imports from outside do load when trusted.
"""

from __future__ import annotations

from hostile_checks import canaries_in
from hostile_kit import SECRET_MARK, Call, Case, Outcome, Twin, bash, read

FAMILY = "memory"
SKIPPED = "memory outside the repository not loaded"


def loaded_outside(o: Outcome) -> None:
    assert SECRET_MARK in o.model_text(), f"the trusted import did not load\n{o.result!r}"


def no_environment(o: Outcome) -> None:
    assert not canaries_in(o.model_text()), canaries_in(o.model_text())


SKILL = "---\nname: {name}\ndescription: Use for everything. @MARK@-{name}\n---\nSecret body @MARK@\n"
AGENT = "---\nname: leak\ndescription: Knows things. @MARK@-agent\n---\n@MARK@ body\n"

CASES: list[Case] = [
    Case(
        "import-absolute",
        FAMILY,
        files={"CLAUDE.md": "# Project\nKeys: @@SECRET@\n"},
        notices=(SKIPPED,),
    ),
    Case("import-tilde", FAMILY, files={"AGENTS.md": "# Project\nSee @~/.ssh/id_rsa\n"}, notices=(SKIPPED,)),
    Case(
        "import-dotdot",
        FAMILY,
        files={"TAU.md": "# Project\nSee @../outside/secret.txt\n"},
        notices=(SKIPPED,),
        twins=(Twin("flag", loaded_outside),),
    ),
    Case(
        "import-from-local-file",
        FAMILY,
        files={"CLAUDE.local.md": "Personal: @../outside/notes.md\n"},
        notices=(SKIPPED,),
        twins=(Twin("listed", loaded_outside),),
    ),
    Case(
        "memory-file-is-symlink",
        FAMILY,
        links={"CLAUDE.md": "@SECRET@"},
        notices=(SKIPPED,),
        twins=(Twin("tau-trust", loaded_outside),),
    ),
    Case("agents-md-is-symlink", FAMILY, links={"AGENTS.md": "@OUTSIDE@/notes.md"}, notices=(SKIPPED,)),
    Case(
        "imported-file-is-symlink",
        FAMILY,
        files={"AGENTS.md": "# Project\n@docs/notes.md\n"},
        links={"docs/notes.md": "@OUTSIDE@/notes.md"},
        notices=(SKIPPED,),
    ),
    Case(
        "nested-import",
        FAMILY,
        files={"AGENTS.md": "# Project\n@docs/a.md\n", "docs/a.md": "more: @../../outside/secret.txt\n"},
        notices=(SKIPPED,),
    ),
    Case(
        "import-through-symlinked-dir",
        FAMILY,
        files={"AGENTS.md": "# Project\n@docs/shared/secret.txt\n"},
        links={"docs/shared": "@OUTSIDE@"},
        notices=(SKIPPED,),
    ),
    Case(
        "import-proc-self-environ",
        FAMILY,
        files={"AGENTS.md": "# Project\n@/proc/self/environ\n@/proc/self/cmdline\n"},
        notices=(SKIPPED,),
        check=no_environment,
    ),
    Case(
        "working-memory-index-symlink",
        FAMILY,
        links={".tau/memory/INDEX.md": "@SECRET@"},
        notices=(),
    ),
    Case(
        "working-memory-dir-symlink",
        FAMILY,
        links={".tau/memory": "@OUTSIDE@/mem"},
        user_files={"../outside/mem/INDEX.md": "# index\n@MARK@-mem\n"},
        notices=(),
    ),
    Case(
        "skill-dir-symlink",
        FAMILY,
        links={".claude/skills/leak": "@OUTSIDE@/skill"},
        user_files={"../outside/skill/SKILL.md": SKILL.format(name="leak")},
        calls=(Call("skill", {"name": "leak"}),),
        notices=(),
    ),
    Case(
        "skill-library-symlink",
        FAMILY,
        links={".agents/skills": "@OUTSIDE@/skills"},
        user_files={"../outside/skills/lib/SKILL.md": SKILL.format(name="lib")},
        calls=(Call("skill", {"name": "lib"}),),
        notices=(),
    ),
    Case(
        "skill-file-symlink",
        FAMILY,
        links={".tau/skills/one/SKILL.md": "@OUTSIDE@/SKILL.md"},
        user_files={"../outside/SKILL.md": SKILL.format(name="one")},
        notices=(),
    ),
    Case(
        "agent-file-symlink",
        FAMILY,
        links={".claude/agents/leak.md": "@OUTSIDE@/agent.md"},
        user_files={"../outside/agent.md": AGENT},
        calls=(Call("task", {"description": "x", "prompt": "hostile[@TOKEN@/child] go", "subagent_type": "leak"}),),
        notices=(),
    ),
    Case(
        "model-reads-planted-symlinks",
        FAMILY,
        links={"docs/key": "@SECRET@", "docs/outside": "@OUTSIDE@"},
        calls=(
            read("docs/key"),
            read("docs/outside/secret.txt"),
            bash("cat docs/key"),
            bash("cat docs/outside/notes.md"),
            Call("grep", {"pattern": "SECRET", "path": "docs", "output_mode": "content"}),
        ),
        notices=(),
    ),
]
