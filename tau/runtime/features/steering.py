"""Steering: messages and stop requests sent to a session from another process, through its inbox directory.

Layout: `<state dir>/inbox/<session>/` holds one file per request, named `<time_ns>-<pid>-<nonce>.msg` (a message
for the model) or `.stop` (stop the run). Writers (`tau inject`, `tau stop`) write a dot-named temp file and
rename it into place, so a reader never sees a partial file; names sort in the order they were sent.

The running process watches its inbox (`watch_inbox`): watchfiles wakes it at once on a change, a periodic rescan
is the fallback (and the only mechanism when watchfiles is unavailable); the directory listing is the source of
truth. A request is consumed by renaming it to `<name>.done` (atomic: of two consumers exactly one wins), handled,
then deleted — each message is delivered once, in order. A stop request ends the watch after `on_stop()`;
messages sent after it stay queued for the next run of the session. Stop requests found when the watch starts
predate this run (`tau stop` only writes one while the session is running) and are discarded.

`tau inject` for a session that is not running leaves the message queued (delivered when the session next runs);
`tau stop` for one that is not running writes nothing. "Running" means a writer holds the session (the store
archive's `writing`: for the file store a non-blocking flock probe on `<state dir>/locks/<session>.lock`). The
inboxes live in the store's `state_dir()`; a store without an archive or a state directory cannot be steered (a
ConfigError). Unknown sessions are ConfigErrors (exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from tau.errors import ConfigError, Interrupted, RunError
from tau.sessions import SessionArchive, SessionStore

MESSAGE = ".msg"
STOP = ".stop"
DONE = ".done"
INBOX_DIR = "inbox"
POLL_INTERVAL_S = 0.5
STOPPED = "stopped by tau stop"
_WATCH_EXIT_S = 2.0
_WATCH_RESCAN_MS = 1000  # a watchfiles wake at least this often, for writes that came before the watch was in place


class StopEvent(Protocol):
    """An `asyncio.Event` or `anyio.Event`: set it to end `watch_inbox`."""

    def is_set(self) -> bool: ...

    def wait(self) -> Awaitable[Any]: ...


def inbox_dir(state_dir: Path | str, session_id: str) -> Path:
    return Path(state_dir) / INBOX_DIR / session_id


def _post(inbox: Path, suffix: str, text: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    nonce = uuid.uuid4().hex[:12]
    final = inbox / f"{time.time_ns():020d}-{os.getpid()}-{nonce}{suffix}"
    temp = inbox / f".tmp-{nonce}"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp, final)
    return final


def post_message(inbox: Path, text: str) -> Path:
    """Queue `text` for the model (atomically); returns the request file."""
    return _post(inbox, MESSAGE, text)


def post_stop(inbox: Path, reason: str = "") -> Path:
    """Queue a stop request (atomically); returns the request file."""
    return _post(inbox, STOP, reason)


def pending_requests(inbox: Path) -> list[Path]:
    """Unconsumed requests, oldest first."""
    if not inbox.is_dir():
        return []
    found = [p for p in inbox.iterdir() if not p.name.startswith(".") and p.suffix in (MESSAGE, STOP)]
    return sorted(found, key=lambda p: p.name)


async def is_running(store: SessionStore, session_id: str) -> bool:
    """Whether a writer holds the session (a run is active, in any process). Never waits."""
    archive = store.archive()
    return archive is not None and await archive.writing(session_id)


# -- senders (`tau inject`, `tau stop`) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """What a sender did: the session it resolved, whether that session is running, and the request file (None
    when nothing was written)."""

    session_id: str
    running: bool
    path: Path | None


def _parts(store: SessionStore, verb: str) -> tuple[SessionArchive, Path]:
    archive, state = store.archive(), store.state_dir()
    if archive is None or state is None:
        raise ConfigError(f"{verb} needs a session store with a state directory", field="SESSION")
    return archive, state


async def _session(archive: SessionArchive, name: str) -> str:
    view = await archive.view(name)  # SessionNotFoundError (a ConfigError, exit 2) when unknown or ambiguous
    if view.kind != "session" or view.session_id is None:
        raise ConfigError(f"{name!r} names a snapshot, not a session", field="SESSION")
    return view.session_id


async def inject_message(store: SessionStore, name: str, text: str) -> Posted:
    """`tau inject`: queue `text` in the session's inbox, running or not (a stopped session gets it on resume)."""
    if not text.strip():
        raise ConfigError("the message is empty", field="TEXT")
    archive, state = _parts(store, "tau inject")
    session_id = await _session(archive, name)
    path = post_message(inbox_dir(state, session_id), text)
    return Posted(session_id, await archive.writing(session_id), path)


async def request_stop(store: SessionStore, name: str, reason: str = "") -> Posted:
    """`tau stop`: ask the running session to stop; writes nothing when it is not running."""
    archive, state = _parts(store, "tau stop")
    session_id = await _session(archive, name)
    if not await archive.writing(session_id):
        return Posted(session_id, False, None)
    return Posted(session_id, True, post_stop(inbox_dir(state, session_id), reason))


# -- the receiver (the running process) ------------------------------------------------------------------------


def _claim(path: Path) -> str | None:
    """Take one request: rename it to `.done` (exactly one consumer wins) and read it; None if another won."""
    claimed = path.with_name(path.name + DONE)
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    try:
        return claimed.read_text(encoding="utf-8", errors="replace")
    finally:
        with contextlib.suppress(OSError):
            claimed.unlink()


def drain_inbox(inbox: Path, on_message: Callable[[str], None]) -> Literal["stop"] | None:
    """Deliver every queued message in order; stop at the first stop request (returns "stop"), leaving later
    messages queued."""
    for path in pending_requests(inbox):
        text = _claim(path)
        if text is None:
            continue
        if path.suffix == STOP:
            return "stop"
        on_message(text)
    return None


def discard_stops(inbox: Path) -> int:
    """Remove stop requests (stale ones, from before this run); returns how many."""
    count = 0
    for path in pending_requests(inbox):
        if path.suffix == STOP and _claim(path) is not None:
            count += 1
    return count


async def _wake_on_change(inbox: Path, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set `wake` on every change in `inbox` (watchfiles), and once a second without one (`yield_on_timeout`), so
    a message written before the watch was in place is still seen within a second whatever the poll interval; return
    quietly if watchfiles is missing or fails — the rescan loop still delivers everything, only later."""
    try:
        from watchfiles import awatch
    except ImportError:
        return
    with contextlib.suppress(Exception):
        async for _ in awatch(
            inbox,
            watch_filter=None,
            recursive=False,
            debounce=50,
            step=20,
            rust_timeout=_WATCH_RESCAN_MS,
            yield_on_timeout=True,
            stop_event=stop,
        ):
            wake.set()


async def _set_when(event: StopEvent, wake: asyncio.Event) -> None:
    await event.wait()
    wake.set()


async def watch_inbox(
    inbox: Path | str,
    on_message: Callable[[str], None],
    on_stop: Callable[[], None],
    stop_event: StopEvent,
    *,
    poll_interval: float = POLL_INTERVAL_S,
    use_watchfiles: bool = True,
    discard_stale_stops: bool = True,
) -> None:
    """Deliver the inbox's messages to `on_message` (in order, each once) until `stop_event` is set or a stop
    request arrives (then `on_stop()` is called and the watch ends). Messages already queued are delivered at
    once. Start it before the run opens its session so that no stop request sent during the run is discarded."""
    path = Path(inbox)
    path.mkdir(parents=True, exist_ok=True)
    if discard_stale_stops:
        discard_stops(path)
    wake = asyncio.Event()
    fs_stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    helpers = [loop.create_task(_set_when(stop_event, wake))]
    if use_watchfiles:
        helpers.append(loop.create_task(_wake_on_change(path, wake, fs_stop)))
    try:
        while not stop_event.is_set():
            wake.clear()
            if drain_inbox(path, on_message) == "stop":
                on_stop()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_interval)
    finally:
        fs_stop.set()
        helpers[0].cancel()
        _done, still = await asyncio.wait(helpers, timeout=_WATCH_EXIT_S)
        for task in still:
            task.cancel()


@contextlib.asynccontextmanager
async def steered(
    inbox: Path | str,
    *,
    inject: Callable[[str], None],
    cancel: Callable[[RunError], None],
    poll_interval: float = POLL_INTERVAL_S,
) -> AsyncIterator[None]:
    """Watch `inbox` for as long as the block runs: messages go to `inject` (`RunDriver.inject`), a stop request to
    `cancel(Interrupted(STOPPED))` (`RunDriver.cancel`: terminal event, committed snapshot, exit 130). Enter it
    before `driver.run()` opens the session."""

    def stop() -> None:
        cancel(Interrupted(STOPPED, signal_name="SIGINT"))

    Path(inbox).mkdir(parents=True, exist_ok=True)  # an unusable state dir fails here, before the run
    done = asyncio.Event()
    task = asyncio.get_running_loop().create_task(watch_inbox(inbox, inject, stop, done, poll_interval=poll_interval))
    try:
        yield
    finally:
        done.set()
        finished, _ = await asyncio.wait([task], timeout=_WATCH_EXIT_S)
        if not finished:
            task.cancel()
        error = None if task.cancelled() or not task.done() else task.exception()
        if error is not None:
            raise error  # a broken watcher is a bug: fail loud
