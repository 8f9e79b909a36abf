"""The transcript behind `transcript_path`: Claude Code's JSONL lines from a real agent run's messages, appended as
the conversation grows, continued across runs (resume), rebuilt when the file does not match (fork, torn line),
owner-only, never through a symbolic link."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hooksupport import Events, ScriptMaker, config_of, group
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from tau.environment import HostBackend
from tau.hooks import HookOptions, TranscriptWriter, hook_session, transcript_file
from tau.testing.scripted import calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio


async def conversation(project: Path, *turns: Any, prompt: str = "count the files") -> list[ModelMessage]:
    model, _ = scripted_model(list(turns))
    agent: Agent[None, str] = Agent(model, toolsets=[build_toolset(["bash", "read"], limits=ToolLimits())])
    result = await agent.run(prompt, workspace=HostBackend(project))
    return result.all_messages()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def shape(line: dict[str, Any]) -> tuple[str, list[Any]]:
    """(type, content blocks) with volatile ids kept only where the test controls them."""
    return line["type"], line["message"]["content"]


async def test_a_run_becomes_claude_code_jsonl(project: Path, tmp_path: Path) -> None:
    (project / "a.txt").write_text("alpha\n")
    messages = await conversation(
        project, calls(("bash", {"command": "ls"}), text="Looking."), reply("There is 1 file: a.txt")
    )
    path = transcript_file(tmp_path / "state", "sess-1")
    TranscriptWriter(path, session_id="sess-1", cwd=str(project), version="9.9").sync(messages)
    got = lines(path)
    assert [shape(line) for line in got] == [
        ("user", [{"type": "text", "text": "count the files"}]),
        (
            "assistant",
            [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "call_1_0", "name": "Bash", "input": {"command": "ls"}},
            ],
        ),
        (
            "user",
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1_0",
                    "content": "exit code: 0\nstdout:\na.txt",
                    "is_error": False,
                }
            ],
        ),
        ("assistant", [{"type": "text", "text": "There is 1 file: a.txt"}]),
    ]
    assert [line["parentUuid"] for line in got] == [None, *(line["uuid"] for line in got[:-1])]
    assert len({line["uuid"] for line in got}) == 4
    assert {(line["sessionId"], line["cwd"], line["version"], line["isSidechain"]) for line in got} == {
        ("sess-1", str(project), "9.9", False)
    }
    assert [line["message"]["role"] for line in got] == ["user", "assistant", "user", "assistant"]
    assert got[1]["message"]["stop_reason"] == "tool_use" and got[3]["message"]["stop_reason"] == "end_turn"
    assert got[3]["message"]["model"] == "scripted"
    assert all(line["timestamp"].endswith("Z") for line in got)
    assert path == tmp_path / "state" / "transcripts" / "sess-1.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_appends_only_what_is_new_and_a_fresh_writer_continues_the_file(project: Path, tmp_path: Path) -> None:
    messages = await conversation(project, calls(("bash", {"command": "echo one"})), reply("one"))
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path, session_id="s", cwd=str(project))
    writer.sync(messages[:2])
    first = path.read_bytes()
    writer.sync(messages[:2])  # nothing new: nothing written
    assert path.read_bytes() == first
    writer.sync(messages)
    assert path.read_bytes().startswith(first)
    whole = path.read_bytes()
    # a resumed run: the history comes back from the store (a serialization round trip), plus new messages
    stored = ModelMessagesTypeAdapter.validate_json(ModelMessagesTypeAdapter.dump_json(messages))
    more = await conversation(project, reply("two"), prompt="and again")
    resumed = TranscriptWriter(path, session_id="s", cwd=str(project))
    resumed.sync([*stored, *more])
    assert path.read_bytes().startswith(whole)
    got = lines(path)
    assert [line["tauMessageIndex"] for line in got] == list(range(len(messages) + len(more)))
    assert [line["parentUuid"] for line in got[1:]] == [line["uuid"] for line in got[:-1]]
    assert got[-1]["message"]["content"] == [{"type": "text", "text": "two"}]


async def test_a_file_that_does_not_match_the_history_is_rebuilt(project: Path, tmp_path: Path) -> None:
    messages = await conversation(project, calls(("bash", {"command": "echo a"})), reply("a"))
    other = await conversation(project, reply("b"), prompt="something else")
    path = tmp_path / "t.jsonl"
    TranscriptWriter(path, session_id="s", cwd=str(project)).sync(other)
    expected = tmp_path / "expected.jsonl"
    TranscriptWriter(expected, session_id="s", cwd=str(project)).sync(messages)
    TranscriptWriter(path, session_id="s", cwd=str(project)).sync(messages)  # a fork: same length, other messages
    assert path.read_bytes() == expected.read_bytes()
    with path.open("ab") as torn:  # a crash in the middle of a line
        torn.write(b'{"parentUuid": "x", "ty')
    TranscriptWriter(path, session_id="s", cwd=str(project)).sync(messages)
    assert path.read_bytes() == expected.read_bytes()
    TranscriptWriter(path, session_id="s", cwd=str(project)).sync(messages[:1])  # a rewind: shorter history
    assert [line["tauMessageIndex"] for line in lines(path)] == [0]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_session_id_that_is_not_a_file_name_is_hashed(tmp_path: Path) -> None:
    assert transcript_file(tmp_path, "abc-1.task-call_2") == tmp_path / "transcripts" / "abc-1.task-call_2.jsonl"
    hostile = transcript_file(tmp_path, "../../etc/passwd")
    assert hostile.parent == tmp_path / "transcripts"
    assert hostile.name.endswith(".jsonl") and "/" not in hostile.name and not hostile.name.startswith(".")


async def test_a_planted_link_is_never_written_through_and_hooks_still_run(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    messages = await conversation(project, reply("hi"))
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    path = transcript_file(tmp_path / "state", "s")
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    TranscriptWriter(path, session_id="s", cwd=str(project)).sync(messages[:1])  # a rebuild replaces the link
    assert not path.is_symlink() and outside.read_text() == "keep"
    notices: list[str] = []
    out = tmp_path / "payload.json"
    history: list[ModelMessage] = list(messages[:1])
    hooks = hook_session(
        config_of({"SessionStart": [group(script("cap.sh", f'cat > "{out}"\n'))]}),
        session_id="s",
        project_dir=str(project),
        transcript=TranscriptWriter(path, session_id="s", cwd=str(project)),
        options=HookOptions(notice=notices.append),
        emit=Events(),
    )
    hooks.bind_history(lambda: history)
    await hooks.on_session_start()  # adopts the file
    path.unlink()
    path.symlink_to(outside)  # planted while the run goes
    history.append(messages[1])
    await hooks.on_session_start()
    await hooks.on_session_start()
    assert outside.read_text() == "keep"
    assert json.loads(out.read_text())["transcript_path"] == str(path)
    assert len(notices) == 1 and notices[0].startswith(f"hooks: cannot write the transcript {path}: ")


async def test_the_transcript_is_current_when_a_hook_reads_it(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    """Before each hook runs, the transcript holds the conversation up to that point: a PreToolUse hook finds the
    assistant message with its own tool call as the last line."""
    seen = tmp_path / "seen"
    seen.mkdir()
    grab = script(
        "grab.sh",
        f"python3 -c 'import json,sys,shutil; p=json.load(sys.stdin); "
        f'shutil.copy(p["transcript_path"], "{seen}/" + p["tool_use_id"])\'\n',
    )
    path = tmp_path / "state" / "t.jsonl"
    hooks = hook_session(
        config_of({"PreToolUse": [group(grab, "Bash")]}),
        session_id="s",
        project_dir=str(project),
        transcript=TranscriptWriter(path, session_id="s", cwd=str(project)),
        emit=Events(),
    )
    model, _ = scripted_model(
        [calls(("bash", {"command": "echo 1"})), calls(("bash", {"command": "echo 2"})), reply("ok")]
    )
    agent: Agent[None, str] = Agent(
        model, toolsets=[build_toolset(["bash"], limits=ToolLimits())], capabilities=[hooks.capability]
    )
    async with agent.iter("go", workspace=HostBackend(project)) as run:
        hooks.bind_history(run.all_messages)
        async for _ in run:
            pass
    first, second = lines(seen / "call_1_0"), lines(seen / "call_2_0")
    assert [line["type"] for line in first] == ["user", "assistant"]
    assert first[-1]["message"]["content"][-1]["id"] == "call_1_0"
    assert [line["type"] for line in second] == ["user", "assistant", "user", "assistant"]
    assert second[-1]["message"]["content"][-1]["input"] == {"command": "echo 2"}
