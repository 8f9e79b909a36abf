"""Family "state": where tau writes inside a workspace, a committed symlink must not lead its writes out.

`.tau/state` and `.tau` itself as symlinks (refused: exit 2, one line), symlinks deeper in a committed store
(`objects`, `refs`, `index.sqlite`, `locks`, `tmp`), the working-memory directory and the plan directory as
symlinks, and a committed symlink to the user's key that the checkpoint scanner meets (its content must not be
copied into the session store).
"""

from __future__ import annotations

from typing import Any

from hostile_kit import Call, Case, Outcome

FAMILY = "state"
MARKER = {".tau/config.toml": "# this project's tau settings\n"}
VICTIM = "victim: the user's own file\n"


def untouched(*relatives: str) -> Any:
    """Nothing was written under `outside/<relative>` (a directory stays empty, a file keeps its content)."""

    def check(o: Outcome) -> None:
        for relative in relatives:
            path = o.world.outside / relative
            if path.is_dir():
                assert sorted(p.name for p in path.rglob("*")) == [], f"tau wrote into outside/{relative}"
            elif path.exists():
                assert path.read_text(encoding="utf-8") == VICTIM, f"tau overwrote outside/{relative}"

    return check


def _refused_plan(o: Outcome) -> None:
    """The plan is refused (not written through the link); today that is exit 1 after the plan turn."""
    untouched("plans")(o)
    if o.result.returncode == 1:
        assert "escapes the workspace" in (o.events[-1].get("error") or ""), o.result


def _dirs(*names: str) -> Any:
    def setup(world: Any) -> None:
        for name in names:
            (world.outside / name).mkdir(parents=True, exist_ok=True)

    return setup


def _outside_dot_tau(world: Any) -> None:
    (world.outside / "dottau" / "state").mkdir(parents=True)
    (world.outside / "dottau" / "config.toml").write_text("", encoding="utf-8")


def _victim(world: Any) -> None:
    (world.outside / "victim.db").write_text(VICTIM, encoding="utf-8")


MEMORY_WRITE = Call("memory", {"command": "create", "path": "notes.md", "file_text": "remember"})

CASES: list[Case] = [
    Case(
        "state-dir-symlink",
        FAMILY,
        files=MARKER,
        links={".tau/state": "@OUTSIDE@/state"},
        setup=_dirs("state"),
        exits=frozenset({2}),
        notices=("symbolic link",),
        check=untouched("state"),
    ),
    Case(
        "dot-tau-symlink",
        FAMILY,
        links={".tau": "@OUTSIDE@/dottau"},
        setup=_outside_dot_tau,
        exits=frozenset({2}),
        notices=("symbolic link",),
        check=untouched("dottau/state"),
    ),
    *[
        Case(
            f"state-{name}-symlink",
            FAMILY,
            files=MARKER,
            links={f".tau/state/{name}": f"@OUTSIDE@/{name}"},
            setup=_dirs(name),
            exits=frozenset({0, 2}),
            notices=(),
            check=untouched(name),
        )
        for name in ("objects", "refs", "locks", "tmp")
    ],
    Case(
        "state-index-symlink",
        FAMILY,
        files=MARKER,
        links={".tau/state/index.sqlite": "@OUTSIDE@/victim.db"},
        setup=_victim,
        exits=frozenset({0, 2}),
        notices=(),
        check=untouched("victim.db"),
    ),
    Case(
        "memory-dir-symlink-write",
        FAMILY,
        links={".tau/memory": "@OUTSIDE@/mem"},
        setup=_dirs("mem"),
        calls=(MEMORY_WRITE,),
        notices=(),
        check=untouched("mem"),
    ),
    Case(
        "plans-dir-symlink",
        FAMILY,
        links={".tau/plans": "@OUTSIDE@/plans"},
        setup=_dirs("plans"),
        args=("--permission-mode", "plan"),
        exits=frozenset({1, 2, 4}),
        notices=(),
        check=_refused_plan,
    ),
    Case(
        "checkpoint-reads-planted-symlink",
        FAMILY,
        links={"keys/id_rsa": "@SECRET@", "keys/outside": "@OUTSIDE@"},
        calls=(Call("write", {"file_path": "notes.txt", "content": "x"}),),
        args=("--permission-mode", "acceptEdits"),
        mode="acceptEdits",
        notices=(),
    ),
]
