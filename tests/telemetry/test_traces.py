"""Acceptance: a scripted `tau run` (a real subprocess replaying a cassette) exports its trace to a real OTLP receiver.

Checked on the spans the receiver decoded: the tree (tau.run -> invoke_agent -> chat / execute_tool -> tau.command and
tau.hook; snapshot commits under the run), parent links, pydantic-ai's GenAI attributes, each tool call's permission
decision and outcome, and `traceparent` both ways: the run continues the TRACEPARENT it was started with, and a tool
command (and a hook command) gets the TRACEPARENT of its own span. Prompts and tool output stay out of spans unless
`telemetry.include_content` is on. Also: OTLP over gRPC, and the resource from OTEL_SERVICE_NAME /
OTEL_RESOURCE_ATTRIBUTES; MCP tool calls traced by the MCP SDK inside their tool call's span.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from receiver import ReceivedSpan, Receiver, grpc_receiver, http_receiver
from telemetry_kit import Box, flag_args

from tau.testing import calls, reply

PROMPT = "Note the trace and clean up. SECRET-PROMPT-7f3a"
OUTPUT = "SECRET-OUTPUT-9c1e"
FLAGS = {"permission_mode": "acceptEdits", "allow": ["Bash(*)"], "deny": ["Bash(rm *)"]}
WRITE_TRACEPARENT = 'echo "$TRACEPARENT" > tp.txt'
HOOK = 'echo "$TRACEPARENT" >> "$CLAUDE_PROJECT_DIR/hook_tp.txt"'


def steps() -> list[Any]:
    return [
        calls(("bash", {"command": WRITE_TRACEPARENT}), ("bash", {"command": "rm -rf gone"})),
        calls(("bash", {"command": f"echo {OUTPUT}"})),
        reply("All done."),
    ]


def caller() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def one(spans: Iterable[ReceivedSpan], name: str, **attributes: Any) -> ReceivedSpan:
    found = [s for s in spans if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, f"{name} {attributes}: {len(found)} spans"
    return found[0]


def by_id(spans: Iterable[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.span_id: s for s in spans}


def children(spans: Iterable[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


def traced_run(box: Box, receiver: Receiver, traceparent: str, **env: str) -> list[ReceivedSpan]:
    box.user_settings({"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": HOOK}]}]}})
    cassette = box.record("traced", PROMPT, FLAGS, steps())
    (box.work / "hook_tp.txt").unlink(missing_ok=True)  # the recording run's hooks wrote there too
    result = box.tau(
        "run", "-p", PROMPT, *flag_args(FLAGS), "--model", f"replay:{cassette}",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "TRACEPARENT": traceparent, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run's root span")


def test_a_scripted_run_exports_its_span_tree_to_a_real_otlp_receiver(box: Box) -> None:
    trace_id, parent_id, traceparent = caller()
    with http_receiver() as receiver:
        spans = traced_run(box, receiver, traceparent)

    assert {s.trace_id for s in spans} == {trace_id}  # one trace: the caller's
    run = one(spans, "tau.run")
    assert run.parent_span_id == parent_id  # traceparent in: the run's root continues the caller's span
    assert run.scope == "tau" and run.status == 0
    assert run.attributes["tau.run.status"] == "completed" and run.attributes["tau.run.exit_code"] == 0
    assert run.attributes["tau.run.turns"] == 3 and run.attributes["tau.environment"] == "host"
    assert run.resource["service.name"] == "tau"

    agent = one(children(spans, run), "invoke_agent tau")
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    chats = [s for s in children(spans, agent) if s.name.startswith("chat ")]
    assert len(chats) == 3
    for chat in chats:  # pydantic-ai's GenAI attributes on every model request
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.request.model"]
        assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    commits = [s for s in spans if s.name == "tau.snapshot.commit"]
    assert len(commits) >= 3 and {s.parent_span_id for s in commits} <= {run.span_id, agent.span_id}

    tools = [s for s in children(spans, agent) if s.name == "execute_tool bash"]
    assert sorted(t.attributes["tau.tool.outcome"] for t in tools) == ["denied", "success", "success"]
    [denied] = [t for t in tools if t.attributes["tau.tool.outcome"] == "denied"]
    assert denied.attributes["tau.permission.decision"] == "deny"
    assert denied.attributes["tau.permission.resolution"] == "denied"
    assert denied.attributes["tau.permission.rule"] == "Bash(rm *)"
    assert not [s for s in children(spans, denied) if s.name == "tau.command"]  # the denied call never ran
    for ran in (t for t in tools if t is not denied):
        assert ran.attributes["tau.permission.decision"] == "allow"
        assert ran.attributes["tau.permission.resolution"] == "allowed"

    # traceparent out: the tool command got the context of its own span, a child of its tool call's span
    version, written_trace, command_id, flags = (box.work / "tp.txt").read_text().strip().split("-")
    assert (version, written_trace, flags) == ("00", trace_id, "01")
    command = by_id(spans)[command_id]
    assert command.name == "tau.command" and command.attributes["tau.command.backend"] == "host"
    assert command.attributes["process.exit.code"] == 0
    assert by_id(spans)[command.parent_span_id] in tools

    hooks = [s for s in spans if s.name == "tau.hook"]
    assert len(hooks) == 3 and {h.attributes["tau.hook.event"] for h in hooks} == {"PreToolUse"}
    assert {h.parent_span_id for h in hooks} == {t.span_id for t in tools}
    hook_lines = (box.work / "hook_tp.txt").read_text().split()
    assert sorted(hook_lines) == sorted(f"00-{trace_id}-{h.span_id}-01" for h in hooks)

    values = [str(v) for s in spans for v in s.attributes.values()]
    assert not [v for v in values if "SECRET-PROMPT" in v or OUTPUT in v or "TRACEPARENT" in v]


def test_include_content_puts_prompts_commands_and_output_in_spans(box: Box) -> None:
    box.user_config("[telemetry]\ninclude_content = true\n")
    _, _, traceparent = caller()
    with http_receiver() as receiver:
        spans = traced_run(box, receiver, traceparent)
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert any("SECRET-PROMPT" in str(s.attributes.get("gen_ai.input.messages")) for s in chats)
    lines = [s.attributes.get("process.command_line") for s in spans if s.name == "tau.command"]
    assert any(line and OUTPUT in str(line) for line in lines)
    assert any(OUTPUT in str(s.attributes.get("gen_ai.tool.call.result", "")) for s in spans)


def test_otlp_grpc_and_the_standard_resource_variables(box: Box) -> None:
    with grpc_receiver() as receiver:
        result = box.tau(
            "run", "-p", "hello", "--model", "test:hello",
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_SERVICE_NAME": "ci-agent",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,team=platform%20tools",
            },
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        spans = receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run over gRPC")
    run = one(spans, "tau.run")
    assert run.parent_span_id == ""  # no TRACEPARENT: the run is a root
    assert run.resource["service.name"] == "ci-agent"
    assert run.resource["deployment.environment"] == "ci" and run.resource["team"] == "platform tools"
    assert one(spans, "invoke_agent tau").parent_span_id == run.span_id


def test_mcp_calls_are_spans_of_their_tool_call(box: Box) -> None:
    """The MCP SDK and FastMCP trace through the global tracer provider tau sets: a call to an MCP tool (PyPI
    `mcp-server-time`, a real stdio server) is a `tools/call` span under its `execute_tool` span, in the run's trace."""
    server = Path(sys.executable).with_name("mcp-server-time")
    if not server.exists():
        pytest.skip("mcp-server-time is not installed: pip install -e '.[dev]'")
    config = box.root / "mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"time": {"command": str(server), "args": ["--local-timezone", "UTC"]}}})
    )
    box.user_config(f"[mcp]\nconfig = [{json.dumps(str(config))}]\n")
    arguments = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    flags = {"permission_mode": "bypassPermissions"}
    cassette = box.record("mcp", "convert", flags, [calls(("mcp__time__convert_time", arguments)), reply("21:00")])
    with http_receiver() as receiver:
        result = box.tau(
            "run", "-p", "convert", *flag_args(flags), "--model", f"replay:{cassette}",
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        spans = receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run's root span")
    run = one(spans, "tau.run")
    tool = one(spans, "execute_tool mcp__time__convert_time")
    assert tool.trace_id == run.trace_id and tool.attributes["tau.tool.outcome"] == "success"
    calls_made = [s for s in spans if s.parent_span_id == tool.span_id and "tools/call" in s.name]
    assert calls_made and all(s.scope in ("fastmcp", "mcp-python-sdk") for s in calls_made)


@pytest.mark.docker
def test_a_command_in_the_docker_sandbox_gets_its_spans_traceparent(box: Box) -> None:
    from tau.environment.docker import DockerEngine

    if not DockerEngine().ping():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no Docker daemon answers")
        pytest.skip("no Docker daemon answers")
    from tau.environment.sandbox import build_image

    build_image()  # tau's own sandbox image (instant when the tag exists)
    if os.geteuid() == 0:
        os.chown(box.work, 1000, 1000)  # the sandbox user owns the workspace, as in tests/docker
    flags = {"environment": "docker", "permission_mode": "acceptEdits", "allow": ["Bash(*)"]}
    cassette = box.record("docker", "trace it", flags, [calls(("bash", {"command": WRITE_TRACEPARENT})), reply("ok")])
    trace_id, _, traceparent = caller()
    with http_receiver() as receiver:
        result = box.tau(
            "run", "-p", "trace it", *flag_args(flags), "--model", f"replay:{cassette}",
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "TRACEPARENT": traceparent},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        spans = receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run's root span")
    assert one(spans, "tau.run").attributes["tau.environment"] == "docker"
    version, written_trace, command_id, flags_out = (box.work / "tp.txt").read_text().strip().split("-")
    assert (version, written_trace, flags_out) == ("00", trace_id, "01")
    command = by_id(spans)[command_id]
    assert command.name == "tau.command" and command.attributes["tau.command.backend"] == "docker"
    assert by_id(spans)[command.parent_span_id].name == "execute_tool bash"
