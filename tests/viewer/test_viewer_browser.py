"""The session viewer in a real browser (Debian's Chromium through Playwright) against a real `tau serve`: the
token prompt, the session list and its filters, a finished session's transcript (hostile tool output shown as
text), its workspace diff and fork tree, a running session updating live, and a pending approval answered from the
page after which the run continues. Screenshots of each go to docs/screenshots (TAU_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from viewer_kit import ANSWER, HOSTILE, TOKEN, Server, finished_pair, suspended

from tau.rpc._gen import runtime_pb2 as pb


def open_with_token(page: Any, url: str) -> None:
    page.goto(url)
    page.fill("#token-input", TOKEN)
    page.click("#token-save")


def test_a_wrong_token_is_refused_and_the_right_one_kept_for_the_tab(server: Server, page: Any) -> None:
    page.goto(server.url + "/")
    page.fill("#token-input", "not-the-token")
    page.click("#token-save")
    page.wait_for_selector("text=That token was refused")
    page.fill("#token-input", TOKEN)
    page.click("#token-save")
    page.wait_for_selector("text=No sessions match.")
    assert page.evaluate("sessionStorage.getItem('tau-token')") == TOKEN
    page.reload()
    page.wait_for_selector("#filter-text")  # no prompt again in this tab
    assert page.locator("#token-input").count() == 0


def test_list_filters_then_a_finished_session_transcript_diff_and_fork_tree(
    server: Server, page: Any, shoot: Any
) -> None:
    session, fork = finished_pair(server)
    suspended(server)
    open_with_token(page, server.url + "/ui/")
    page.wait_for_selector(f"tr[data-session='{fork}']")
    assert page.locator("table.sessions tbody tr").count() == 3
    shoot(page, "viewer-list")

    rows = page.locator("table.sessions tbody tr")
    page.fill("#filter-text", "variant")
    expect(rows).to_have_count(1)
    assert rows.get_attribute("data-session") == fork
    page.fill("#filter-text", "")
    expect(rows).to_have_count(3)
    page.select_option("#filter-status", "suspended")
    expect(rows).to_have_count(1)
    assert rows.get_attribute("data-session") == "demo-approval"
    page.select_option("#filter-status", "")
    page.wait_for_selector(f"tr[data-session='{session}']")

    page.click(f"tr[data-session='{session}'] a")
    page.wait_for_selector(f"text={ANSWER}")
    tools = page.locator(".transcript .tool").evaluate_all("cards => cards.map(c => c.dataset.tool)")
    assert tools == ["write", "bash", "edit"]
    bash = page.locator(".tool[data-tool='bash']")
    assert bash.locator(".perm").inner_text() == "permission: allow → allowed · Bash(*)"
    assert HOSTILE in bash.locator("pre.result").inner_text()  # the tool's output, as text
    assert page.evaluate("window.__xss === undefined")
    assert page.locator("#app img").count() == 0 and page.locator("#app script").count() == 0
    steps = page.locator(".step .step-head").all_inner_texts()
    assert [text.split(" · ")[0] for text in steps] == ["step 0", "step 1", "step 2", "step 3", "step 4"]
    assert all("tokens" in text for text in steps[1:])
    shoot(page, "viewer-transcript")

    page.click("[data-tab='workspace']")
    whole = page.locator(".diff.whole")
    assert whole.locator(".file-head").inner_text() == "added notes.md"
    assert "+second draft" in whole.locator(".pl.add").all_inner_texts()
    changed = page.locator(".diff:not(.whole) .file[data-path='notes.md']")
    assert changed.locator(".pl.del").all_inner_texts() == ["-first draft"]
    assert changed.locator(".pl.add").all_inner_texts() == ["+second draft"]
    shoot(page, "viewer-diff")

    page.click("[data-tab='tree']")
    nested = page.locator(f"li[data-session='{session}'] li[data-session='{fork}']")
    assert "fork" in nested.locator(".node-line").inner_text()
    assert page.locator("li.node.current").get_attribute("data-session") == session
    shoot(page, "viewer-tree")

    nested.locator("a").first.click()  # the fork: its own transcript, the parent's steps marked inherited
    page.wait_for_selector("text=Done: the variant is bolder.")
    assert page.locator(".step.inherited").count() == 5


def test_a_running_session_updates_live(server: Server, page: Any, shoot: Any) -> None:
    server.create("demo-live")
    stream = server.start_run("demo-live", "live: wait for the go file")
    assert next(stream).WhichOneof("event") == "status"  # the run is under way
    open_with_token(page, server.url + "/ui/#/s/demo-live")
    page.wait_for_selector(".live .live-tool:has-text('running bash')")
    assert page.locator(".live .live-state").inner_text() == "running"
    shoot(page, "viewer-live")
    (server.workspace / "go").write_text("")
    page.wait_for_selector("text=Released and finished.")  # the transcript refreshed from the stream
    page.wait_for_selector(".live .live-state:has-text('completed')")
    assert "released" in page.locator(".tool[data-tool='bash'] pre.result").inner_text()
    assert list(stream)[-1].final.status == "completed"


def test_a_pending_approval_is_answered_from_the_page_and_the_run_continues(
    server: Server, page: Any, shoot: Any
) -> None:
    session = suspended(server)
    open_with_token(page, server.url + f"/ui/#/s/{session}")
    request = page.locator(".pending .request")
    request.wait_for()
    assert "echo approved > approved.txt" in request.locator("pre.args").inner_text()
    assert page.locator(".tool[data-tool='bash'] .badge").first.inner_text() == "pending"
    shoot(page, "viewer-approval")
    request.locator("button.approve").click()
    page.wait_for_selector("text=Approved and done.")
    page.wait_for_selector(".pending", state="detached")
    assert server.get(session).status == pb.SESSION_STATUS_COMPLETED
    assert (server.workspace / "approved.txt").read_text() == "approved\n"
    assert "ask → allowed" in page.locator(".tool[data-tool='bash'] .perm").inner_text()


def test_a_denial_from_the_page_reaches_the_model(server: Server, page: Any) -> None:
    session = suspended(server)
    open_with_token(page, server.url + f"/ui/#/s/{session}")
    request = page.locator(".pending .request")
    request.locator("input.deny-message").fill("not today <b>sorry</b>")
    request.locator("button.deny").click()
    page.wait_for_selector("text=Approved and done.")  # the script's next turn, after the denial
    result = page.locator(".tool[data-tool='bash'] pre.result").inner_text()
    assert "not today <b>sorry</b>" in result
    assert not (server.workspace / "approved.txt").exists()
