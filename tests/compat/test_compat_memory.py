"""Claude Code's memory files, end to end through `tau run` (a subprocess over a replayed scripted model).

A real-world-shaped clone: CLAUDE.md beside AGENTS.md at the root, `.claude/rules/` with an always-on rule and a
`paths:` rule in a subfolder, a nested `src/api/CLAUDE.md`. Each case records its cassette in-process (the scripted
model asserts on what it is sent), then `tau run --model replay:...` runs as a subprocess; replay checks that every
request the CLI sends equals the recorded one (user-prompt text included), so the on-demand note reaches the model
through the CLI exactly as recorded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from tau_e2e import Sandbox, TauResult, by_type, record_cassette, run_tau

from tau.testing import Turn, calls, reply

ROOT_CLAUDE = "# Acme monorepo\n\nRun `make check` before committing. See @docs/architecture.md\n"
ROOT_AGENTS = "# Agents\n\nNever push to main. Use conventional commits.\n"
ARCHITECTURE = "Services talk over gRPC; no shared databases.\n"
ALWAYS_RULE = "# Security\n\n- Never log secrets or tokens.\n"
API_RULE = (
    "---\n"
    "description: API handler conventions\n"
    "paths:\n"
    '  - "src/api/**/*.ts"\n'
    '  - "src/api/**/*.tsx"\n'
    "---\n\n"
    "# API handlers\n\n- Validate input with zod at the boundary.\n- Return typed errors, never throw.\n"
)
NESTED = "# src/api\n\nHandlers live one per file; register each in router.ts.\n"
HANDLER = "export async function getUser(id: string) {\n  return db.users.find(id);\n}\n"


def clone(box: Sandbox) -> None:
    (box.work / ".git").mkdir(exist_ok=True)
    box.populate(
        {
            "CLAUDE.md": ROOT_CLAUDE,
            "AGENTS.md": ROOT_AGENTS,
            "docs/architecture.md": ARCHITECTURE,
            ".claude/rules/security.md": ALWAYS_RULE,
            ".claude/rules/backend/api.md": API_RULE,
            "src/api/CLAUDE.md": NESTED,
            "src/api/users.ts": HANDLER,
            "src/web/index.html": "<html></html>\n",
        }
    )


def prompt_texts(messages: list[ModelMessage]) -> list[str]:
    return [
        part.content
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart) and isinstance(part.content, str)
    ]


def replayed(
    box: Sandbox, args: list[str], steps: list[Any], name: str, *, files: dict[str, str] | None = None
) -> TauResult:
    """Record `tau run ARGS` in-process, put `files` back as they were (the recording run edited them), replay."""
    cassette = box.root / f"{name}.cassette.json"
    record_cassette(box, args, steps, cassette)
    box.populate(files or {})
    result = run_tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json", sandbox=box)
    assert result.returncode == 0, result
    return result


def notices(result: TauResult, level: str) -> list[str]:
    return [line["message"] for line in by_type(result.lines, "notice.emitted") if line["level"] == level]


def expect_in_last_request(*needles: str, absent: tuple[str, ...] = (), then: Turn) -> Callable[..., Turn]:
    def step(messages: list[ModelMessage], info: Any) -> Turn:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        texts = "\n".join(prompt_texts([last]))
        for needle in needles:
            assert needle in texts, (needle, texts)
        for needle in absent:
            assert needle not in texts, (needle, texts)
        return then

    return step


def test_memory_at_start_and_on_demand_as_claude_code_loads_it(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "box")
    clone(box)
    work = box.work

    def first_request(messages: list[ModelMessage], info: Any) -> Turn:
        joined = "\n".join(prompt_texts(messages))
        assert NESTED.strip() not in joined and "zod" not in joined  # nothing on demand before a touch
        return calls(("read", {"file_path": "src/web/index.html"}))

    steps = [
        first_request,
        expect_in_last_request(absent=("zod", "router.ts"), then=calls(("read", {"file_path": "src/api/users.ts"}))),
        expect_in_last_request(
            "Handlers live one per file; register each in router.ts.",
            "Validate input with zod at the boundary.",
            f'<memory source="{work / "src/api/CLAUDE.md"}" loaded="on demand" trigger="src/api/users.ts">',
            absent=("description: API handler conventions",),
            then=calls(("edit", {"file_path": "src/api/users.ts", "old_string": "find", "new_string": "get"})),
        ),
        expect_in_last_request(absent=("zod", "router.ts"), then=reply("Done.")),
    ]
    args = ["-p", "Fix getUser.", "--permission-mode", "acceptEdits"]
    result = replayed(box, args, steps, "ondemand", files={"src/api/users.ts": HANDLER})
    started = result.lines[0]
    assert started["memory_files"] == [
        str(work / "AGENTS.md"),
        str(work / "CLAUDE.md"),
        str(work / "docs/architecture.md"),
        str(work / ".claude/rules/security.md"),
    ]
    assert notices(result, "info") == [
        f"memory loaded on demand for src/api/users.ts: {work / 'src/api/CLAUDE.md'}, "
        f"{work / '.claude/rules/backend/api.md'} (paths: src/api/**/*.ts, src/api/**/*.tsx)"
    ]
    assert (work / "src/api/users.ts").read_text() == HANDLER.replace("find", "get")


def test_a_real_import_tree_loads_whole_and_a_cut_names_the_file(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "box")
    (box.work / ".git").mkdir()
    chapters = {f"docs/chapter-{n:02d}.md": f"# Chapter {n}\n" + f"guideline {n}\n" * 2_000 for n in range(8)}
    box.populate(chapters)  # 8 x 26 KB: far over the old 32 KiB cap, under 256 KiB
    box.write("CLAUDE.md", "# Handbook\n" + "".join(f"@{path}\n" for path in chapters))
    result = replayed(box, ["-p", "Hello."], [reply("Hi.")], "imports")
    assert len(result.lines[0]["memory_files"]) == 9
    assert notices(result, "warning") == []
    box.write("docs/appendix.md", "appendix line\n" * 6_000)  # 84 KB more: over 256 KiB in all
    box.write("CLAUDE.md", "# Handbook\n" + "".join(f"@{path}\n" for path in [*chapters, "docs/appendix.md"]))
    result = replayed(box, ["-p", "Hello."], [reply("Hi.")], "imports-cut")
    [cut] = notices(result, "warning")
    assert cut.startswith(f"memory file {box.work / 'docs/appendix.md'} truncated to "), cut
    assert cut.endswith(
        "of 84000 bytes: over the 262144-byte memory cap (memory.max_bytes); raise it to load the whole file"
    )
    assert len(result.lines[0]["memory_files"]) == 10


def test_an_untrusted_clone_keeps_its_rules_and_nested_memory_inside(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "box")
    clone(box)
    secret = box.root / "outside" / "notes.md"
    secret.parent.mkdir()
    secret.write_text("OUTSIDE-SECRET in a linked rule\n")
    (box.work / ".claude/rules/linked.md").symlink_to(secret)
    (box.work / "src/web/CLAUDE.md").symlink_to(secret)
    steps = [
        calls(("read", {"file_path": "src/web/index.html"})),
        expect_in_last_request(absent=("OUTSIDE-SECRET",), then=reply("Done.")),
    ]
    result = replayed(box, ["-p", "Look at the web page."], steps, "untrusted")
    assert "OUTSIDE-SECRET" not in result.stdout
    assert str(box.work / ".claude/rules/linked.md") not in result.lines[0]["memory_files"]
    warnings = [w for w in notices(result, "warning") if "memory outside the repository not loaded" in w]
    assert len(warnings) == 2, notices(result, "warning")
    assert str(box.work / ".claude/rules/linked.md") in warnings[0]
    assert str(box.work / "src/web/CLAUDE.md") in warnings[1]
    assert all("tau trust" in w for w in warnings)
