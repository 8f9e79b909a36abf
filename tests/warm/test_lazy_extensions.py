"""packaging/rth_tau_lazylibs.py: a one-file binary's third-party extension modules are unpacked on first import.

The hook runs in a plain interpreter that plays the frozen program: `sys.executable` is a real ELF file (a copy of
/bin/true) that objcopy gave a `taulazy` section in the format packaging/bundle_diet.py writes, holding a real
extension module (PyYAML's `_yaml`, renamed into a package of the test's own), and `sys._MEIPASS` is an empty temp
dir. The frozen suites (tests/frozen) run the real thing: the Temporal bridge, psycopg, pydantic_core inside dist/tau.
"""

from __future__ import annotations

import json
import marshal
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

RTH = Path(__file__).resolve().parents[2] / "packaging" / "rth_tau_lazylibs.py"
EXTENSION = Path(yaml.__file__).parent / next(p.name for p in Path(yaml.__file__).parent.glob("_yaml.*.so"))

_PROBE = """
import json, os, sys, threading
sys.executable = {exe!r}
sys._MEIPASS = {meipass!r}
sys.path.insert(0, {pkgroot!r})
exec(compile(open({rth!r}).read(), "rth_tau_lazylibs", "exec"), {{"__name__": "rth_tau_lazylibs"}})
seen = {{"before": sorted(os.listdir(sys._MEIPASS))}}
try:
    results = []
    load = lambda: results.append(__import__("lazyprobe._yaml").__name__)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    import lazyprobe._yaml as module
    seen["file"] = module.__file__
    seen["works"] = hasattr(module, "CParser")
    seen["threads"] = results
except ImportError as error:
    seen["error"] = str(error)
top = sys._MEIPASS
seen["after"] = sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)
print(json.dumps(seen))
"""


def _payload(
    files: dict[str, bytes], modules: dict[str, list[str]], *, cut: int = 0, data: list[str] | None = None
) -> bytes:
    offsets, blobs, at = {}, [], 0
    for dest, blob in files.items():
        offsets[dest] = [at, len(blob)]
        blobs.append(blob)
        at += len(blob)
    index = marshal.dumps({"files": offsets, "modules": modules, "data": data or []})
    body = b"".join(blobs)
    return b"TAULAZY1" + struct.pack("<Q", len(index)) + index + (body[: len(body) - cut] if cut else body)


def _frozen(tmp_path: Path, payload: bytes, meipass: Path | None = None) -> tuple[Path, Path, Path]:
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy (binutils) is not installed")
    exe = tmp_path / "tau-like"
    shutil.copy("/bin/true", exe)
    (tmp_path / "taulazy.bin").write_bytes(payload)
    subprocess.run(["objcopy", "--add-section", f"taulazy={tmp_path / 'taulazy.bin'}", str(exe)], check=True)
    meipass = meipass or tmp_path / "_MEI"
    meipass.mkdir(mode=0o700)
    pkgroot = tmp_path / "src"
    (pkgroot / "lazyprobe").mkdir(parents=True)
    (pkgroot / "lazyprobe" / "__init__.py").write_text("")
    return exe, meipass, pkgroot


def _probe(exe: Path, meipass: Path, pkgroot: Path, probe: str = _PROBE) -> dict[str, object]:
    script = probe.format(exe=str(exe), meipass=str(meipass), pkgroot=str(pkgroot), rth=str(RTH))
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_an_extension_module_is_unpacked_on_its_first_import_with_the_libraries_it_needs(tmp_path: Path) -> None:
    dest = f"lazyprobe/{EXTENSION.name}"
    library = "lazyprobe.libs/libneeded.so.1"
    payload = _payload(
        {dest: EXTENSION.read_bytes(), library: b"a library the module needs", "other/_unused.so": b"never asked"},
        {"lazyprobe._yaml": [dest, library], "other._unused": ["other/_unused.so"]},
    )
    seen = _probe(*_frozen(tmp_path, payload))
    assert seen["before"] == []  # nothing is unpacked at start
    assert seen["works"] is True
    assert seen["threads"] == ["lazyprobe"] * 4  # four threads importing at once all get the module
    assert seen["file"] == str(tmp_path / "_MEI" / dest)
    assert seen["after"] == [library, dest]  # the module and its library, not the module nobody imported
    assert (tmp_path / "_MEI" / dest).read_bytes() == EXTENSION.read_bytes()


_DATA_PROBE = """
import json, os, sys
sys.executable = {exe!r}
sys._MEIPASS = {meipass!r}
sys.path.insert(0, {pkgroot!r})
exec(compile(open({rth!r}).read(), "rth_tau_lazylibs", "exec"), {{"__name__": "rth_tau_lazylibs"}})
def unpacked():
    top = sys._MEIPASS
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)
seen = {{}}
import email.message, decimal, tau.cli.warm  # the standard library and the warm client's own modules
seen["stdlib_and_thin"] = unpacked()
import lazyprobe  # anything else: the data first
seen["other"] = unpacked()
seen["content"] = open(os.path.join(sys._MEIPASS, "pkg-1.0.dist-info", "METADATA")).read()
print(json.dumps(seen))
"""


def test_data_files_are_unpacked_before_the_first_import_outside_the_warm_clients_path(tmp_path: Path) -> None:
    files = {"pkg-1.0.dist-info/METADATA": b"Name: pkg", "sandbox/Containerfile": b"FROM scratch", "tool/bwrap": b"x"}
    payload = _payload(files, {}, data=list(files))
    exe, meipass, pkgroot = _frozen(tmp_path, payload)
    (pkgroot / "tau" / "cli").mkdir(parents=True)  # stand-ins of the warm client's modules, found on sys.path
    for module in ("tau/__init__.py", "tau/cli/__init__.py", "tau/cli/warm.py"):
        (pkgroot / module).write_text("")
    seen = _probe(exe, meipass, pkgroot, _DATA_PROBE)
    assert seen["stdlib_and_thin"] == []
    assert seen["other"] == sorted(files)
    assert seen["content"] == "Name: pkg"


_FORK_PROBE = """
import json, os, signal, sys, threading
sys.executable = {exe!r}
sys._MEIPASS = {meipass!r}
sys.path.insert(0, {pkgroot!r})
exec(compile(open({rth!r}).read(), "rth_tau_lazylibs", "exec"), {{"__name__": "rth_tau_lazylibs"}})
finder = sys.meta_path[0]
held, release = threading.Event(), threading.Event()
def hold():
    with finder._lock:  # another thread is unpacking when the process forks
        held.set()
        release.wait()
threading.Thread(target=hold, daemon=True).start()
held.wait()
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # a child that inherited the held lock would wait forever
    import lazyprobe._yaml
    os._exit(0 if hasattr(lazyprobe._yaml, "CParser") else 1)
_, status = os.waitpid(pid, 0)
release.set()
print(json.dumps({{"child": os.waitstatus_to_exitcode(status)}}))
"""


def test_a_process_forked_while_another_thread_unpacks_can_import(tmp_path: Path) -> None:
    dest = f"lazyprobe/{EXTENSION.name}"
    payload = _payload({dest: EXTENSION.read_bytes()}, {"lazyprobe._yaml": [dest]})
    seen = _probe(*_frozen(tmp_path, payload), _FORK_PROBE)
    assert seen == {"child": 0}  # -14 (SIGALRM) when the child inherits the held lock


def test_a_temp_dir_on_another_filesystem_than_the_executable_gets_the_same_bytes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no /dev/shm on another filesystem than the test's temp dir")
    dest = f"lazyprobe/{EXTENSION.name}"
    payload = _payload({dest: EXTENSION.read_bytes()}, {"lazyprobe._yaml": [dest]})
    meipass = shm / f"tau-test-{tmp_path.name}"
    try:
        seen = _probe(*_frozen(tmp_path, payload, meipass))  # the kernel refuses copy_file_range across them (EXDEV)
        assert seen["works"] is True and seen["after"] == [dest]
        assert (meipass / dest).read_bytes() == EXTENSION.read_bytes()
    finally:
        shutil.rmtree(meipass, ignore_errors=True)


def test_a_truncated_entry_is_an_import_error_naming_it_and_leaves_no_partial_file(tmp_path: Path) -> None:
    dest = f"lazyprobe/{EXTENSION.name}"
    payload = _payload({dest: EXTENSION.read_bytes()}, {"lazyprobe._yaml": [dest]}, cut=1000)
    seen = _probe(*_frozen(tmp_path, payload))
    assert "truncated" in str(seen["error"]) and dest in str(seen["error"]), seen
    assert seen["after"] == []


def test_an_executable_without_a_usable_section_changes_nothing(tmp_path: Path) -> None:
    empty, meipass, pkgroot = _frozen(tmp_path, b"")  # a `taulazy` section that is not ours (no magic)
    plain = tmp_path / "plain"
    shutil.copy("/bin/true", plain)
    for exe in (empty, plain):
        seen = _probe(exe, meipass, pkgroot)
        assert "No module named 'lazyprobe._yaml'" in str(seen["error"])
        assert seen["after"] == []
