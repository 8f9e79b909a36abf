"""The checks made from outside a batch's `tau run`: the run's own contract, and every canary.

`check_batch`: stdout is tau's event stream and only tau's (every line JSON, `seq` 0..n-1, `session.started` first,
exactly one `run.completed`, last, with the session's id, the script's final text as result, the documented exit
code); every attack was reached (one `tool.completed` each); no secret token in stdout, stderr or anything sent to
the model; the outside tree and the home canaries unchanged; no `pwn-*` name anywhere; no request from a sandboxed
command reached the (host loopback) model server.

`check_case`: the attack's own tool result (expected status and text when the case names them), and none of its
effects: no `pwn-<case>`, its victim still there, its `unchanged` files byte-identical, no secret in its output.
"""

from __future__ import annotations

import json
from typing import Any

from sec_harness import BatchRun, Case

__all__ = ["check_batch", "check_case", "check_stream"]


def check_stream(run: BatchRun) -> dict[str, Any]:
    """The event-stream contract; returns the terminal event."""
    lines = run.lines  # every line must parse
    assert lines, run.stderr[-3000:]
    assert [line["seq"] for line in lines] == list(range(len(lines))), "seq is not 0..n-1: a line was injected"
    assert lines[0]["type"] == "session.started"
    assert [line["type"] for line in lines].count("run.completed") == 1
    last = lines[-1]
    assert last["type"] == "run.completed", last
    assert last["session_id"] == lines[0]["session_id"]
    return last


def check_batch(run: BatchRun) -> None:
    batch = run.batch
    last = check_stream(run)
    assert (run.returncode, last["exit_code"], last["terminal_reason"]) == (
        batch.exit_code,
        batch.exit_code,
        batch.terminal,
    ), (last, run.stderr[-3000:])
    reached = [e["call_id"] for e in run.events("tool.completed")]
    assert [run.call_id(case) for case in batch.cases] == reached[: len(batch.cases)], reached
    for name in batch.secrets:
        token = run.layout.token(name)
        assert token not in run.stdout, f"the {name} secret is in stdout"
        assert token not in run.stderr, f"the {name} secret is in stderr"
        assert token not in run.sent_to_model(), f"the {name} secret was sent to the model"
    if batch.outside_protected:
        changed = {
            key: (run.outside_before.get(key), run.outside_after.get(key))
            for key in run.outside_before.keys() | run.outside_after.keys()
            if run.outside_before.get(key) != run.outside_after.get(key)
        }
        assert changed == {}, changed
    escapes = [case.render(case.marker, run.layout) for case in batch.cases if case.xfail]
    unexpected = [rel for rel in run.layout.pwned() if not any(marker in rel for marker in escapes)]
    assert unexpected == []  # (names created by documented escapes are the xfail cases' business)
    assert run.strays == []


def check_case(run: BatchRun, case: Case) -> None:
    completed = run.completed(case)
    output = completed["output"]
    if case.expect == "refused":
        assert completed["status"] in ("failed", "denied", "retried"), completed
    elif case.expect is not None:
        assert completed["status"] == case.expect, completed
    for text in case.output_has:
        assert case.render(text, run.layout) in output, (text, output)
    for text in case.output_lacks:
        assert case.render(text, run.layout) not in output, (text, output)
    effects = case.effects(run.layout, run.originals[case.id], json.dumps(completed), run.batch.secrets)
    assert effects == [], (effects, completed)
