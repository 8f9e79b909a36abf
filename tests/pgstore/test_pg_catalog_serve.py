"""Two real `tau serve --store postgres://…` processes (inline engine, each with its own state dir, workspace and
HOME: two machines) share one catalog: a preset created by RPC on one is listed, read and updated on the other; a
stale UpdatePreset is ABORTED whichever server took the newer version; a session created from the preset uses the
version the other server wrote; mail sent through one server is listed by the other. Nothing of it lands in either
server's state directory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import psycopg
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from pydantic_ai.messages import ModelRequest, UserPromptPart

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions_cli"))

from serve_process import TOKEN, ServeProcess, wait_for
from sessions_cli_helpers import make_box

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.sessions.catalog import catalog_path
from tau.sessions.catalog_port import open_catalog
from tau.sessions.postgres import PostgresSessionStore

pytestmark = pytest.mark.slow

HEADERS = {"authorization": f"Bearer {TOKEN}"}
JOB = "---\nmodel: test:x\nlimits:\n  max_turns: {turns}\n---\nReview the diff.\n"


@pytest.fixture
def servers(tmp_path: Path, pg_url: str) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    first = ServeProcess.start(tmp_path / "one", "--store", pg_url)
    try:
        second = ServeProcess.start(tmp_path / "two", "--store", pg_url)
    except BaseException:
        first.stop()
        raise
    yield first, second
    for server in (first, second):
        server.stop()


def _spec(turns: int) -> pb.PresetSpec:
    return pb.PresetSpec(description="Code review", job_text=JOB.format(turns=turns))


def test_a_preset_created_on_one_server_is_seen_and_versioned_on_another(
    servers: tuple[ServeProcess, ServeProcess], tmp_path: Path, pg_url: str
) -> None:
    one, two = (RuntimeServiceClientSync(server.url, timeout_ms=60_000) for server in servers)
    created = one.create_preset(pb.CreatePresetRequest(name="review", spec=_spec(3)), headers=HEADERS)
    assert created.preset.version == 1

    listed = two.list_presets(pb.ListPresetsRequest(), headers=HEADERS)
    assert [(p.name, p.version, p.spec.description) for p in listed.presets] == [("review", 1, "Code review")]
    updated = two.update_preset(
        pb.UpdatePresetRequest(name="review", spec=_spec(5), expected_version=1), headers=HEADERS
    )
    assert updated.preset.version == 2
    with pytest.raises(ConnectError) as stale:  # the first server's edit from version 1 comes too late
        one.update_preset(pb.UpdatePresetRequest(name="review", spec=_spec(7), expected_version=1), headers=HEADERS)
    assert stale.value.code == Code.ABORTED
    with pytest.raises(ConnectError) as taken:
        two.create_preset(pb.CreatePresetRequest(name="review", spec=_spec(1)), headers=HEADERS)
    assert taken.value.code == Code.ALREADY_EXISTS

    got = one.get_preset(pb.GetPresetRequest(name="review"), headers=HEADERS)
    assert (got.preset.version, got.preset.spec.job_text) == (2, JOB.format(turns=5))
    session = one.create_session(pb.CreateSessionRequest(preset="review"), headers=HEADERS).session
    assert (session.preset, session.preset_version) == ("review", 2)

    sent = one.send_message(pb.SendMessageRequest(session_id=session.session_id, text="hello"), headers=HEADERS)
    assert sent.mail.seq == 1
    catalog = open_catalog(pg_url)  # a third process on the same database
    assert [(m.seq, m.body) for m in catalog.mail(session.session_id)] == [(1, "hello")]
    assert catalog.preset("review", 1) is not None and catalog.preset("review", 3) is None
    catalog.close()
    for name in ("one", "two"):
        assert not catalog_path(tmp_path / name / "state").exists()


def test_tau_mail_send_reaches_a_served_session_that_never_ran(
    servers: tuple[ServeProcess, ServeProcess], tmp_path: Path, pg_url: str
) -> None:
    """`tau mail send --store` on another machine: the session exists only in the database's serve journal (created,
    never run); the mail is stored, and a front end's poll delivers it as the session's first run."""
    one = RuntimeServiceClientSync(servers[0].url, timeout_ms=60_000)
    request = pb.CreateSessionRequest(job_text="---\nmodel: test:x\n---\nStart.\n")
    session_id = one.create_session(request, headers=HEADERS).session_id
    box = make_box(tmp_path / "cli")
    sent = box.tau("mail", "send", session_id, "the build is green", "--store", pg_url)
    assert (sent.returncode, sent.stdout.strip()) == (0, "1"), sent.stderr
    refused = box.tau("mail", "send", "nope", "hi", "--store", pg_url)
    assert refused.returncode == 2 and "no session 'nope'" in refused.stderr

    def delivered() -> bool:
        mail = one.list_mail(pb.ListMailRequest(session_id=session_id), headers=HEADERS).mail
        return [(m.seq, bool(m.deliver_time)) for m in mail] == [(1, True)]

    wait_for(delivered, "the CLI's mail to be delivered")
    wait_for(
        lambda: one.get_session(pb.GetSessionRequest(session_id=session_id), headers=HEADERS).session.head_snapshot_id,
        "the session's first run to commit",
    )


def test_mail_for_a_session_is_delivered_once_by_two_front_ends(
    servers: tuple[ServeProcess, ServeProcess], pg_url: str
) -> None:
    """Both front ends poll the shared mailbox; each message wakes the session once (`mark_delivered` claims it, and
    the wake-up holds the session through rpc.ownership), so no run fails on the other front end's lock and every
    message is one prompt of the transcript, also after the front ends' catalog connections were cut. (The two
    polls rarely fire in the same instant, so this does not force the race; the claim itself is raced by four
    processes in test_catalog_contract.)"""
    one = RuntimeServiceClientSync(servers[0].url, timeout_ms=60_000)
    request = pb.CreateSessionRequest(job_text="---\nmodel: test:x\n---\nStart.\n")
    session_id = one.create_session(request, headers=HEADERS).session_id
    events = list(one.run(pb.RunRequest(session_id=session_id, prompt="first"), headers=HEADERS))
    assert events[-1].final.status == "completed"
    drop = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tau catalog'"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(drop)  # the front ends' catalog connections: their next poll reads on a new one
    catalog = open_catalog(pg_url)  # `tau mail send` from a third machine, three times
    bodies = [f"payload-{n}" for n in "abc"]
    for body in bodies:
        catalog.post_mail(session_id, sender="ci", kind="message", body=body)

    def settled() -> bool:
        if catalog.mail(session_id, pending_only=True):
            return False
        session = one.get_session(pb.GetSessionRequest(session_id=session_id), headers=HEADERS).session
        return session.status == pb.SESSION_STATUS_COMPLETED and session.runs >= 2

    wait_for(settled, "the mail to be delivered and its run to end")
    catalog.close()

    async def prompts() -> list[str]:
        async with PostgresSessionStore(pg_url) as store:
            shown = await store.show(session_id)
        return [
            str(part.content)
            for message in shown.messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, UserPromptPart)
        ]

    text = "\n".join(anyio.run(prompts))
    assert [text.count(body) for body in bodies] == [1, 1, 1]


def test_mail_from_another_process_is_heard_without_polling(tmp_path: Path, pg_url: str) -> None:
    """With the mailbox's poll off, mail another process posts reaches the front end through LISTEN/NOTIFY alone
    (`PgCatalog.mail_posted`): it wakes the session, whose continuation run sees it."""
    import asyncio
    import threading

    from rpc_helpers import Scripts, Served

    from tau.rpc.mailbox import MailLimits
    from tau.rpc.server import RuntimeServer
    from tau.rpc.service import RuntimeServiceImpl, ServiceLimits
    from tau.testing import reply

    workspace, home = tmp_path / "ws", tmp_path / "home"
    workspace.mkdir()
    home.mkdir()
    store = PostgresSessionStore(pg_url, state_dir=tmp_path / "state")
    service = RuntimeServiceImpl(
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")},
        cwd=workspace,
        model_factory=Scripts(lambda job: [reply("ok")]),
        store=store,
        limits=ServiceLimits(mail=MailLimits(poll=0)),  # no poll: only a notification can wake the session
    )
    server = RuntimeServer(service, host="127.0.0.1", port=0, token=TOKEN)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    assert server.started.wait(15), "server did not start"
    served = Served(server.url, service, server, TOKEN, workspace, thread)
    try:
        with served.client() as client:
            session_id = served.create(client)
            events = list(client.run(pb.RunRequest(session_id=session_id, prompt="first"), headers=HEADERS))
            assert events[-1].final.status == "completed"
            catalog = open_catalog(pg_url)  # another process's connection
            catalog.post_mail(session_id, sender="ci", kind="message", body="payload-notify")

            def woken() -> bool:
                session = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=HEADERS).session
                return session.runs == 2 and session.status == pb.SESSION_STATUS_COMPLETED

            wait_for(woken, "the notified mail to wake the session")
            assert [bool(m.delivered) for m in catalog.mail(session_id)] == [True]
            catalog.close()
    finally:
        served.stop()
        anyio.run(store.aclose)
