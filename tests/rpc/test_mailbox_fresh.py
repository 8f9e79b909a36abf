"""Mail to a session that exists but has never run (issue #17 item 2): it is accepted, and it fires the session's
first run with the mail as its prompt — from SendMessage, and from `tau mail send` (a subprocess on the server's
state dir, which knows the session from the serve journal only: nothing is in the store before a first run). Mail
to a deleted session stays refused (NOT_FOUND; the CLI's one line, exit 2). A real `tau serve` (uvicorn on
127.0.0.1), a scripted model, the generated client."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from rpc_helpers import Scripts, Served
from test_sigterm import TAU, hermetic_env

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.mailbox import MailLimits
from tau.rpc.service import ServiceLimits
from tau.testing import reply

BOUND = 60.0


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_mail_fires_a_never_run_sessions_first_run(serve: Callable[..., Served], tmp_path: Path) -> None:
    state = tmp_path / "state"
    scripts = Scripts(lambda job: [reply("read: " + job.prompt.splitlines()[-1])])
    served = serve(scripts, state_dir=state, limits=ServiceLimits(mail=MailLimits(debounce=0.05, poll=0.1)))
    env = hermetic_env(tmp_path)

    def mail_send(session_id: str, text: str) -> subprocess.CompletedProcess[str]:
        command = [*TAU, "mail", "send", session_id, text, "--sender", "ci", "--state-dir", str(state)]
        return subprocess.run(command, check=False, cwd=served.workspace, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    with served.client() as client:
        h = served.headers

        def first_run_done(session_id: str) -> Callable[[], bool]:
            def check() -> bool:
                found = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=h).session
                return found.runs == 1 and found.status == pb.SESSION_STATUS_COMPLETED

            return check

        for session_id in ("by-rpc", "by-cli", "gone"):
            client.create_session(pb.CreateSessionRequest(session_id=session_id, model="test:scripted"), headers=h)
        sent = client.send_message(pb.SendMessageRequest(session_id="by-rpc", text="hello rpc", sender="gw"), headers=h)
        assert sent.mail.seq == 1
        wait_until(first_run_done("by-rpc"), "the first run SendMessage fired")

        posted = mail_send("by-cli", "hello cli")
        assert (posted.returncode, posted.stdout.strip()) == (0, "1"), posted.stderr
        wait_until(first_run_done("by-cli"), "the first run `tau mail send` fired")

        client.delete_session(pb.DeleteSessionRequest(session_id="gone"), headers=h)
        try:
            client.send_message(pb.SendMessageRequest(session_id="gone", text="hi"), headers=h)
            raise AssertionError("SendMessage to a deleted session was accepted")
        except ConnectError as error:
            assert error.code == Code.NOT_FOUND
        refused = mail_send("gone", "hi")
        mail = {s: client.list_mail(pb.ListMailRequest(session_id=s), headers=h).mail for s in ("by-rpc", "by-cli")}
    assert (refused.returncode, refused.stderr.strip().endswith("no session 'gone'")) == (2, True), refused.stderr
    assert [(m.sender, m.body, bool(m.deliver_time)) for m in mail["by-rpc"]] == [("gw", "hello rpc", True)]
    assert [(m.sender, m.body, bool(m.deliver_time)) for m in mail["by-cli"]] == [("ci", "hello cli", True)]
    results = sorted(job.prompt.splitlines()[-1] for job in scripts.jobs)
    assert results == ["hello cli", "hello rpc"]  # each first run's prompt is its mail
