"""tau sandbox executor: runs commands inside a container on behalf of tau's DockerBackend, one JSON object per line.

Stdlib only, python3 >= 3.7; tau starts it with `docker exec -i CONTAINER python3 -c BOOTSTRAP` where BOOTSTRAP reads
this source as the first line (a JSON string) of stdin and executes it, so any image with python3 can host it, it never
drifts from the tau that drives it, and `ps` shows a short command line. tau keeps it for the container's lifetime.

Protocol (stdin requests, stdout replies, one JSON object per line; replies carry the request's `id`; several commands
may run at once, so replies can come in any order):

    {"id": 1, "op": "ping"}
        -> {"id": 1, "ok": true, "pid": PID, "uid": UID, "landlock": ABI | null, "landlock_reason": "..."}
    {"id": 2, "op": "run", "argv": [...], "cwd": "/workspace", "env": {...}, "timeout": 30.0 | null,
     "max_output": 10485760, "tag": "hex", "landlock": {"policy": "read-only" | "workspace-write",
     "writable": ["/workspace"]} (optional)}
        -> {"id": 2, "ok": true, "exit_code": N, "stdout": "...", "stderr": "...",
            "timed_out": false, "output_limit": false, "oom_killed": false, "survivors": 0}
        or {"id": 2, "ok": false, "error": "cwd_missing" | "bad_request" | "landlock", "message": "..."}
    {"id": 3, "op": "cancel", "target": 2}
        -> {"id": 3, "ok": true}   (the command with id 2 is killed and answers with its partial output)

Invariants:
- Every command runs in a new session (its own process group) with `TAU_CMD_TAG=<tag>` in its environment and stdin at
  EOF. On timeout, cancel, output overflow or executor shutdown the group is SIGKILLed, then every process whose
  /proc/PID/environ carries the tag is SIGKILLed, repeatedly, until none is left (`survivors` counts any still alive).
- Exit codes are shell-style: a signal death is 128+N, a missing program 127, a non-executable one 126.
- `oom_killed` is true when the container cgroup's oom_kill counter rose while the command ran and the command died of
  SIGKILL (cgroup v2 memory.events or v1 memory.oom_control).
- After the direct child exits, output is drained for at most DRAIN_GRACE seconds, so a background child holding the
  pipes open cannot hold up the reply. Output is decoded as UTF-8 with U+FFFD for undecodable bytes.
- When stdin closes (tau went away), every running command is killed and swept, then the executor exits.
- `landlock` (tau sends it only when the ping reported an ABI): the command runs behind a Landlock ruleset that handles
  every write right the kernel knows (write, truncate, create, remove, rename/link across directories) and grants them
  only beneath: `read-only` -> a private temp dir made for this command (TMPDIR, removed afterwards); `workspace-write`
  -> the `writable` paths, the temp dir and /dev/shm. Both may write existing files under /dev (/dev/null, the
  tty). Reads and execution are not restricted (masks are mounts). The ruleset is enforced by a short-lived thread
  that then spawns the command (Landlock binds a thread and its future children), so the executor itself and its
  other threads stay unrestricted and no Python code runs between fork and exec. If the ruleset cannot be enforced
  the command is not started: the reply is an error, never an unconfined run.
"""

import contextlib
import json
import os
import selectors
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

try:
    import ctypes
except ImportError:  # a python3 without ctypes still runs commands, only never behind Landlock
    ctypes = None

TAG_VAR = "TAU_CMD_TAG"
DRAIN_GRACE = 2.0
SWEEP_ROUNDS = 20
_OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")

_write_lock = threading.Lock()
_running = {}  # request id -> _Command
_running_lock = threading.Lock()


def reply(message):
    data = (json.dumps(message) + "\n").encode()
    with _write_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def oom_kills():
    for name in _OOM_FILES:
        try:
            with open(name) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def tagged_pids(tag):
    needle = (f"{TAG_VAR}={tag}").encode() + b"\0"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read() + b"\0"
        except OSError:
            continue
        if b"\0" + needle in b"\0" + environ:
            found.append(int(name))
    return found


def sweep(tag):
    """SIGKILL every process carrying the tag until none is left; return how many survived all rounds."""
    pids = []
    for _ in range(SWEEP_ROUNDS):
        pids = tagged_pids(tag)
        if not pids:
            return 0
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return len([pid for pid in pids if _alive(pid)])


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# -- Landlock -------------------------------------------------------------------------------------------------------

_LANDLOCK_NUMBERS = (444, 445, 446)  # create_ruleset, add_rule, restrict_self: one number on every arch but these
_LANDLOCK_ODD_ARCHES = ("alpha", "ia64", "mips")
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_WRITE_FILE = 1 << 1
_REMOVE = (1 << 4) | (1 << 5)  # REMOVE_DIR, REMOVE_FILE
_MAKE = sum(1 << bit for bit in range(6, 13))  # MAKE_CHAR .. MAKE_SYM
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3


class Landlock:
    """The kernel's Landlock, through ctypes: its ABI version (probed once) and `enforce(grants)` on this thread."""

    def __init__(self):
        self.abi, self.reason = None, "this python3 has no ctypes"
        self._libc = None
        machine = os.uname().machine
        if ctypes is None:
            return
        if any(machine.startswith(odd) for odd in _LANDLOCK_ODD_ARCHES):
            self.reason = "unknown Landlock syscall numbers on " + machine
            return
        try:
            self._libc = ctypes.CDLL(None, use_errno=True)
            self._libc.syscall.restype = ctypes.c_long
        except (OSError, AttributeError) as error:
            self.reason = f"libc not usable: {error}"
            return
        version = self._syscall(0, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
        if version >= 0:
            self.abi, self.reason = int(version), "available"
        else:
            errno_ = ctypes.get_errno()
            known = {38: "kernel or seccomp profile without Landlock", 95: "Landlock disabled at boot", 1: "refused"}
            self.reason = known.get(errno_, os.strerror(errno_))

    def _syscall(self, which, *args):
        return self._libc.syscall(ctypes.c_long(_LANDLOCK_NUMBERS[which]), *args)

    def handled(self):
        """Every write right this ABI knows."""
        rights = _WRITE_FILE | _REMOVE | _MAKE
        if self.abi >= 2:
            rights |= _REFER
        if self.abi >= 3:
            rights |= _TRUNCATE
        return rights

    def enforce(self, grants):
        """Restrict the calling thread (and what it spawns) to write only where `grants` [(path, rights)] allow;
        raises OSError when any step fails (the caller must then not run the command)."""
        if self.abi is None:
            raise OSError("Landlock is not available: " + self.reason)
        handled = self.handled()
        attr = struct.pack("=Q", handled)  # struct landlock_ruleset_attr, handled_access_fs only
        ruleset = self._syscall(0, ctypes.create_string_buffer(attr, len(attr)), ctypes.c_size_t(len(attr)), 0)
        if ruleset < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset: " + os.strerror(ctypes.get_errno()))
        try:
            for path, rights in grants:
                self._allow(ruleset, path, rights & handled)
            if self._libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS): " + os.strerror(ctypes.get_errno()))
            if self._syscall(2, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self: " + os.strerror(ctypes.get_errno()))
        finally:
            os.close(ruleset)

    def _allow(self, ruleset, path, rights):
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # nothing there to write to (no /dev/shm, say)
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= _WRITE_FILE | _TRUNCATE  # a file takes only the rights that apply to files
            rule = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr (packed)
            buffer = ctypes.create_string_buffer(rule, len(rule))
            done = self._syscall(1, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), buffer, ctypes.c_uint32(0))
            if done != 0:
                errno_ = ctypes.get_errno()
                raise OSError(errno_, f"landlock_add_rule {path}: {os.strerror(errno_)}")
        finally:
            os.close(fd)


LANDLOCK = Landlock()


def grants(policy, writable, private_tmp):
    """(path, rights) pairs for a policy: where a confined command may write."""
    everything = _WRITE_FILE | _REMOVE | _MAKE | _REFER | _TRUNCATE
    devices = [("/dev", _WRITE_FILE | _TRUNCATE)]  # existing device files: /dev/null, /dev/tty, ...
    if policy == "read-only":
        return [(private_tmp, everything), *devices]
    if policy == "workspace-write":
        roots = [*writable, tempfile.gettempdir(), "/dev/shm"]
        return [*((root, everything) for root in roots), *devices]
    raise ValueError(f"unknown policy {policy!r}")


class ConfinementError(Exception):
    """The Landlock ruleset could not be enforced: the command must not start."""


def confined(start, rules):
    """`start()` called on a fresh thread that first enforces `rules`; its result, or its exception re-raised."""
    box = {}

    def body():
        try:
            LANDLOCK.enforce(rules)
        except OSError as error:
            box["error"] = ConfinementError(str(error))
            return
        try:
            box["value"] = start()
        except BaseException as error:  # handed to the caller's thread
            box["error"] = error

    thread = threading.Thread(target=body, name="tau-confined-spawn", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def not_confined(error):
    message = f"the command was not run: its sandbox could not be set up ({error})"
    return {"ok": False, "error": "landlock", "message": message}


def remove_tree(path):
    """Remove a private temp dir whatever modes the command left in it."""
    for top, dirs, _files in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(top, name), 0o700, follow_symlinks=False)
    shutil.rmtree(path, ignore_errors=True)


class _Command:
    """One command, driven by one thread: a selector over its two pipes and (where the kernel has it) a pidfd, so the
    direct child's exit, the deadline and the output are all noticed without extra threads (a command that has filled
    the pids limit must not stop the executor from killing it)."""

    def __init__(self, request):
        self.request = request
        self.process = None
        self.stop_reason = None  # "timeout" | "cancel" | "output" | "shutdown"
        self.buffers = (bytearray(), bytearray())
        self.cap = int(request.get("max_output") or 10 * 1024 * 1024)
        self.lock = threading.Lock()

    def kill(self, reason):
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        process = self.process
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    def append(self, index, chunk):
        total = len(self.buffers[0]) + len(self.buffers[1])
        if total < self.cap:
            self.buffers[index].extend(chunk[: self.cap - total])
        if total + len(chunk) > self.cap:
            self.kill("output")

    def environment(self):
        env = dict(os.environ)
        env.update(self.request.get("env") or {})
        env[TAG_VAR] = self.request["tag"]
        return env

    def spawn(self, env, rules):
        request = self.request

        def start():
            return subprocess.Popen(
                request["argv"],
                cwd=request.get("cwd") or "/",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )

        self.process = start() if rules is None else confined(start, rules)
        if self.stop_reason is not None:  # cancelled while starting
            self.kill(self.stop_reason)

    def execute(self):
        request = self.request
        cwd = request.get("cwd") or "/"
        if not os.path.isdir(cwd):
            return {"ok": False, "error": "cwd_missing", "message": f"working directory {cwd} is gone"}
        env, rules, private = self.environment(), None, None
        confine = request.get("landlock")
        try:
            if confine is not None:
                try:
                    if confine.get("policy") == "read-only":
                        private = tempfile.mkdtemp(prefix="tau-ro-")
                        env["TMPDIR"] = private
                    rules = grants(confine.get("policy"), confine.get("writable") or [], private)
                except (OSError, ValueError) as error:
                    return not_confined(error)
            return self.start_and_wait(env, rules)
        finally:
            if private is not None:
                remove_tree(private)

    def start_and_wait(self, env, rules):
        before = oom_kills()
        program = self.request["argv"][0]
        try:
            self.spawn(env, rules)
        except ConfinementError as error:
            return not_confined(error)
        except FileNotFoundError:
            return self._result(127, b"", f"{program}: command not found\n".encode(), before)
        except PermissionError:
            return self._result(126, b"", f"{program}: Permission denied\n".encode(), before)
        code, survivors = self.wait()
        out, err = bytes(self.buffers[0]), bytes(self.buffers[1])
        result = self._result(128 - code if code < 0 else code, out, err, before)
        result["survivors"] = survivors
        return result

    def wait(self):
        """Collect output until the child has exited and the pipes closed (or DRAIN_GRACE after its exit)."""
        process = self.process
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ, 0)
        selector.register(process.stderr, selectors.EVENT_READ, 1)
        pidfd = _pidfd(process.pid)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        timeout = self.request.get("timeout")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        code, drain_until, survivors = None, None, 0
        try:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self.kill("timeout")
                    deadline = None
                if code is None:
                    code = process.poll()
                    if code is not None:
                        survivors = sweep(self.request["tag"]) if self.stop_reason is not None else 0
                        drain_until = time.monotonic() + DRAIN_GRACE
                pipes = [key for key in selector.get_map().values() if key.data != "exit"]
                if code is not None and (not pipes or now >= drain_until):
                    return code, survivors
                limits = [t - now for t in (deadline, drain_until) if t is not None]
                if pidfd is None and code is None:
                    limits.append(0.01)  # no pidfd: poll for the exit
                self.pump(selector, max(0.0, min(limits)) if limits else None)
        finally:
            selector.close()
            for stream in (process.stdout, process.stderr):
                stream.close()
            if pidfd is not None:
                os.close(pidfd)

    def pump(self, selector, timeout):
        """Read what is ready; a closed pipe or the pidfd's exit event is unregistered."""
        for key, _ in selector.select(timeout):
            chunk = b"" if key.data == "exit" else os.read(key.fd, 65536)
            if chunk:
                self.append(key.data, chunk)
            else:
                selector.unregister(key.fileobj)

    def _result(self, code, out, err, before):
        after = oom_kills()
        oom = before is not None and after is not None and after > before and code == 128 + signal.SIGKILL
        return {
            "ok": True,
            "exit_code": code,
            "stdout": out.decode("utf-8", "replace"),
            "stderr": err.decode("utf-8", "replace"),
            "timed_out": self.stop_reason == "timeout",
            "output_limit": self.stop_reason == "output",
            "cancelled": self.stop_reason in ("cancel", "shutdown"),
            "oom_killed": oom and self.stop_reason is None,
            "survivors": 0,
        }


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_command(request_id, command):
    try:
        result = command.execute()
    except Exception as error:  # a bug here must answer, never leave tau waiting
        result = {"ok": False, "error": "internal", "message": f"{type(error).__name__}: {error}"}
    finally:
        with _running_lock:
            _running.pop(request_id, None)
    result["id"] = request_id
    reply(result)


def handle(request):
    request_id = request.get("id")
    op = request.get("op")
    if op == "ping":
        info = {"pid": os.getpid(), "uid": os.getuid(), "landlock": LANDLOCK.abi, "landlock_reason": LANDLOCK.reason}
        reply({"id": request_id, "ok": True, **info})
    elif op == "run" and isinstance(request.get("argv"), list) and request["argv"] and request.get("tag"):
        command = _Command(request)
        with _running_lock:
            _running[request_id] = command
        try:
            threading.Thread(target=run_command, args=(request_id, command), daemon=True).start()
        except RuntimeError as error:  # the container is at its pids limit
            with _running_lock:
                _running.pop(request_id, None)
            message = f"cannot start the command: {error} (the sandbox is at its process limit)"
            reply({"id": request_id, "ok": False, "error": "resources", "message": message})
    elif op == "cancel":
        with _running_lock:
            command = _running.get(request.get("target"))
        if command is not None:
            command.kill("cancel")
        reply({"id": request_id, "ok": True})
    else:
        reply({"id": request_id, "ok": False, "error": "bad_request", "message": f"unknown request {op!r}"})


def shutdown():
    with _running_lock:
        commands = list(_running.values())
    for command in commands:
        command.kill("shutdown")
        sweep(command.request["tag"])


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError:
            reply({"id": None, "ok": False, "error": "bad_request", "message": "not JSON"})
            continue
        handle(request)
    shutdown()


if __name__ == "__main__":
    main()
