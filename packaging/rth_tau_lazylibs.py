"""PyInstaller runtime hook of the one-file `tau` binary: extension modules and data files are unpacked on first need.

The bootloader of a one-file build copies every collected file into a fresh private temp dir (`sys._MEIPASS`, mode
0700) before Python starts, on every start. tau.spec leaves most of them out of that set (packaging/bundle_diet.py
says which, and writes the executable's `taulazy` ELF section that holds them). This hook, the first runtime hook,
finds the section and puts a meta path finder first in `sys.meta_path`:
- importing a lazy extension module writes it, and the bundled libraries only it needs, into the same temp dir
  (under a temporary name, then renamed, so a forked process or a thread importing it at the same moment never sees
  half a file), then loads it from there like any extension module;
- the first import that is neither the standard library nor one of the warm client's modules (THIN) first writes
  every data file (package data, wheels' metadata, bwrap): code reads them by path, so no hook could see the moment
  it needs one. A warm `tau run` never gets there.
It imports nothing the bootstrap has not (marshal, struct, _thread; os and importlib once a file is needed), so
every extension module but zlib, _struct and _ctypes may be lazy. A one-directory build has no such section, and
this hook then does nothing.

Invariants: nothing is read from anywhere but this executable and written anywhere but this process's own
`sys._MEIPASS`; a file already there is not written again; an entry that cannot be read whole is an ImportError
naming it, never a truncated library.
"""

import sys

# The modules of the warm client's path (tau/__main__.py up to the hand-off) besides the standard library: importing
# anything else first unpacks the bundle's data files (packaging/bundle_diet.split_lazy_data).
THIN = frozenset({"tau", "tau.cli", "tau.cli.frozen", "tau.cli.warm", "tau.cli.started", "tau.signal_death"})


def _section(stream, wanted):
    """(offset, size) of a named section of the 64-bit little-endian ELF file `stream`, or None."""
    import struct

    head = stream.read(64)
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return None
    (table,) = struct.unpack_from("<Q", head, 0x28)
    entry_size, count, names_index = struct.unpack_from("<HHH", head, 0x3A)
    stream.seek(table)
    headers = stream.read(entry_size * count)
    if len(headers) < entry_size * count or names_index >= count:
        return None
    names_offset, names_size = struct.unpack_from("<QQ", headers, names_index * entry_size + 0x18)
    stream.seek(names_offset)
    names = stream.read(names_size)
    for index in range(count):
        (name,) = struct.unpack_from("<I", headers, index * entry_size)
        if names[name : names.find(b"\0", name)] == wanted:
            return struct.unpack_from("<QQ", headers, index * entry_size + 0x18)
    return None


class _LazyExtensions:
    """Finds the lazy extension modules: unpacks each (and its libraries) on first import, then loads it."""

    def __init__(self, executable, base, end, index):
        import _thread

        self._executable = executable
        self._base = base  # where the files' bytes start in the executable
        self._end = end  # where the section ends: an entry must lie within it
        self._files = index["files"]
        self._modules = index["modules"]
        self._data = index.get("data") or ()  # until unpacked
        self._lock = _thread.RLock()  # reentrant: nothing here imports, but a wrong guess must not deadlock
        import os  # imported by the bootstrap already

        # a fork while another thread unpacks (the warm server forks runs) must not hand the child a held lock
        os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self):
        import _thread

        self._lock = _thread.RLock()

    def find_spec(self, name, path=None, target=None):
        if self._data and name not in THIN and name.partition(".")[0] not in sys.stdlib_module_names:
            import os

            with self._lock:
                for dest in self._data:
                    self._unpack(dest, os)
                self._data = ()
        dests = self._modules.get(name)
        if dests is None:
            return None
        import os
        from importlib.machinery import ExtensionFileLoader
        from importlib.util import spec_from_file_location

        with self._lock:
            for dest in dests:
                self._unpack(dest, os)
        where = os.path.join(sys._MEIPASS, *dests[0].split("/"))
        return spec_from_file_location(name, where, loader=ExtensionFileLoader(name, where))

    def _unpack(self, dest, os):
        target = os.path.join(sys._MEIPASS, *dest.split("/"))
        if os.path.exists(target):
            return
        offset, size = self._files[dest]
        if offset < 0 or size < 0 or self._base + offset + size > self._end:
            raise ImportError(f"tau: bundled library {dest} is truncated in {self._executable}")
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        partial = f"{target}.{os.getpid()}.part"
        source = os.open(self._executable, os.O_RDONLY | os.O_CLOEXEC)
        try:
            out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o700)
            try:
                copied = _copy(source, out, self._base + offset, size, os)
            except OSError as error:
                raise ImportError(f"tau: cannot unpack bundled library {dest}: {error}") from error
            finally:
                os.close(out)
        except BaseException:
            import contextlib

            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        finally:
            os.close(source)
        if copied != size:
            os.unlink(partial)
            raise ImportError(f"tau: bundled library {dest} is truncated in {self._executable}")
        os.replace(partial, target)


def _copy(source, out, offset, size, os):
    """Copy up to `size` bytes at `offset` of `source` to `out` (returns how many): in the kernel when it can (same
    filesystem), else read and write (an executable on disk and a temp dir on tmpfs: EXDEV)."""
    done = 0
    while done < size:
        try:
            copied = os.copy_file_range(source, out, size - done, offset + done)
        except OSError:
            break  # EXDEV, ENOSYS, EINVAL...: the portable way below
        if copied <= 0:
            break
        done += copied
    while done < size:
        chunk = os.pread(source, min(size - done, 1 << 20), offset + done)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(out, view) :]
        done += len(chunk)
    return done


def _install():
    import marshal
    import struct

    try:
        with open(sys.executable, "rb") as stream:
            found = _section(stream, b"taulazy")
            if found is None:
                return
            start, size = found
            stream.seek(start)
            head = stream.read(16)
            if head[:8] != b"TAULAZY1":
                return
            (length,) = struct.unpack("<Q", head[8:])
            index = marshal.loads(stream.read(length))
            if not isinstance(index["files"], dict) or not isinstance(index["modules"], dict):
                return  # not ours
    except (OSError, EOFError, ValueError, KeyError, TypeError, struct.error):
        return  # no usable section: every module is where the bootloader put it, or the import fails as usual
    sys.meta_path.insert(0, _LazyExtensions(sys.executable, start + 16 + length, start + size, index))


_install()
