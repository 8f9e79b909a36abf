"""`tau serve` (a real subprocess): a Run request's `traceparent` header parents the run's root span; `/metrics`
serves the Prometheus text format behind the server's token (or without it with `--metrics-public`), counting runs
by status and terminal reason, tokens by model, tool calls and permission decisions from the runs' events."""

from __future__ import annotations

import secrets

import httpx
from receiver import http_receiver
from telemetry_kit import Box, serve

from tau.rpc._gen import runtime_pb2 as pb


def test_a_run_requests_traceparent_parents_the_runs_root_span(box: Box) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with http_receiver() as receiver, serve(box, env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}) as served:
        session = served.session("test:hello")
        final = served.run(session, "first", traceparent=f"00-{trace_id}-{parent_id}-01")
        assert final.status == "completed", final
        assert served.run(session, "second", traceparent="00-not-a-trace-parent-01").status == "completed"
        spans = receiver.wait_for(lambda spans: len([s for s in spans if s.name == "tau.run"]) == 2, "two runs")
    first, second = sorted((s for s in spans if s.name == "tau.run"), key=lambda s: s.start_ns)
    assert (first.trace_id, first.parent_span_id) == (trace_id, parent_id)
    assert first.attributes["tau.session.id"] == session
    assert second.parent_span_id == "" and second.trace_id != trace_id  # a malformed header is ignored
    agent = [s for s in spans if s.name == "invoke_agent tau" and s.trace_id == trace_id]
    assert len(agent) == 1 and agent[0].parent_span_id == first.span_id


def test_metrics_are_behind_the_token_and_count_runs(box: Box) -> None:
    with serve(box) as served:
        url = f"{served.url}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(url, headers=served.headers()).status_code == 405
        session = served.session("test:hello")
        assert served.run(session, "count me").status == "completed"
        answer = httpx.get(url, headers=served.headers())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'tau_runs_total{reason="completed",status="completed"} 1.0' in text
    assert 'tau_tokens_total{kind="input",model="test:hello"}' in text
    assert "tau_sessions_active 0.0" in text
    assert 'tau_model_request_duration_seconds_count{model="test:hello"} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_metrics_public_serves_them_without_the_token(box: Box) -> None:
    with serve(box, "--metrics-public") as served:
        answer = httpx.get(f"{served.url}/metrics")
        session_call = httpx.post(
            f"{served.url}/tau.runtime.v1.RuntimeService/ListSessions",
            json={},
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 200 and "tau_runs_total" in answer.text
    assert session_call.status_code == 401  # only /metrics is public: the RPCs still need the token


def test_tool_calls_and_permission_decisions_are_counted(box: Box) -> None:
    from telemetry_kit import record_session

    from tau.testing import calls, reply

    permissions = pb.Permissions(mode="acceptEdits", allow=["Bash(echo *)"], deny=["Bash(rm *)"])
    request = pb.CreateSessionRequest(model="test:scripted", permissions=permissions)
    steps = [calls(("bash", {"command": "echo hi"}), ("bash", {"command": "rm -rf x"})), reply("done")]
    cassette = record_session(box, request, "work", steps)
    with serve(box) as served:
        session = served.session(f"replay:{cassette}", permissions=permissions)
        assert served.run(session, "work").status == "completed"
        text = httpx.get(f"{served.url}/metrics", headers=served.headers()).text
    assert 'tau_tool_calls_total{outcome="success",tool="bash"} 1.0' in text
    assert 'tau_tool_calls_total{outcome="denied",tool="bash"} 1.0' in text
    assert 'tau_permission_decisions_total{decision="deny",resolution="denied"} 1.0' in text
    assert 'tau_permission_decisions_total{decision="allow",resolution="allowed"} 1.0' in text
    assert "tau_step_duration_seconds_count 2.0" in text


def test_a_run_that_cannot_start_is_counted(box: Box) -> None:
    """A run that fails before its first event (here: a required MCP server that cannot start, a preflight failure)
    has no emitter; the server still counts it by status and reason, and no gauge moves."""
    servers = '{"mcpServers": {"vault": {"command": "/nonexistent/vault-mcp", "required": true}}}'
    job = f"---\nmcp:\n  strict: true\n  config: ['{servers}']\n---\nhello\n"
    with serve(box) as served:
        session = served.session("test:hello", job_text=job)
        final = served.run(session, "never starts")
        text = httpx.get(f"{served.url}/metrics", headers=served.headers()).text
    assert final.status == "failed", final
    assert f'tau_runs_total{{reason="{final.terminal_reason}",status="failed"}} 1.0' in text, text
    assert "tau_sessions_active 0.0" in text
