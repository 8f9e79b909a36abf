"""The viewer's routes in `tau serve` over real HTTP (httpx, no browser): the page and its assets are public and
carry their security headers, the JSON API wants the server's token (or, without one, a loopback Host), unknown
names are 404 with one line, only GET/HEAD are answered, and the Connect service beside it is untouched."""

from __future__ import annotations

from pathlib import Path

import httpx
from viewer_kit import TOKEN, Server, finished_pair, running_server

from tau.viewer.page import SERVED_CSP

AUTH = {"authorization": f"Bearer {TOKEN}"}


def test_page_and_assets_are_public_with_their_headers(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        root = http.get("/")
        assert (root.status_code, root.headers["location"]) == (302, "/ui/")
        page = http.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == SERVED_CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        assert '<script src="app.js"></script>' in page.text
        script = http.get("/ui/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        for missing in ("/ui/nope.js", "/ui/static/app.js", "/ui/..%2f..%2fpyproject.toml", "/ui/api.py"):
            assert http.get(missing).status_code == 404, missing
        assert http.head("/ui/viewer.css").status_code == 200
        posted = http.post("/ui/", content=b"x")
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")


def test_the_api_wants_the_token(server: Server) -> None:
    finished_pair(server)
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/ui/api/sessions").status_code == 401
        wrong = http.get("/ui/api/sessions", headers={"authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid bearer token"})
        listed = http.get("/ui/api/sessions", headers=AUTH)
        assert listed.headers["cache-control"] == "no-store"
        assert [row["id"] for row in listed.json()["sessions"]] == ["demo-notes-variant", "demo-notes"]
        found = http.get("/ui/api/sessions", params={"q": "VARIANT", "status": "completed"}, headers=AUTH).json()
        assert [row["id"] for row in found["sessions"]] == ["demo-notes-variant"]
        document = http.get("/ui/api/session", params={"id": "demo-notes"}, headers=AUTH).json()
        assert [node["id"] for node in document["tree"]["nodes"]] == ["demo-notes", "demo-notes-variant"]
        steps = [step["id"] for step in document["steps"] if step["workspace"]]
        diff = http.get("/ui/api/diff", params={"a": steps[0][:12], "b": steps[-1]}, headers=AUTH).json()
        assert [(f["kind"], f["path"]) for f in diff["files"]] == [("changed", "notes.md")]
        unknown = http.get("/ui/api/session", params={"id": "nope"}, headers=AUTH)
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"error": "no session or snapshot matches 'nope' in " + str(server.state)},
        )
        assert http.get("/ui/api/session", headers=AUTH).json() == {"error": "parameter 'id' is required"}
        assert http.get("/ui/api/sessions", params={"limit": "x"}, headers=AUTH).status_code == 400
        assert http.get("/ui/api/other", headers=AUTH).status_code == 404
        # the RuntimeService beside it is untouched, token and all
        rpc = "/tau.runtime.v1.RuntimeService/GetSession"
        assert http.post(rpc, json={"session_id": "demo-notes"}).status_code == 401
        assert (
            http.post(rpc, json={"session_id": "demo-notes"}, headers=AUTH).json()["session"]["sessionId"]
            == "demo-notes"
        )


def test_without_a_token_only_loopback_names_are_answered(tmp_path: Path) -> None:
    with running_server(tmp_path, token=None) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/ui/api/sessions").json() == {"sessions": [], "truncated": False}
        for host in ("localhost:7433", "127.0.0.2", "[::1]:80"):
            assert http.get("/ui/api/sessions", headers={"host": host}).status_code == 200, host
        for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", "10.0.0.1"):
            rebound = http.get("/ui/api/sessions", headers={"host": host})
            assert rebound.status_code == 403, host
        assert http.get("/ui/", headers={"host": "evil.example"}).status_code == 200  # the page holds no data
