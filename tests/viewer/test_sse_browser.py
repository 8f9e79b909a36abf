"""A browser's `EventSource` (Debian's Chromium through Playwright) follows a session over Server-Sent Events
(GET /v1/sessions/{id}/events, `rpc.sse`) against a real `tau serve`, across reconnects: with `follow=0` the server
ends the stream whenever no run is in progress, the browser reconnects by itself sending `Last-Event-ID`, and
across two runs and several reconnects it sees every event exactly once, in seq order."""

from __future__ import annotations

from typing import Any

from viewer_kit import ANSWER, TOKEN, Server

from tau.rpc._gen import runtime_pb2 as pb

ONEOF = [field.name for field in pb.StreamEventsResponse.DESCRIPTOR.oneofs_by_name["event"].fields]
KINDS = [{"error": "run_error"}.get(name, name) for name in ONEOF] + ["event"]  # EventSource owns `error`

FOLLOW = """([url, kinds]) => {
    window.__seen = [];
    window.__opens = [];
    const source = new EventSource(url);
    source.onopen = () => window.__opens.push(window.__seen.length);
    for (const kind of kinds) {
        source.addEventListener(kind, (e) => {
            window.__seen.push([Number(e.lastEventId), kind, Number(JSON.parse(e.data).seq)]);
        });
    }
    window.__source = source;
}"""


def wait_until(page: Any, predicate: str) -> None:
    """Poll a JS predicate with `evaluate` (the viewer page's CSP forbids the eval `wait_for_function` needs)."""
    for _ in range(1200):
        if page.evaluate(predicate):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true in the page: {predicate}")


def test_event_source_reconnects_with_last_event_id_without_gap_or_duplicate(server: Server, page: Any) -> None:
    session = server.create("followed")
    page.goto(server.url + "/ui/")  # same origin as the events (the page's CSP allows connect-src 'self')
    url = f"/v1/sessions/{session}/events?follow=0&access_token={TOKEN}"
    page.evaluate(FOLLOW, [url, KINDS])

    first = server.run(session, "refactor the notes")
    assert first[-1].final.result == ANSWER
    wait_until(page, "() => window.__seen.some(e => e[1] === 'final')")
    # the stream ended with the run; the browser reconnects on its own, after the events it has seen
    wait_until(page, "() => window.__opens.some(n => n > 0)")

    second = server.run(session, "variant please")
    wait_until(page, "() => window.__seen.filter(e => e[1] === 'final').length === 2")
    page.evaluate("window.__source.close()")

    seen = page.evaluate("window.__seen")
    last_seq = server.get(session).last_seq
    assert last_seq == second[-1].seq
    assert [item[0] for item in seen] == list(range(1, last_seq + 1))  # no gap, no duplicate, in order
    assert all(event_id == seq for event_id, _, seq in seen)
    expected = [
        {"error": "run_error"}.get(kind, kind) for kind in (e.WhichOneof("event") or "event" for e in [*first, *second])
    ]
    assert [kind for _, kind, _ in seen] == expected
    opens = page.evaluate("window.__opens")
    assert len(opens) >= 2 and any(0 < n < len(seen) for n in opens), opens  # reconnected between the runs
