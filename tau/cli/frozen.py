"""Native kill semantics for the one-file binary: tau dies with the pid a user or CI holds, and leaves no unpack dir.

PyInstaller's one-file build is two processes: a launcher (the pid the shell or CI holds) that unpacks the payload
into `$TMPDIR/_MEIxxxxxx`, starts the Python child and removes the folder when the child exits. A SIGKILL of the
launcher used to orphan the child (it finished the job, re-parented to init) and leave the ~60 MB folder behind.

`adopt_launcher()` (called first thing by `tau/__main__.py`, only in a one-file child):

- asks the kernel for `SIGTERM` when the launcher dies (`PR_SET_PDEATHSIG`; checked against a launcher that died
  before the call), so a SIGKILL of the launcher ends tau the way a SIGTERM does — the run is cancelled, its tool
  processes die (their sandbox dies with tau), the session is closed — within seconds;
- holds an exclusive `flock` on `<unpack dir>/.tau-alive` for the life of the process and, at exit, removes its own
  unpack dir when the launcher is gone, and empties it when the launcher lives (`_remove_own`: the launcher's own
  clean-up, with default signal actions, is then short);
- sweeps the unpack dirs of dead one-file taus (their `.tau-alive` lock can be taken: the kernel released it when
  the process died however it died), so even hard kills of both processes do not accumulate folders.

`quiet_early_signals()` turns SIGINT/SIGTERM that arrive before the CLI installs its own handlers (while Python
imports, 0 to 300 ms) into a silent exit with 130/143 instead of a launcher traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import signal
import sys
from types import FrameType

from tau.signal_death import launcher_is_init

__all__ = ["adopt_launcher", "forget_unpack_dir", "ordinary_signals", "quiet_early_signals", "unpack_dir"]

_PR_SET_PDEATHSIG = 1
_ALIVE = ".tau-alive"
_PREFIX = "_MEI"
_held: list[int] = []  # the lock's fd, kept open for the life of the process
_launcher: list[int] = []  # the launcher's pid, once adopted


def unpack_dir() -> str | None:
    """The one-file build's unpack folder of this process, or None (not frozen, or the one-directory build)."""
    base = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not isinstance(base, str):
        return None
    return base if os.path.basename(base).startswith(_PREFIX) else None


def _rmtree(path: str) -> None:
    import shutil  # here, not at the top: shutil imports bz2 and lzma, and a warm client never removes a folder

    shutil.rmtree(path, ignore_errors=True)


def _remove_own(directory: str, launcher: int) -> None:
    """At exit (the last atexit handler): remove the folder now, also while the launcher lives. PyInstaller's launcher
    restores the default SIGINT/SIGTERM actions as soon as this child is reaped, then removes the folder: a signal in
    that window killed the launcher although tau had exited with its own code (the frozen kill test saw -2 for 143
    once). With the folder emptied here, the window is a few system calls instead of a recursive removal. A live
    launcher's folder itself stays (the launcher warns on stderr when it finds it gone) and is its to remove."""
    if os.getppid() != launcher:  # the launcher is gone: nobody else will remove the folder
        _rmtree(directory)
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                _rmtree(path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _sweep(parent: str, own: str) -> None:
    """Remove the unpack dirs of dead one-file taus next to ours (a lock that can be taken has no owner)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            path = os.path.join(parent, name)
            if not name.startswith(_PREFIX) or path == own:
                continue
            try:
                fd = os.open(os.path.join(path, _ALIVE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # not one of ours, or not started yet
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # alive
            finally:
                os.close(fd)
            _rmtree(path)


def adopt_launcher() -> None:
    """Tie this one-file child to its launcher (see the module docstring). A no-op outside the one-file build."""
    directory = unpack_dir()
    if directory is None or _launcher:  # not a one-file child, or adopted already (the runtime hook runs first)
        return
    launcher = os.getppid()
    _launcher.append(launcher)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    try:
        fd = os.open(os.path.join(directory, _ALIVE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.append(fd)
    except OSError:
        pass
    atexit.register(_remove_own, directory, launcher)
    _sweep(os.path.dirname(directory), directory)  # an unpack dir is always a folder inside the temp dir
    if os.getppid() != launcher or not _runs_this_binary(launcher):  # it died before PDEATHSIG was armed
        os.kill(os.getpid(), signal.SIGTERM)
    elif launcher == 1:
        launcher_is_init()


def _runs_this_binary(pid: int) -> bool:
    """Whether `pid` runs the same executable file as this process: our launcher, or (after the launcher died before
    the parent pid was read) an init that adopted us. A launcher that is pid 1 — `docker run IMAGE` without `--init` —
    is alive, and must not be taken for the init of a dead one. Unreadable (another user's init): not ours."""
    try:
        theirs, ours = os.stat(f"/proc/{pid}/exe"), os.stat("/proc/self/exe")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def forget_unpack_dir() -> None:
    """In a process forked from this one (a warm run of `tau serve --local`): the unpack dir is the server's, never
    this process's to remove at exit."""
    atexit.unregister(_remove_own)
    _launcher.clear()


def _early_exit(signum: int, frame: FrameType | None) -> None:
    directory = unpack_dir()
    if directory is not None and _launcher and os.getppid() != _launcher[0]:
        _rmtree(directory)
    os._exit(128 + signum)


_received: list[int] = []  # signals `ordinary_signals` turned into exceptions, in order


def _interrupted(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _terminated(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise SystemExit(128 + signum)


def received_signal() -> int | None:
    """The last SIGINT/SIGTERM raised as an exception since `ordinary_signals`: a library that catches every
    exception may have wrapped it (pydantic-core turns a KeyboardInterrupt raised while it builds a validator into a
    SchemaError), and the process must still end as that signal's 130/143, not as an internal error."""
    return _received[-1] if _received else None


def ordinary_signals() -> None:
    """From the CLI's dispatch on: SIGINT raises KeyboardInterrupt and SIGTERM `SystemExit(143)`, so what was
    opened is closed on the way out (`tau run` then installs its own handlers around the run)."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, _interrupted)
        signal.signal(signal.SIGTERM, _terminated)


def quiet_early_signals() -> None:
    """Until the CLI installs its own handlers, SIGINT and SIGTERM end the process silently with 130 / 143."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, _early_exit)
