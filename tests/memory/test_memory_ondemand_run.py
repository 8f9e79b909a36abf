"""On-demand memory through the whole runtime (`prepare_run`, scripted model): a read under a folder with a nested
CLAUDE.md, or of a file a `paths:` rule matches, puts that file's text into the very next request, right after the
tool result, once per session (also across `tau resume`), with an info notice; denied or failed calls load nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec
from tau.protocol import Notice
from tau.runtime import Continuation, RunEntry, prepare_run
from tau.sessions import FileSessionStore
from tau.testing import Turn, calls, reply, scripted_model

pytestmark = pytest.mark.anyio

NESTED = "API-NESTED-RULES: handlers return Result, never raise.\n"
RULE = '---\npaths:\n  - "src/**/*.ts"\n---\nTS-RULE: use .js extensions in imports.\n'


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "AGENTS.md").write_text("ROOT-MEMORY\n")
    (root / "src/api").mkdir(parents=True)
    (root / "src/api/CLAUDE.md").write_text(NESTED)
    (root / "src/api/handler.ts").write_text("export const x = 1;\n")
    (root / "src/api/notes.txt").write_text("notes\n")
    (root / ".claude/rules").mkdir(parents=True)
    (root / ".claude/rules/ts.md").write_text(RULE)
    return root


def job(workspace: Path, tmp_path: Path, **overrides: Any) -> JobSpec:
    values: dict[str, Any] = {
        "source": "<test>",
        "prompt": "work",
        "model": ModelSpec(provider="test", name="scripted"),
        "environment": EnvironmentSpec(workspace=str(workspace)),
        "permissions": PermissionsSpec(mode="acceptEdits"),
        "home": str(tmp_path / "home"),
    }
    values.update(overrides)
    return JobSpec(**values)


async def run(spec: JobSpec, steps: list[Any], **kwargs: Any) -> tuple[Any, list[list[ModelMessage]], list[Any]]:
    model, script = scripted_model(steps)
    events: list[Any] = []
    driver = await prepare_run(spec, model=model, sinks=[events.append], **kwargs)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return result, script.requests, events


def last_request(messages: list[ModelMessage]) -> ModelRequest:
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    return request


def context_notes(request: ModelRequest) -> list[str]:
    return [p.content for p in request.parts if isinstance(p, UserPromptPart) and isinstance(p.content, str)]


def info_notices(events: list[Any]) -> list[str]:
    return [e.message for e in events if isinstance(e, Notice) and e.level == "info"]


async def test_a_read_under_a_nested_folder_brings_its_claude_md_and_matching_rule(tmp_path: Path) -> None:
    root = repo(tmp_path)
    result, requests, events = await run(
        job(root, tmp_path),
        [
            calls(("read", {"file_path": "src/api/handler.ts"})),
            calls(("read", {"file_path": "src/api/x/../handler.ts"})),
            reply("ok"),
        ],
    )
    assert result.exit_code == 0, result
    first = "".join(p.content for p in requests[0][0].parts if isinstance(p, UserPromptPart))  # type: ignore[misc]
    assert "TS-RULE" not in first and NESTED not in first  # nothing on demand at start
    request = last_request(requests[1])
    assert [type(p).__name__ for p in request.parts] == ["ToolReturnPart", "UserPromptPart"]
    [note] = context_notes(request)
    assert f'<memory source="{root / "src/api/CLAUDE.md"}" loaded="on demand" trigger="src/api/handler.ts">' in note
    assert NESTED.strip() in note
    assert "TS-RULE: use .js extensions in imports." in note
    assert "paths:" not in note.split("TS-RULE")[0].split('paths="src/**/*.ts"')[-1]  # frontmatter stripped
    assert f'source="{root / ".claude/rules/ts.md"}" paths="src/**/*.ts" loaded="on demand"' in note
    assert context_notes(last_request(requests[2])) == []  # the second touch loads nothing again
    assert info_notices(events) == [
        f"memory loaded on demand for src/api/handler.ts: {root / 'src/api/CLAUDE.md'}, "
        f"{root / '.claude/rules/ts.md'} (paths: src/**/*.ts)"
    ]
    started = events[0]
    assert started.memory_files == [str(root / "AGENTS.md")]


async def test_a_rule_does_not_load_for_a_path_it_does_not_match(tmp_path: Path) -> None:
    root = repo(tmp_path)
    _result, requests, _events = await run(
        job(root, tmp_path), [calls(("read", {"file_path": "src/api/notes.txt"})), reply("ok")]
    )
    [note] = context_notes(last_request(requests[1]))
    assert NESTED.strip() in note and "TS-RULE" not in note


async def test_a_failed_or_denied_call_loads_nothing(tmp_path: Path) -> None:
    root = repo(tmp_path)
    spec = job(root, tmp_path, permissions=PermissionsSpec(mode="acceptEdits", deny=("Read(src/api/**)",)))
    _result, requests, events = await run(
        spec,
        [
            calls(("read", {"file_path": "src/api/handler.ts"}), ("read", {"file_path": "src/other/missing.ts"})),
            reply("ok"),
        ],
    )
    request = last_request(requests[1])
    assert [p.outcome for p in _returns(request)] == ["denied", "failed"]
    assert context_notes(request) == []
    assert info_notices(events) == []


async def test_a_resumed_session_does_not_load_the_same_files_again(tmp_path: Path) -> None:
    root = repo(tmp_path)
    state = tmp_path / "state"
    spec = job(root, tmp_path, session_id="s-ondemand")
    _first, _requests, first_events = await run(
        spec, [calls(("read", {"file_path": "src/api/handler.ts"})), reply("first")], state_dir=state
    )
    assert len(info_notices(first_events)) == 1  # loaded in the first run
    resumed = job(root, tmp_path, session_id="s-ondemand", prompt="again")
    result, requests, events = await run(
        resumed,
        [calls(("edit", {"file_path": "src/api/handler.ts", "old_string": "1", "new_string": "2"})), reply("done")],
        state_dir=state,
        entry=RunEntry(continuation=Continuation(prompt="again")),
    )
    assert result.exit_code == 0, result
    assert context_notes(last_request(requests[1])) == []
    assert info_notices(events) == []
    assert FileSessionStore(state).head("s-ondemand")


def _returns(request: ModelRequest) -> list[ToolReturnPart]:
    return [p for p in request.parts if isinstance(p, ToolReturnPart)]


async def test_glob_and_grep_paths_touch_their_folders(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "docs/guide").mkdir(parents=True)
    (root / "docs/guide/AGENTS.md").write_text("GUIDE-AGENTS\n")
    (root / "docs/guide/CLAUDE.md").write_text("GUIDE-CLAUDE\n")
    (root / "docs/guide/a.md").write_text("hello\n")

    def check(messages: list[ModelMessage], info: Any) -> Turn:
        [note] = context_notes(last_request(messages))
        assert note.index("GUIDE-AGENTS") < note.index("GUIDE-CLAUDE")  # both, AGENTS.md first
        assert "TS-RULE" not in note and NESTED not in note
        assert len(_returns(last_request(messages))) == 1
        return calls(("grep", {"pattern": "x", "path": "src/api"}))

    _result, requests, _events = await run(
        job(root, tmp_path), [calls(("glob", {"pattern": "docs/guide/**/*.md"})), check, reply("ok")]
    )
    [note] = context_notes(last_request(requests[2]))
    assert NESTED.strip() in note and "TS-RULE" not in note  # a folder does not match `src/**/*.ts`
