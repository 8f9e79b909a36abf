"""File rules on the path a tool really touches, through a real agent run on a real host workspace.

The built-in tools run on `HostBackend` over a temporary directory with real symlinks; a scripted `FunctionModel`
issues the calls. The sandbox policy per call is observed by a recording tool (the commands themselves are covered
by the sandbox tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

from tau.config.spec import BUILTIN_TOOLS, PermissionMode, PermissionsSpec
from tau.environment import HostBackend
from tau.environment.policy import current_policy
from tau.permissions import AskAnswer, AskRequest, PermissionPolicy, permission_layer
from tau.tools import ToolLimits, build_toolset

Call = tuple[str, dict[str, Any]]


def _model(calls: Sequence[Call]) -> FunctionModel:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(n, a, tool_call_id=f"c{i}") for i, (n, a) in enumerate(calls)])
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(model)


async def run(
    workspace: Path,
    calls: Sequence[Call],
    *,
    mode: PermissionMode = "default",
    deny: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    home: Path | None = None,
    answer: AskAnswer = False,
    policy_root: Path | None = None,
) -> tuple[list[tuple[str, str, str]], list[AskRequest]]:
    """Run `calls`; returns (call id, outcome, content) per call, and the asks."""
    asked: list[AskRequest] = []

    async def asker(request: AskRequest) -> AskAnswer:
        asked.append(request)
        return answer

    spec = PermissionsSpec(mode=mode, deny=deny, allow=allow)
    policy = PermissionPolicy.from_spec(
        spec, workspace=str(policy_root or workspace), home=str(home or workspace / "home")
    )
    layer = permission_layer(policy, asker=asker, emit=lambda event: None)
    agent = Agent(
        _model(calls), toolsets=[build_toolset(BUILTIN_TOOLS, limits=ToolLimits())], capabilities=[layer.capability]
    )
    result = await agent.run("go", workspace=HostBackend(workspace))
    requests = [m for m in result.all_messages() if isinstance(m, ModelRequest)][1:]
    parts = [p for r in requests for p in r.parts if isinstance(p, ToolReturnPart)]
    return sorted((p.tool_call_id, p.outcome, str(p.content)) for p in parts), asked


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "secrets").mkdir()
    (root / "secrets" / "key").write_text("TOP SECRET\n")
    (root / "src" / "a.py").write_text("print('a')\n")
    (root / "srclink").symlink_to(root / "src")
    (root / "keylink").symlink_to(root / "secrets" / "key")
    (root / "home").mkdir()
    (root / "home" / "notes.txt").write_text("home notes\n")
    return root


@pytest.mark.anyio
async def test_an_edit_through_a_symlinked_directory_is_the_edit_it_lands_on(ws: Path) -> None:
    out, _ = await run(
        ws,
        [
            ("write", {"file_path": "srclink/new.py", "content": "x"}),
            ("write", {"file_path": "ok.txt", "content": "y"}),
        ],
        mode="acceptEdits",
        deny=("Edit(src/**)",),
    )
    assert [(call, outcome) for call, outcome, _ in out] == [("c0", "denied"), ("c1", "success")]
    assert f"write of {ws}/srclink/new.py (really {ws}/src/new.py) is denied by rule Edit(src/**)" in out[0][2]
    assert not (ws / "src" / "new.py").exists()
    assert (ws / "ok.txt").read_text() == "y"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "args",
    [
        {"file_path": "keylink"},  # a symlink inside the workspace
        {"file_path": "secrets/key"},
        {"file_path": "src/../secrets/key"},
        {"file_path": "~/../secrets/key"},  # home is <ws>/home here
    ],
)
async def test_read_deny_rules_see_where_the_path_leads(ws: Path, args: dict[str, Any]) -> None:
    out, asked = await run(ws, [("read", args)], deny=("Read(./secrets/**)",), answer=True)
    assert [outcome for _, outcome, _ in out] == ["denied"]
    assert "TOP SECRET" not in out[0][2]
    assert asked == []


@pytest.mark.anyio
async def test_proc_self_cwd_is_where_it_points(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws)  # the host backend's process: /proc/self/cwd is this directory
    out, _ = await run(ws, [("read", {"file_path": "/proc/self/cwd/secrets/key"})], deny=("Read(./secrets/**)",))
    assert [outcome for _, outcome, _ in out] == ["denied"]
    assert f"(really {ws}/secrets/key)" in out[0][2]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("grep", {"pattern": "SECRET", "path": "secrets"}),
        ("glob", {"pattern": "*", "path": "secrets"}),
        ("grep", {"pattern": "SECRET", "path": "./secrets/"}),
    ],
)
async def test_a_search_of_a_denied_directory_is_denied(ws: Path, tool: str, args: dict[str, Any]) -> None:
    out, _ = await run(ws, [(tool, args)], deny=("Read(./secrets/**)",))
    assert [outcome for _, outcome, _ in out] == ["denied"]
    assert "key" not in out[0][2].replace("denied by rule", "")


@pytest.mark.anyio
async def test_tilde_means_home_to_the_policy_and_the_tool(ws: Path) -> None:
    out, asked = await run(ws, [("read", {"file_path": "~/notes.txt"})])
    assert asked == []  # <ws>/home/notes.txt is inside the workspace
    assert [outcome for _, outcome, _ in out] == ["success"]
    assert "home notes" in out[0][2]


@pytest.mark.anyio
async def test_tilde_outside_the_workspace_asks_about_the_absolute_path(ws: Path, tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    home.mkdir()
    out, asked = await run(ws, [("read", {"file_path": "~/x"})], home=home, answer=True)
    assert [r.decision.reason for r in asked] == [
        f"read of {home}/x (outside the workspace) needs approval in default mode"
    ]
    # the approved call went to the path the policy judged (the host workspace then refuses to leave its root)
    assert out == [("c0", "failed", f"path escapes the workspace: {home}/x is outside {ws}")]


@pytest.mark.anyio
async def test_a_workspace_reached_through_a_symlink_is_still_the_workspace(ws: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(ws)
    out, asked = await run(alias, [("read", {"file_path": "src/a.py"})], policy_root=alias)
    assert asked == []
    assert [outcome for _, outcome, _ in out] == ["success"]


def _recording(seen: list[tuple[str, str | None]]) -> FunctionToolset[None]:
    def bash(command: str) -> str:
        seen.append((command, current_policy()))
        return "ok"

    def todo(items: list[str]) -> str:
        seen.append(("todo", current_policy()))
        return "ok"

    return FunctionToolset([bash, todo])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("default", [("ls -la", "read-only"), ("make", None), ("todo", None)]),
        ("acceptEdits", [("ls -la", "read-only"), ("make", None), ("todo", None)]),
        ("plan", [("ls -la", "read-only"), ("todo", "read-only")]),
        ("bypassPermissions", [("ls -la", None), ("make", None), ("todo", None)]),
    ],
)
async def test_each_call_runs_under_the_sandbox_policy_its_decision_chose(
    mode: PermissionMode, expected: list[tuple[str, str | None]]
) -> None:
    seen: list[tuple[str, str | None]] = []

    async def yes(request: AskRequest) -> AskAnswer:
        return True

    policy = PermissionPolicy.from_spec(PermissionsSpec(mode=mode), workspace="/w", home="/h")
    layer = permission_layer(policy, asker=yes, emit=lambda event: None)
    calls: list[Call] = [("bash", {"command": "ls -la"}), ("bash", {"command": "make"}), ("todo", {"items": []})]
    agent = Agent(_model(calls), toolsets=[_recording(seen)], capabilities=[layer.capability])
    await agent.run("go")
    assert sorted(seen, key=lambda s: s[0]) == sorted(expected, key=lambda s: s[0])
    assert current_policy() is None
