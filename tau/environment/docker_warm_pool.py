"""The warm server's pool of sandbox containers (issue #19 item 3), kept in `tau serve --local`'s parent.

A run forked by the server asks for a container by its full definition (`tau.environment.docker_pool`: image, the
spec's limits and hardening, the host workspace, the user, the mount layout); the key is that definition, so a run
only ever gets a container made exactly as it would have made its own. The pool hands out an idle container of
that key, or makes one (the run waits for it, as it would have waited for its own), or promises the run one that is
being made or reset; with every container of the key in use the run is refused and makes its own, as without a pool.
After handing one out it pre-starts another while the key has fewer than `size` containers (`TAU_SANDBOX_POOL`,
default 2), so the next run of the same job finds one ready while the last one is being reset.

Clean between runs, and dirty is destroyed. A container a run gave back is inspected after the run's executor has
ended: any process but the container's init and its `sleep infinity`, any entry in /tmp (HOME), /dev/shm or
/dev/mqueue, any System V IPC object, or a failed inspection, and it is removed (`dirty: ...`), never reused; with a
writable root filesystem (not tau's default) also any change to it since it was made (`docker diff`, ~0.5 s here;
a read-only root cannot change from inside). A clean-looking one is restarted anyway (`docker restart -t 0`: every
process killed, new namespaces, its tmpfs mounts and /dev made anew), so what an inspection does not look at does
not survive either (a root container user can write /dev); only then is it idle again, with the same id. A
container whose run gave it back dirty or ended without giving it back (killed, crashed) is removed without
inspection. Idle containers are removed after `idle_s` (`TAU_SANDBOX_POOL_IDLE`, default 300 s) and when the server
stops.

Docker calls take 0.1-0.5 s, so they never run in the server's loop: each job (create, clean, remove) runs in a
worker forked from the (single-threaded) parent and forked again, so the server never reaps it (`tau.cli.
warm_server` reaps only its runs); its one-line JSON result comes back on a pipe the pool polls (`poll`) while any
worker is out. A worker starts its own session and closes every descriptor but the pipe, so it holds none of the
server's sockets and a Ctrl-C of a foreground server does not cut a create in half.

Containers are labelled `tau.managed`, `tau.pool` and with the server as owner (so `reap_orphans` leaves them while
the server lives and removes them once it is gone), `tau.layout` as a managed container, and no session.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from tau.environment import docker_pool
from tau.environment.docker_layout import Layout
from tau.environment.sandbox_spec import (
    LABEL_LAYOUT,
    LABEL_MANAGED,
    LABEL_OWNER_PID,
    LABEL_POOL,
    owner_labels,
)

__all__ = ["SandboxPool", "settings"]

DEFAULT_SIZE = 2
MAX_SIZE = 8
DEFAULT_IDLE_S = 300.0
MAX_CONTAINERS = 16  # across definitions, in every state
_POLL_S = 0.05  # how often the server's loop looks at the workers' pipes while any is out
_BUSY_WAIT_S = 10.0  # how long a clean job waits for the run's executor to end
_OFF = {"0", "false", "no", "off"}

# Processes other than init and one `sleep infinity`, files in the container's tmpfs places, System V IPC objects.
_INSPECT = r"""me=$$ seen=0
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  if [ "$p" = 1 ] || [ "$p" = "$me" ]; then continue; fi
  pp=
  while read -r k v; do if [ "$k" = PPid: ]; then pp=$v; break; fi; done < "$d/status" 2>/dev/null || continue
  if [ "$pp" = "$me" ]; then continue; fi
  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)
  if [ "$pp" = 1 ] && [ "$c" = "sleep infinity " ] && [ "$seen" = 0 ]; then seen=1; continue; fi
  if [ -d "$d" ]; then echo "process left: $c"; fi
done
for f in /tmp/* /tmp/.[!.]* /tmp/..?* /dev/shm/* /dev/shm/.[!.]* /dev/shm/..?* /dev/mqueue/*; do
  if [ -e "$f" ] || [ -L "$f" ]; then echo "file left: $f"; fi
done
for f in shm msg sem; do
  n=0; while read -r l; do n=$((n+1)); done < "/proc/sysvipc/$f"; if [ "$n" -gt 1 ]; then echo "ipc left: $f"; fi
done
true
"""


def settings(env: Mapping[str, str]) -> tuple[int, float]:
    """(containers kept per definition, 0 when the pool is off; idle timeout in seconds) from the server's env."""
    raw = env.get("TAU_SANDBOX_POOL", "").strip().lower()
    if raw in _OFF:
        size = 0
    else:
        try:
            size = min(MAX_SIZE, int(raw)) if raw else DEFAULT_SIZE
        except ValueError:
            size = DEFAULT_SIZE
        size = size if size > 0 else DEFAULT_SIZE
    idle_raw = env.get("TAU_SANDBOX_POOL_IDLE", "").strip()
    try:
        idle = float(idle_raw) if idle_raw else DEFAULT_IDLE_S
    except ValueError:
        idle = DEFAULT_IDLE_S
    return size, idle if idle > 0 else DEFAULT_IDLE_S


@dataclass(eq=False)
class _Box:
    """One pooled container (or one being made)."""

    key: str
    definition: dict[str, Any]
    state: str = "creating"  # creating | idle | leased | cleaning | removing
    id: str = ""
    holder: int | None = None  # the run that holds it (leased)
    waiter: int | None = None  # the run promised it once it is made or reset
    number: int = 0
    idle_since: float = 0.0
    baseline: list[str] = field(default_factory=list)  # `docker diff` when it was made (docker-init, mount points)


@dataclass(eq=False)
class _Worker:
    fd: int
    box: _Box
    data: bytes = b""


@dataclass
class SandboxPool:
    """Pooled sandbox containers by definition (module docstring). `answer(pid, message)` delivers a lease answer
    that had to wait; `report` gets one line per container made, reset or removed (never the definition)."""

    report: Callable[[str], None]
    answer: Callable[[int, dict[str, Any]], None]
    size: int = DEFAULT_SIZE
    idle_s: float = DEFAULT_IDLE_S
    clock: Callable[[], float] = time.monotonic
    created: int = 0
    _boxes: list[_Box] = field(default_factory=list)
    _workers: list[_Worker] = field(default_factory=list)
    _next: int = 1

    def descriptors(self) -> list[int]:
        """The workers' pipes (a forked run closes them)."""
        return [worker.fd for worker in self._workers]

    def lease(self, definition: Any, holder: int) -> dict[str, Any] | None:
        """The answer to a run's `sandbox_lease`, or None when it comes later (through `answer`)."""
        if docker_pool.parse(definition) is None:
            return {"refused": "malformed definition"}
        key = json.dumps(definition, sort_keys=True)
        mine = [box for box in self._boxes if box.key == key and box.state != "removing"]
        idle = [box for box in mine if box.state == "idle"]
        if idle:
            box = max(idle, key=lambda box: box.idle_since)  # the newest: surplus ones age out
            handed = self._hand(box, holder)
            self._prestart(box)
            return handed
        coming = next((box for box in mine if box.state in ("creating", "cleaning") and box.waiter is None), None)
        if coming is not None:
            coming.waiter = holder
            return None
        if len(mine) < self.size and len(self._boxes) < MAX_CONTAINERS:
            self._spawn(self._add(key, definition, waiter=holder), "create")
            return None
        return {"refused": "every pooled container of this definition is in use"}

    def release(self, number: int, *, clean: bool, holder: int) -> None:
        for box in self._boxes:
            if box.state == "leased" and box.number == number and box.holder == holder:
                self._take_back(box, "clean" if clean else "remove", "given back dirty")
                return

    def run_ended(self, holder: int) -> None:
        """A run ended: what it still holds is removed (it may have left anything behind); it waits for nothing."""
        for box in list(self._boxes):
            if box.state == "leased" and box.holder == holder:
                self._take_back(box, "remove", "its run ended holding it")
            if box.waiter == holder:
                box.waiter = None

    def next_timeout(self) -> float | None:
        if self._workers:
            return _POLL_S
        idle = [box.idle_since for box in self._boxes if box.state == "idle"]
        return max(0.0, min(idle) + self.idle_s - self.clock()) if idle else None

    def tick(self) -> None:
        """Collect finished workers, then expire idle containers (called after every turn of the server's loop)."""
        for worker in list(self._workers):
            if self._read(worker):
                self._workers.remove(worker)
                os.close(worker.fd)
                self._finished(worker.box, _result(worker.data))
        now = self.clock()
        for box in self._boxes:
            if box.state == "idle" and now - box.idle_since >= self.idle_s:
                box.state = "removing"
                self._spawn(box, "remove", "idle")

    def close(self) -> None:
        """Wait for the workers, then remove every pooled container of this server (blocking: the server is done)."""
        for worker in self._workers:
            os.set_blocking(worker.fd, True)
            while not self._read(worker):
                pass
            os.close(worker.fd)
            result = _result(worker.data)
            if isinstance(result.get("id"), str):
                worker.box.id = result["id"]
        self._workers.clear()
        from tau.environment.docker_engine import DockerEngine

        engine = DockerEngine()
        owned = [box.id for box in self._boxes if box.id]
        with contextlib.suppress(Exception):
            mine = str(os.getpid())
            owned += [
                c.id for c in engine.managed() if c.labels.get(LABEL_POOL) and c.labels.get(LABEL_OWNER_PID) == mine
            ]
        for container in dict.fromkeys(owned):
            with contextlib.suppress(Exception):
                engine.remove(container)
                self.report(f"tau: pooled sandbox container {container[:12]} removed (server stopping)")
        self._boxes.clear()

    # -- inside --------------------------------------------------------------------------------------------------

    def _add(self, key: str, definition: dict[str, Any], *, waiter: int | None) -> _Box:
        box = _Box(key, definition, waiter=waiter)
        self._boxes.append(box)
        return box

    def _hand(self, box: _Box, holder: int) -> dict[str, Any]:
        box.state, box.holder, box.waiter = "leased", holder, None
        box.number, self._next = self._next, self._next + 1
        return {"lease": box.number, "container": box.id}

    def _prestart(self, leased: _Box) -> None:
        """Another container of the same definition while it has fewer than `size` (the next run's)."""
        mine = sum(1 for box in self._boxes if box.key == leased.key and box.state != "removing")
        if mine < self.size and len(self._boxes) < MAX_CONTAINERS:
            self._spawn(self._add(leased.key, leased.definition, waiter=None), "create")

    def _take_back(self, box: _Box, job: str, why: str) -> None:
        box.state, box.holder = ("cleaning" if job == "clean" else "removing"), None
        self._spawn(box, job, why)

    def _finished(self, box: _Box, result: dict[str, Any]) -> None:
        if isinstance(result.get("id"), str):
            box.id, box.baseline = result["id"], [str(path) for path in result.get("baseline") or []]
            self.created += 1
            self.report(f"tau: pooled sandbox container {box.id[:12]} created{_took(result)}")
            self._ready(box)
        elif result.get("ok") is True:
            self.report(f"tau: pooled sandbox container {box.id[:12]} reset{_took(result)}")
            self._ready(box)
        else:
            self._boxes.remove(box)
            if "removed" in result:
                self.report(f"tau: pooled sandbox container {box.id[:12]} removed ({result['removed']})")
            else:
                self.report(f"tau: pooled sandbox container {box.id[:12] or '(new)'} failed: {result.get('error')}")
            if box.waiter is not None:  # the run promised this one gets a fresh one, or is told to make its own
                if "removed" in result and len(self._boxes) < MAX_CONTAINERS:
                    self._spawn(self._add(box.key, box.definition, waiter=box.waiter), "create")
                else:
                    self.answer(box.waiter, {"refused": str(result.get("error") or "no pooled container")})

    def _ready(self, box: _Box) -> None:
        if box.waiter is not None:
            waiter = box.waiter
            self.answer(waiter, self._hand(box, waiter))
            self._prestart(box)
            return
        box.state, box.idle_since = "idle", self.clock()
        idle = sorted((b for b in self._boxes if b.key == box.key and b.state == "idle"), key=lambda b: b.idle_since)
        for surplus in idle[: max(0, len(idle) - self.size)]:
            surplus.state = "removing"
            self._spawn(surplus, "remove", "more idle than kept")

    def _spawn(self, box: _Box, job: str, why: str = "") -> None:
        payload = {"job": job, "id": box.id, "why": why, "definition": box.definition, "owner": owner_labels()}
        payload["baseline"] = box.baseline
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError as error:
            os.close(read_end)
            os.close(write_end)
            self._finished(box, {"error": f"cannot fork a worker: {error.strerror or error}"})
            return
        if pid == 0:  # the intermediate child: fork the worker and leave, so the worker is nobody's child here
            try:
                os.close(read_end)
                if os.fork() == 0:
                    _work(payload, write_end)
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        os.set_blocking(read_end, False)
        self._workers.append(_Worker(read_end, box))

    @staticmethod
    def _read(worker: _Worker) -> bool:
        """Read what the worker wrote; True at end of file (it is done)."""
        while True:
            try:
                chunk = os.read(worker.fd, 65536)
            except BlockingIOError:
                return False
            except OSError:
                return True
            if not chunk:
                return True
            worker.data += chunk


def _took(result: dict[str, Any]) -> str:
    took = result.get("took")
    return f" in {took:.2f} s" if isinstance(took, (int, float)) else ""


def _result(data: bytes) -> dict[str, Any]:
    try:
        result = json.loads(data)
    except ValueError:
        return {"error": "the pool's worker ended without a result"}
    return result if isinstance(result, dict) else {"error": "the pool's worker answered nonsense"}


def _work(payload: dict[str, Any], fd: int) -> NoReturn:
    """A worker: do one docker job, write its result to `fd`, exit. Never returns into the server's code."""
    result: dict[str, Any] = {"error": "the pool's worker failed before its job"}
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        os.closerange(3, fd)
        os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
        started = time.monotonic()
        result = _job(payload)
        result["took"] = round(time.monotonic() - started, 2)
    except BaseException as error:
        from tau.environment.docker_engine import docker_failure

        result = {"error": docker_failure(error) or str(error) or type(error).__name__}
    finally:
        with contextlib.suppress(BaseException):
            os.write(fd, json.dumps(result).encode())
        os._exit(0)


def _job(payload: dict[str, Any]) -> dict[str, Any]:
    from tau.environment.docker_engine import DockerEngine

    engine = DockerEngine()
    if payload["job"] == "create":
        return _create(engine, payload)
    if payload["job"] == "clean":
        writable_root = payload["definition"]["spec"]["read_only"] is not True
        baseline = set(payload["baseline"]) if writable_root else None
        return _clean(engine, payload["id"], payload["definition"], baseline)
    engine.remove(payload["id"])
    return {"removed": payload["why"]}


def _create(engine: Any, payload: dict[str, Any]) -> dict[str, Any]:
    parsed = docker_pool.parse(payload["definition"])
    if parsed is None:
        return {"error": "malformed definition"}
    image, spec, host_root, user, layout = parsed
    _ensure_masks(layout)
    labels = {LABEL_MANAGED: "1", LABEL_POOL: "1", LABEL_LAYOUT: layout.digest, **payload["owner"]}
    name = f"tau-pool-{os.urandom(6).hex()}"
    container = engine.create(
        name=name, image=image, spec=spec, host_root=host_root, user=user, labels=labels, layout=layout
    )
    try:
        engine.start(container)
        baseline = engine.changes(container) if not spec.read_only else []
    except BaseException:
        engine.remove(container)
        raise
    return {"id": container, "baseline": baseline}


def _clean(engine: Any, container: str, definition: Any, baseline: set[str] | None) -> dict[str, Any]:
    """Inspect a container given back clean; remove it when anything is left, else restart it (module docstring)."""
    deadline = time.monotonic() + _BUSY_WAIT_S
    while engine.busy(container) and time.monotonic() < deadline:  # the run's executor is still ending
        time.sleep(0.05)
    info = engine.find(container)
    junk = "not running" if info is None or not info.running else _junk(engine, container, baseline)
    if junk:
        engine.remove(container)
        return {"removed": f"dirty: {junk}"}
    parsed = docker_pool.parse(definition)
    if parsed is not None:
        _ensure_masks(parsed[4])
    engine.restart(container)
    info = engine.find(container)
    if info is None or not info.running:
        engine.remove(container)
        return {"removed": "it did not come back from its restart"}
    return {"ok": True}


def _ensure_masks(layout: Layout) -> None:
    """Make the mask files the binds name again if something removed them (the container binds them on every
    start). They live in the run's temp dir (`MaskSources` under its TMPDIR), not necessarily the server's."""
    from tau.environment.docker_layout import MaskSources

    for base in {os.path.dirname(bind.source) for bind in layout.binds}:
        if os.path.basename(base).startswith("tau-docker-masks-"):
            MaskSources(os.path.dirname(base)).ensure()


def _junk(engine: Any, container: str, baseline: set[str] | None) -> str:
    """What a run left in the container ("" when nothing was found). `baseline`: the root filesystem's changes when
    it was made, None for a read-only root (nothing inside can change it; `docker diff` costs ~0.5 s here)."""
    code, out, _err = engine.exec_demux(container, ["sh", "-c", _INSPECT])
    if code != 0:
        return f"the inspection failed (exit {code})"
    found = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    changes = [] if baseline is None else [path for path in engine.changes(container) if path not in baseline]
    if changes:
        found.append(f"{len(changes)} change(s) to the root filesystem, such as {changes[0]}")
    return "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
