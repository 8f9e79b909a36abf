"""`tau mail send` and `tau mail ls` as subprocesses: a session's mailbox in the store's catalog (the same table
`tau serve`'s SendMessage / ListMail use); an unknown session or empty text is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from test_presets_cli import Box

from tau.sessions.catalog import Catalog, catalog_path


def test_send_and_list_mail(tmp_path: Path) -> None:
    box = Box(tmp_path)
    box.ok("run", "-p", "task", "-m", "test:x", "--session-id", "s1")
    assert box.ok("mail", "send", "s1", "the build is green").strip() == "1"
    assert box.ok("mail", "send", "s1", "line one\nline two", "--sender", "ci").strip() == "2"
    Catalog(catalog_path(box.state)).mark_delivered([1])
    assert box.ok("mail", "ls", "s1").splitlines() == [
        "1\tmessage\tcli\tdelivered\tthe build is green",
        "2\tmessage\tci\tpending\tline one",
    ]
    listed = json.loads(box.ok("mail", "ls", "s1", "--json", "--pending"))
    assert [(m["seq"], m["sender"], m["body"], m["delivered"]) for m in listed] == [(2, "ci", "line one\nline two", "")]
    assert "no session 'nope'" in box.refused("mail", "send", "nope", "hi")
    assert "no session 'nope'" in box.refused("mail", "ls", "nope")
    assert "the message is empty" in box.refused("mail", "send", "s1", "  ")
