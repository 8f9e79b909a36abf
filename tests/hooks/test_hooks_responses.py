"""PostToolUse `tool_response` in Claude Code's shapes, from tau's real tools on a host workspace (a hook script
saves every payload), and `updatedToolOutput` in Claude Code's Bash shape turned back into text for the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hooksupport import Events, ScriptMaker, config_of, group
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.environment import HostBackend
from tau.hooks import claude_tool_response, hook_session, tool_output_text
from tau.testing.scripted import calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio

SAVE = """
python3 -c '
import json, sys
payload = json.load(sys.stdin)
with open(sys.argv[1] + "/" + payload["tool_use_id"] + ".json", "w") as out:
    json.dump(payload, out)
' "{out}"
"""


async def responses(project: Path, script: ScriptMaker, out: Path, *turns: Any) -> dict[str, Any]:
    out.mkdir()
    hooks = hook_session(
        config_of({"PostToolUse": [group(script("save.sh", SAVE.format(out=out)))]}),
        session_id="s",
        project_dir=str(project),
        emit=Events(),
    )
    model, _ = scripted_model([*turns, reply("done")])
    tools = build_toolset(["bash", "read", "write", "edit", "glob", "grep"], limits=ToolLimits())
    agent: Agent[None, str] = Agent(model, toolsets=[tools], capabilities=[hooks.capability])
    await agent.run("go", workspace=HostBackend(project))
    return {path.stem: json.loads(path.read_text())["tool_response"] for path in out.iterdir()}


async def test_built_in_tools_answer_in_claude_code_shapes(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    (project / "src").mkdir()
    (project / "src" / "a.py").write_text("import os\nprint('a')\n")
    (project / "src" / "b.py").write_text("print('b')\n")
    (project / "notes.txt").write_text("one\ntwo\nthree\n")
    got = await responses(
        project,
        script,
        tmp_path / "out",
        calls(
            ("bash", {"command": "echo out; echo err >&2"}),
            ("bash", {"command": "true"}),
            ("read", {"file_path": "notes.txt", "offset": 2, "limit": 1}),
            ("glob", {"pattern": "**/*.py"}),
            ("grep", {"pattern": "print"}),
            ("grep", {"pattern": "print", "output_mode": "count"}),
            ("grep", {"pattern": "nothing-here"}),
        ),
        calls(
            ("write", {"file_path": "new.txt", "content": "fresh\n"}),
            ("write", {"file_path": str(project / "notes.txt"), "content": "over\n"}),
        ),
        calls(("edit", {"file_path": "new.txt", "old_string": "fresh", "new_string": "edited"})),
    )
    glob = got.pop("call_1_3")
    assert glob["filenames"] == [str(project / "src" / "a.py"), str(project / "src" / "b.py")]
    assert (glob["numFiles"], glob["truncated"], isinstance(glob["durationMs"], int)) == (2, False, True)
    assert got == {
        "call_1_0": {"stdout": "out", "stderr": "err", "interrupted": False, "isImage": False},
        "call_1_1": {"stdout": "", "stderr": "", "interrupted": False, "isImage": False},
        "call_1_2": {
            "type": "text",
            "file": {
                "filePath": str(project / "notes.txt"),
                "content": "two",
                "numLines": 1,
                "startLine": 2,
                "totalLines": 3,
            },
        },
        "call_1_4": {
            "mode": "files_with_matches",
            "numFiles": 2,
            "filenames": [str(project / "src" / "a.py"), str(project / "src" / "b.py")],
        },
        "call_1_5": {
            "mode": "count",
            "numFiles": 2,
            "filenames": [],
            "content": f"{project}/src/a.py:1\n{project}/src/b.py:1",
            "numMatches": 2,
        },
        "call_1_6": {"mode": "files_with_matches", "numFiles": 0, "filenames": []},
        "call_2_0": {
            "type": "create",
            "filePath": str(project / "new.txt"),
            "content": "fresh\n",
            "structuredPatch": [],
            "originalFile": None,
        },
        "call_2_1": {
            "type": "update",
            "filePath": str(project / "notes.txt"),
            "content": "over\n",
            "structuredPatch": [],
            "originalFile": None,
        },
        "call_3_0": {
            "filePath": str(project / "new.txt"),
            "oldString": "fresh",
            "newString": "edited",
            "originalFile": None,
            "structuredPatch": [],
            "userModified": False,
            "replaceAll": False,
        },
    }


def test_shapes_from_tool_text() -> None:
    """The parsers on the edges of tau's text formats: stdout holding a `stderr:` line, empty output, a long read,
    grep content, values that are not text (MCP results) passed through."""
    tricky = "exit code: 0\nstdout:\nline\nstderr:\nnot really\nstderr:\nreal"
    assert claude_tool_response("bash", {}, tricky, project_dir="/p") == {
        "stdout": "line\nstderr:\nnot really",
        "stderr": "real",
        "interrupted": False,
        "isImage": False,
    }
    assert claude_tool_response("bash", {}, "exit code: 1\n(no output)", project_dir="/p")["stdout"] == ""
    assert claude_tool_response("Bash", {}, "exit code: 2\nstderr:\nboom", project_dir="/p")["stderr"] == "boom"
    paged = "     1\ta\n     2\tb\n[showing lines 1-2 of 9; call read with offset=3 to continue]"
    assert claude_tool_response("read", {"file_path": "/abs/f"}, paged, project_dir="/p")["file"] == {
        "filePath": "/abs/f",
        "content": "a\nb",
        "numLines": 2,
        "startLine": 1,
        "totalLines": 9,
    }
    empty = claude_tool_response("read", {"file_path": "e"}, "(file /p/e is empty)", project_dir="/p")
    assert empty["file"] == {"filePath": "/p/e", "content": "", "numLines": 0, "startLine": 1, "totalLines": 0}
    content = "/p/a.py:2:print('a')\n/p/b.py:1:print('b')"
    assert claude_tool_response("grep", {"output_mode": "content"}, content, project_dir="/p") == {
        "mode": "content",
        "numFiles": 0,
        "filenames": [],
        "content": content,
        "numLines": 2,
    }
    assert claude_tool_response("mcp__s__t", {}, [{"type": "text", "text": "x"}], project_dir="/p") == [
        {"type": "text", "text": "x"}
    ]
    assert claude_tool_response("task", {}, "child said hi", project_dir="/p") == "child said hi"


def test_updated_tool_output_becomes_text_for_the_model() -> None:
    assert tool_output_text("bash", {"stdout": "redacted", "stderr": "", "interrupted": False}) == "stdout:\nredacted"
    assert tool_output_text("bash", {"stdout": "", "stderr": ""}) == "(no output)"
    assert tool_output_text("read", "plain") == "plain"
    assert tool_output_text("mcp__s__t", {"rows": 1}) == '{"rows": 1}'


async def test_a_post_tool_use_hook_rewrites_bash_output(project: Path, script: ScriptMaker) -> None:
    rewrite = {
        "hookSpecificOutput": {
            "hookEventName": "PostToolUse",
            "updatedToolOutput": {"stdout": "[secret removed]", "stderr": "", "interrupted": False, "isImage": False},
        }
    }
    cmd = script("redact.sh", f"cat > /dev/null\ncat <<'EOF'\n{json.dumps(rewrite)}\nEOF\n")
    hooks = hook_session(config_of({"PostToolUse": [group(cmd, "Bash")]}), session_id="s", project_dir=str(project))
    model, scripted = scripted_model([calls(("bash", {"command": "echo sk-live-123"})), reply("done")])
    agent: Agent[None, str] = Agent(
        model, toolsets=[build_toolset(["bash"], limits=ToolLimits())], capabilities=[hooks.capability]
    )
    await agent.run("go", workspace=HostBackend(project))
    request = scripted.requests[1][-1]
    assert isinstance(request, ModelRequest)
    (result,) = [part for part in request.parts if isinstance(part, ToolReturnPart)]
    assert result.content == "stdout:\n[secret removed]"
