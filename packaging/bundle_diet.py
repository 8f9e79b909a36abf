"""Build-time helpers of tau.spec that make the frozen binary start faster. Not part of the binary; PyInstaller only.

Three cuts, each measured in docs/decisions.md ("The frozen binary's start"):

- `fast_pyz_toc(pyz, workdir)`: PyInstaller's PYZ reader loads the archive's table of contents (9,353 modules) with
  `marshal.load(file)`, which reads the file a few bytes at a time: ~35-50 ms of every start, one-file and one-dir.
  The bootstrap module `pyimod01_archive` is rebuilt from PyInstaller's own source with that one call replaced by
  `marshal.loads` over one read (~5 ms). The replaced line must be found exactly once, else the build fails: a new
  PyInstaller release is checked, not patched blindly.
- `split_lazy(binaries)` + `write_payload` + `add_section`: the one-file build copies every collected library to a
  fresh temp dir before Python starts, on every start (~100 ms for 94 MB here). Extension modules (all but the
  three PyInstaller's bootstrap imports) and the bundled libraries that only they load leave the extracted set and
  travel in an ELF section of the executable (`taulazy`), from which packaging/rth_tau_lazylibs.py writes each into
  the same temp dir on its first import. A warm `tau run` imports a handful of small ones (_socket, select, _json);
  a cold one more (pydantic_core, jiter, _ssl with libssl and libcrypto...).
- `drop_unused_data(datas)`: data files no code reads (UNUSED_DATA) are not bundled.

- `split_lazy_data(datas, plan)`: data files (all but the stdlib archive) go to the same section, unpacked together
  before the first import that is neither the standard library nor the warm client's: a warm `tau run` unpacks
  no data file (they are 200 files of ~250: each costs a create and an unlink on the temp dir's filesystem).

Payload format (`taulazy` section): b"TAULAZY1", an 8-byte little-endian length N, N bytes of marshalled index
{"files": {dest: [offset, size]}, "modules": {module: [dest, ...]}, "data": [dest, ...]} (offsets from the index's
end; a module's list is its own file first, then every lazy library it needs, transitively), then the files' bytes.
Marshal, not JSON: the hook runs first, before anything but the bootstrap is imported (build and binary share one
Python).
"""

from __future__ import annotations

import marshal
import os
import py_compile
import re
import struct
import subprocess
from pathlib import Path
from typing import Any

PAYLOAD_MAGIC = b"TAULAZY1"
SECTION = "taulazy"
# Extension modules imported before the first runtime hook (PyInstaller's bootstrap: pyimod01 imports zlib and
# struct, pyimod03 ctypes): they must be on disk when Python starts. A module missing here fails every start, which
# every frozen test sees at once.
BOOTSTRAP_EXTENSIONS = frozenset({"zlib", "_struct", "_ctypes"})

_SLOW_TOC = "            self.toc = dict(marshal.load(fp))\n"
_FAST_TOC = (
    "            # tau: one read, then marshal.loads (it ignores trailing bytes); marshal.load(fp) reads the file\n"
    "            # a few bytes at a time (~40 ms for 9k entries). Grow the read until the whole TOC is in it.\n"
    "            toc_start = self._start_offset + toc_offset\n"
    "            chunk = 1 << 20\n"
    "            while True:\n"
    "                fp.seek(toc_start, os.SEEK_SET)\n"
    "                data = fp.read(chunk)\n"
    "                try:\n"
    "                    self.toc = dict(marshal.loads(data))\n"
    "                    break\n"
    "                except (EOFError, ValueError):\n"
    "                    if len(data) < chunk:\n"
    "                        raise\n"
    "                    chunk *= 4\n"
)


def fast_pyz_toc(pyz: Any, workdir: Path) -> None:
    """Swap the compiled `pyimod01_archive` among the PYZ's bootstrap dependencies for the patched one."""
    for index, (name, _compiled, typecode) in enumerate(pyz.dependencies):
        if name != "pyimod01_archive":
            continue
        from PyInstaller import loader

        source = (Path(loader.__file__).parent / "pyimod01_archive.py").read_text()
        if source.count(_SLOW_TOC) != 1:
            raise SystemExit("tau.spec: PyInstaller's pyimod01_archive changed: review packaging/bundle_diet.py")
        workdir.mkdir(parents=True, exist_ok=True)
        patched = workdir / "pyimod01_archive.py"
        patched.write_text(source.replace(_SLOW_TOC, _FAST_TOC))
        compiled = workdir / "pyimod01_archive.pyc"
        py_compile.compile(str(patched), cfile=str(compiled), dfile="pyimod01_archive.py", doraise=True)
        pyz.dependencies[index] = (name, str(compiled), typecode)
        return
    raise SystemExit("tau.spec: no pyimod01_archive among the PYZ's bootstrap modules")


# Data no code of the binary reads, each a file the one-file build would copy on every start: wheels' file lists
# (importlib.metadata reads METADATA and entry_points.txt; only `files()` and `packages_distributions()` read RECORD,
# and nothing bundled calls them but click's version_option without a version, which tau does not use), their SBOMs
# (supply-chain records of the wheel, not read at run time) and jsonschema's benchmark fixtures. ~2.5 MB, 45 files.
UNUSED_DATA = (re.compile(r"[^/]+\.dist-info/(RECORD|sboms/.*)"), re.compile(r"jsonschema/benchmarks/.*"))


def drop_unused_data(datas: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """`datas` without UNUSED_DATA."""
    return [entry for entry in datas if not any(pattern.fullmatch(entry[0]) for pattern in UNUSED_DATA)]


def _needed(path: str) -> set[str]:
    """Basenames of the shared libraries an ELF file needs (DT_NEEDED)."""
    from PyInstaller.depend import bindepend

    return {os.path.basename(name) for name, _full in bindepend.get_imports(path)}


STDLIB_EXTENSIONS = "python3.11/lib-dynload/"  # where PyInstaller puts the interpreter's own (top-level modules)


def _module_name(dest: str) -> str:
    parts = dest.removeprefix(STDLIB_EXTENSIONS).split("/")
    parts[-1] = parts[-1].split(".", 1)[0]
    return ".".join(parts)


def split_lazy(binaries: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    """(what the bootloader still extracts, the lazy plan): extension modules and the libraries only they need.

    A bundled library is lazy when at least one collected binary needs it and every one that does is lazy; anything
    found another way (a symlink, ctypes by name, a data file) stays extracted, so a wrong guess costs speed, never a
    failed load.
    """
    by_base = {os.path.basename(dest): dest for dest, _src, kind in binaries if kind == "BINARY"}
    needs = {dest: {by_base[n] for n in _needed(src) if n in by_base} for dest, src, _kind in binaries}
    lazy = {
        dest
        for dest, _src, kind in binaries
        if kind == "EXTENSION" and dest.endswith(".so") and _module_name(dest) not in BOOTSTRAP_EXTENSIONS
    }
    changed = True
    while changed:
        changed = False
        for lib in set(by_base.values()) - lazy:
            needers = [dest for dest, needed in needs.items() if lib in needed]
            if needers and all(needer in lazy for needer in needers):
                lazy.add(lib)
                changed = True

    def closure(dest: str) -> list[str]:
        seen, stack = [dest], [dest]
        while stack:
            for lib in sorted(needs[stack.pop()]):
                if lib in lazy and lib not in seen:
                    seen.append(lib)
                    stack.append(lib)
        return seen

    sources = {dest: src for dest, src, _kind in binaries}
    modules = {
        _module_name(dest): closure(dest) for dest, _src, kind in binaries if dest in lazy and kind == "EXTENSION"
    }
    eager = [entry for entry in binaries if entry[0] not in lazy]
    plan = {"modules": modules, "data": [], "sources": {dest: (sources[dest], True) for dest in sorted(lazy)}}
    return eager, plan


# Data the bootloader must unpack: Python's own stdlib archive, read before any runtime hook.
EAGER_DATA = frozenset({"base_library.zip"})


def split_lazy_data(datas: list[tuple[str, str, str]], plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Move the data files (package data, wheels' metadata, the sandbox's build context, bwrap...) into `plan`.

    Code reads them by path (importlib.metadata, importlib.resources, open, exec), which no import hook sees, so they
    are unpacked all at once, before the first import of anything but the standard library and the warm client's
    few modules (rth_tau_lazylibs.THIN): a warm `tau run` never needs them, everything else gets them first.
    """
    eager = []
    for dest, src, kind in datas:
        if dest in EAGER_DATA or kind != "DATA" or not os.path.isabs(src) or not os.path.isfile(src):
            eager.append((dest, src, kind))  # the stdlib archive, or an entry PyInstaller resolves itself
        else:
            plan["data"].append(dest)
            plan["sources"][dest] = (src, False)
    return eager


def write_payload(plan: dict[str, Any], out: Path, *, strip: bool) -> int:
    """Write the `taulazy` payload (stripped like PyInstaller strips collected binaries); returns the files' bytes."""
    from PyInstaller.building.utils import process_collected_binary

    files: dict[str, list[int]] = {}
    blobs: list[bytes] = []
    offset = 0
    for dest, (src, binary) in plan["sources"].items():
        data = Path(process_collected_binary(src, dest, use_strip=strip) if binary else src).read_bytes()
        files[dest] = [offset, len(data)]
        blobs.append(data)
        offset += len(data)
    index = marshal.dumps({"files": files, "modules": plan["modules"], "data": plan["data"]})  # marshal: see above
    head = PAYLOAD_MAGIC + struct.pack("<Q", len(index)) + index
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        stream.write(head)
        for blob in blobs:
            stream.write(blob)
    return offset


def add_section(executable: Path, payload: Path) -> None:
    """Put the payload in the executable's `taulazy` ELF section, placed before PyInstaller's `pydata` section.

    The bootloader finds its archive by scanning backwards from the end of the file for the archive's cookie (the
    last bytes of `pydata`): a section placed after it would be read through on every start (76 MB in 8 KB steps).
    So `pydata` is taken out and added back last. An earlier build's `taulazy` is replaced.
    """
    pkg = payload.with_name("pydata.bin")
    steps = [  # one objcopy each: in a single run, sections are laid out in the file's old order
        ["--dump-section", f"pydata={pkg}"],
        ["--remove-section", "pydata", "--remove-section", SECTION],
        ["--add-section", f"{SECTION}={payload}"],
        ["--add-section", f"pydata={pkg}"],
    ]
    for step in steps:
        done = subprocess.run(["objcopy", *step, str(executable)], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"tau.spec: objcopy {step[0]} failed: {done.stderr.strip()}")
    pkg.unlink()
    if _last_section(executable) != "pydata":
        raise SystemExit("tau.spec: pydata is not the executable's last section; the bootloader would scan the rest")


def _last_section(executable: Path) -> str:
    """Name of the section whose bytes end last in the file (readelf)."""
    listing = subprocess.run(["readelf", "-S", "-W", str(executable)], capture_output=True, text=True, check=True)
    ends: list[tuple[int, str]] = []
    for line in listing.stdout.splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 6 and fields[0].startswith("[") and fields[0] != "[Nr]" and fields[2] == "PROGBITS":
            ends.append((int(fields[4], 16) + int(fields[5], 16), fields[1]))
    return max(ends)[1] if ends else ""
