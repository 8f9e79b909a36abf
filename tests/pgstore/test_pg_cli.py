"""`tau run/resume/fork` and `tau sessions …` with `--store postgres://…` (and TAU_STORE, the user config's
`[store] url`) as subprocesses: the sessions live in Postgres, nothing in the state directory; bundles move them
between the file store and Postgres both ways; a repository's config cannot choose the store; a password in the
URL never reaches the output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions_cli"))

from sessions_cli_helpers import Box, make_box

pytestmark = pytest.mark.slow


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return make_box(tmp_path)


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_run_resume_fork_and_the_sessions_commands_on_postgres(box: Box, pg_url: str, tmp_path: Path) -> None:
    pg = ("--store", pg_url)
    ran = box.tau("run", "-p", "First.", "-m", "test:x", "--session-id", "s", "-o", "stream-json", *pg)
    assert ran.returncode == 0, ran.stderr
    assert _json_lines(ran.stdout)[0]["session_id"] == "s"
    assert not (box.state / "refs" / "sessions" / "s").exists()  # not in the file store
    middle = box.tau("sessions", "log", "s", *pg).stdout.splitlines()[-1].split()[0]
    resumed = box.tau("resume", "s", "-p", "Second.", "-o", "json", *pg)
    assert resumed.returncode == 0, resumed.stderr
    shown = box.tau("sessions", "show", "s", *pg).stdout
    assert shown.index("user: First.") < shown.index("user: Second.")
    assert len(box.tau("sessions", "log", "s", "--json", *pg).stdout.splitlines()) == 1
    assert len(json.loads(box.tau("sessions", "log", "s", "--json", *pg).stdout)["snapshots"]) == 3

    forked = box.tau("fork", middle, "-p", "Other path.", "--session-id", "f", "-o", "json", *pg)
    assert forked.returncode == 0, forked.stderr
    fork_view = box.tau("sessions", "show", "f", *pg).stdout
    assert "user: First." in fork_view and "user: Other path." in fork_view and "Second." not in fork_view
    rows = {row["id"]: row for row in _json_lines(box.tau("sessions", "ls", "--json", *pg).stdout)}
    assert set(rows) == {"s", "f"} and str(rows["f"]["parent"]).startswith(middle)
    assert rows["s"]["status"] == "completed" and rows["s"]["title"] == "First."
    assert box.tau("sessions", "ls", "--json").stdout == ""  # the file store has none of them
    assert box.tau("sessions", "diff", "s", "f", *pg).returncode == 0
    fsck = box.tau("sessions", "fsck", *pg)
    assert fsck.returncode == 0 and fsck.stdout.startswith("ok: postgresql://***@127.0.0.1:"), fsck.stdout

    # Postgres -> files -> resume there -> back into Postgres (a fast-forward)
    bundle = tmp_path / "s.tar.gz"
    assert box.tau("sessions", "export", "s", str(bundle), *pg).returncode == 0
    imported = box.tau("sessions", "import", str(bundle))
    assert imported.returncode == 0 and "ref created" in imported.stdout
    assert box.tau("resume", "s", "-p", "Third, on files.", "-o", "json").returncode == 0
    back = tmp_path / "back.tar.gz"
    assert box.tau("sessions", "export", "s", str(back)).returncode == 0
    again = box.tau("sessions", "import", str(back), *pg)
    assert again.returncode == 0 and "ref fast-forward" in again.stdout, again.stdout + again.stderr
    assert "user: Third, on files." in box.tau("sessions", "show", "s", *pg).stdout
    assert box.tau("sessions", "rm", "f", *pg).returncode == 0
    assert [row["id"] for row in _json_lines(box.tau("sessions", "ls", "--json", *pg).stdout)] == ["s"]
    assert box.tau("sessions", "gc", "--prune-now", *pg).returncode == 0
    assert box.tau("sessions", "fsck", *pg).returncode == 0


def test_tau_store_and_the_user_config_select_it_but_a_repository_cannot(box: Box, pg_url: str) -> None:
    env = box.env(TAU_STORE=pg_url)
    assert box.tau("run", "-p", "From env.", "-m", "test:x", "--session-id", "e", env=env).returncode == 0
    (box.home / ".config" / "tau").mkdir(parents=True, exist_ok=True)
    (box.home / ".config" / "tau" / "config.toml").write_text(f'[store]\nurl = "{pg_url}"\n')
    listed = _json_lines(box.tau("sessions", "ls", "--json").stdout)
    assert [row["id"] for row in listed] == ["e"]

    (box.home / ".config" / "tau" / "config.toml").unlink()
    (box.work / ".tau").mkdir()
    (box.work / ".tau" / "config.toml").write_text(f'[store]\nurl = "{pg_url}"\n')
    ran = box.tau("run", "-p", "Repo.", "-m", "test:x", "--session-id", "r", "--trust-workspace")
    assert ran.returncode == 0, ran.stderr
    assert (box.state / "refs" / "sessions" / "r").is_file()  # the file store, not the repository's choice
    assert "store can only be set in the user config" in ran.stderr


def test_an_unreachable_store_is_exit_3_without_its_password(box: Box) -> None:
    url = "postgres://tau:hunter2-secret@127.0.0.1:1/tau"
    for args in (("sessions", "ls"), ("run", "-p", "x", "-m", "test:x")):
        result = box.tau(*args, "--store", url)
        assert result.returncode == 3, result.stderr
        assert "hunter2" not in result.stderr + result.stdout
        assert "postgres://***@127.0.0.1:1/tau" in result.stderr
    bad = box.tau("sessions", "ls", "--store", "mysql://u:hunter2-secret@h/d")
    assert bad.returncode == 2 and "hunter2" not in bad.stderr and "--store" in bad.stderr
    refused = box.tau("sessions", "view", "s", "page.html", "--store", "postgres://127.0.0.1:1/tau")
    assert refused.returncode == 2 and "file store only" in refused.stderr


def test_inject_and_stop_reach_a_postgres_session_through_this_machines_inbox(box: Box, pg_url: str) -> None:
    import subprocess

    pg = ("--store", pg_url)
    assert box.tau("run", "-p", "x", "-m", "test:x", "--session-id", "s", *pg).returncode == 0
    idle = box.tau("stop", "s", *pg)
    assert idle.returncode == 0 and "is not running" in idle.stderr
    queued = box.tau("inject", "s", "later, please", *pg)
    assert queued.returncode == 0 and "not running" in queued.stderr
    assert len(list((box.state / "inbox" / "s").glob("*.msg"))) == 1
    writer = Path(__file__).with_name("pg_writer.py")
    holder = subprocess.Popen(
        [sys.executable, str(writer), pg_url, "s", "--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert [holder.stdout.readline().strip() for _ in range(2)] == ["ready", "holding"]
        stopped = box.tau("stop", "s", *pg)  # a writer in another process holds it: it is running
        assert stopped.returncode == 0 and "stop requested for session s" in stopped.stderr
    finally:
        holder.kill()
        holder.wait()
