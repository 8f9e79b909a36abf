"""The session document and the export page as data (no browser): message parts as the page shows them, long texts
cut with their length, the job summary's allowlist, JSON that cannot end its <script> element, and an export page
whose Content-Security-Policy names exactly the inlined scripts and style."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime

from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.usage import RequestUsage

from tau.viewer.document import job_summary
from tau.viewer.messages import TEXT_CAP, messages_view
from tau.viewer.page import SCRIPTS, embedded_json, export_html

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_messages_become_the_parts_the_page_shows() -> None:
    long = "x" * (TEXT_CAP + 5)
    messages = [
        ModelRequest(parts=[UserPromptPart("hi", timestamp=WHEN)]),
        ModelResponse(
            parts=[TextPart("narration"), ToolCallPart("bash", '{"command": "ls"', tool_call_id="c1")],
            usage=RequestUsage(input_tokens=10, output_tokens=3),
            model_name="m",
            timestamp=WHEN,
        ),
        ModelRequest(
            parts=[
                ToolReturnPart("bash", long, tool_call_id="c1", timestamp=WHEN, outcome="denied"),
                ToolReturnPart("read", "bad args", tool_call_id="c2", timestamp=WHEN, outcome="retried"),
            ]
        ),
    ]
    request, response, results = messages_view(messages)
    assert request["parts"] == [{"kind": "user", "time": WHEN.isoformat(), "text": "hi"}]
    assert response["usage"] == {"input_tokens": 10, "output_tokens": 3} and response["model"] == "m"
    assert response["parts"] == [
        {"kind": "text", "text": "narration"},
        # pydantic-ai keeps invalid JSON from the model under INVALID_JSON
        {"kind": "tool_call", "tool": "bash", "call_id": "c1", "args": {"INVALID_JSON": '{"command": "ls"'}},
    ]
    denied, retry = results["parts"]
    assert (denied["outcome"], len(denied["text"]), denied["cut"]) == ("denied", TEXT_CAP, TEXT_CAP + 5)
    assert (retry["kind"], retry["tool"], retry["call_id"], retry["outcome"]) == (
        "tool_return",
        "read",
        "c2",
        "retried",
    )


def test_the_job_summary_is_an_allowlist() -> None:
    config = {
        "home": "/home/ada",
        "trust": {"root": "/w", "trusted": True},
        "model": {"provider": "openai", "name": "gpt", "api_key": "sk-secret", "base_url": "http://x"},
        "environment": {"kind": "docker", "workspace": "/w", "sandbox": {"image": "img", "secret": 1}},
        "permissions": {"mode": "default", "allow": ["Read"], "extra": 1},
        "limits": {"max_turns": 5, "tool_timeout": 3},
        "tools": ["read"],
        "source": "job.md",
    }
    assert job_summary(config) == {
        "source": "job.md",
        "tools": ["read"],
        "model": "openai:gpt",
        "environment": {"kind": "docker", "workspace": "/w", "image": "img"},
        "permissions": {"mode": "default", "allow": ["Read"]},
        "limits": {"max_turns": 5},
    }


def test_embedded_json_cannot_close_its_script_element() -> None:
    value = {"text": "</script><script>alert(1)</script> & \u2028 <!--"}
    encoded = embedded_json(value)
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded and "\u2028" not in encoded
    assert json.loads(encoded) == value


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_export_policy_allows_exactly_what_is_inlined() -> None:
    document = {"format": "tau.viewer/1", "session": {"id": "s", "title": "</script>"}, "steps": [], "events": []}
    html = export_html(document)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    directives = dict(part.strip().split(" ", 1) for part in policy.group(1).split(";"))
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(inline) == len(SCRIPTS) and len(styles) == 1
    assert directives["script-src"].split() == [_sha(code) for code in inline]
    assert directives["style-src"] == _sha(styles[0])
    assert directives["default-src"] == "'none'" and "connect-src" not in directives
    data = re.search(r'<script type="application/json" id="tau-data">(.*?)</script>', html, flags=re.S)
    assert data is not None and json.loads(data.group(1)) == document
