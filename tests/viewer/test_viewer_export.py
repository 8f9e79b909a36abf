"""`tau sessions view ID FILE.html` (the real CLI, a subprocess): one self-contained file that Chromium opens from
disk with no network request at all, showing the same transcript, diff and fork tree as the served page; `--events`
adds permission decisions; operator mistakes are one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from viewer_kit import ANSWER, HOSTILE, Server, finished_pair

from tau.protocol import PermissionDecided, ToolCompleted


def tau(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "tau", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def exported(server: Server, tmp_path: Path) -> tuple[Path, Server]:
    session, _ = finished_pair(server)
    events = tmp_path / "events.jsonl"
    decided = PermissionDecided(
        call_id="call_2_0", tool="bash", decision="allow", resolution="allowed", rule="Bash(*)", reason="by the rule"
    )
    completed = ToolCompleted(call_id="call_2_0", tool="bash", status="success", output="x", duration_ms=1234.0)
    events.write_text(f"{decided.model_dump_json()}\nnot an event\n{completed.model_dump_json()}\n")
    target = tmp_path / "out" / "demo-notes.html"
    target.parent.mkdir()
    result = tau(
        "sessions",
        "view",
        session,
        str(target),
        "--events",
        str(events),
        "--state-dir",
        str(server.state),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote demo-notes (4 steps, 2 events) to {target}\n"
    assert result.stderr == "tau: --events: skipped 1 line(s) that are not tau events\n"
    return target, server


def test_the_exported_page_opens_offline_without_a_single_request(
    exported: tuple[Path, Server], page: Any, shoot: Any
) -> None:
    target, _ = exported
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(target.as_uri())
    page.wait_for_selector(f"text={ANSWER}")
    assert requests == [target.as_uri()]  # the file itself, nothing else
    bash = page.locator(".tool[data-tool='bash']")
    assert HOSTILE in bash.locator("pre.result").inner_text()
    assert page.locator("#app img").count() == 0 and page.evaluate("window.__xss === undefined")
    assert bash.locator(".perm").inner_text() == "permission: allow → allowed · Bash(*)"  # from --events
    assert bash.locator(".took").inner_text() == "1.2 s"
    assert page.locator("#token-button").count() == 0
    page.click("[data-tab='workspace']")
    assert page.locator(".diff.whole .file-head").inner_text() == "added notes.md"
    assert page.locator("#diff-go").count() == 0  # comparing other snapshots needs the server
    page.click("[data-tab='tree']")
    assert page.locator("li[data-session='demo-notes'] li[data-session='demo-notes-variant']").count() == 1
    assert page.locator("li[data-session='demo-notes-variant'] a").count() == 0  # no links out of the file
    shoot(page, "viewer-export")
    assert requests == [target.as_uri()]


def test_the_file_is_one_piece_with_its_policy(exported: tuple[Path, Server]) -> None:
    target, _ = exported
    html = target.read_text(encoding="utf-8")
    assert "default-src 'none'" in html and "connect-src" not in html  # no fetch can leave the page
    assert 'src="' not in html and 'href="viewer.css"' not in html  # nothing loaded from outside the file
    start = html.index('<script type="application/json" id="tau-data">') + len(
        '<script type="application/json" id="tau-data">'
    )
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["session"]["id"] == "demo-notes" and data["format"] == "tau.viewer/1"
    assert "<img" not in html[start : html.index("</script>", start)]  # written as \\u003cimg
    assert [event["type"] for event in data["events"]] == ["permission.decided", "tool.completed"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["demo-notes.html"]  # no temp file left


def test_operator_mistakes_are_one_line_exit_2(server: Server, tmp_path: Path) -> None:
    finished_pair(server)
    state = str(server.state)
    unknown = tau("sessions", "view", "no-such-session", str(tmp_path / "x.html"), "--state-dir", state, cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
    assert "no session or snapshot matches 'no-such-session'" in unknown.stderr
    missing_dir = tau(
        "sessions", "view", "demo-notes", str(tmp_path / "nowhere" / "x.html"), "--state-dir", state, cwd=tmp_path
    )
    assert missing_dir.returncode == 2 and missing_dir.stderr.startswith("tau: FILE: cannot write"), missing_dir.stderr
    no_output = tau("sessions", "view", "demo-notes", "--state-dir", state, cwd=tmp_path)
    assert no_output.returncode == 2 and "FILE" in no_output.stderr, no_output.stderr
    dash_o = tau("sessions", "view", "demo-notes", "-o", str(tmp_path / "x.html"), "--state-dir", state, cwd=tmp_path)
    assert dash_o.returncode == 2 and "tau sessions view ID FILE" in dash_o.stderr, dash_o.stderr
    bad_events = tau(
        "sessions", "view", "demo-notes", str(tmp_path / "x.html"), "--events", str(tmp_path / "none.jsonl"),
        "--state-dir", state, cwd=tmp_path,
    )  # fmt: skip
    assert bad_events.returncode == 2 and "events file not found" in bad_events.stderr
    assert not (tmp_path / "x.html").exists()
