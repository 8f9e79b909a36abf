"""packaging/bundle_diet.py: what the one-file build still unpacks at start, and what it leaves for first import.

The dependency reader (`_needed`, PyInstaller's bindepend in a real build) is replaced by a table here: the rules under
test are which libraries may wait (needed, and only by lazy modules), which may not (the bootstrap's extensions, a
library an eager file needs, one nothing is known to need), and each module's list (its file first, then what it
needs, transitively). The real build runs in scripts/build-binary; tests/frozen runs its result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packaging"))

import bundle_diet

NEEDS = {
    "src/_rust.abi3.so": {"libssl-x.so.3"},
    "src/libssl-x.so.3": {"libcrypto-x.so.3"},
    "src/libcrypto-x.so.3": set(),
    "src/_ssl.so": {"libssl.so.3"},
    "src/libssl.so.3": {"libcrypto.so.3"},
    "src/libcrypto.so.3": set(),
    "src/zlib.so": {"libz.so.1"},
    "src/libz.so.1": set(),
    "src/libpython3.11.so.1.0": {"libz.so.1"},
    "src/libdlopened.so": set(),
    "src/_core.so": set(),
}
BINARIES = [
    ("cryptography/hazmat/bindings/_rust.abi3.so", "src/_rust.abi3.so", "EXTENSION"),
    ("cryptography.libs/libssl-x.so.3", "src/libssl-x.so.3", "BINARY"),
    ("cryptography.libs/libcrypto-x.so.3", "src/libcrypto-x.so.3", "BINARY"),
    ("python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "src/_ssl.so", "EXTENSION"),
    ("libssl.so.3", "src/libssl.so.3", "BINARY"),
    ("libcrypto.so.3", "src/libcrypto.so.3", "BINARY"),
    ("python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so", "src/zlib.so", "EXTENSION"),
    ("libz.so.1", "src/libz.so.1", "BINARY"),
    ("libpython3.11.so.1.0", "src/libpython3.11.so.1.0", "BINARY"),
    ("libdlopened.so", "src/libdlopened.so", "BINARY"),
    ("pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so", "src/_core.so", "EXTENSION"),
]


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], dict[str, list[str]]]:
    monkeypatch.setattr(bundle_diet, "_needed", lambda path: NEEDS[path])
    eager, plan = bundle_diet.split_lazy(BINARIES)
    assert set(plan["sources"]) | {dest for dest, _src, _kind in eager} == {dest for dest, _src, _kind in BINARIES}
    return {dest for dest, _src, _kind in eager}, plan["modules"]


def test_extensions_and_the_libraries_only_they_need_wait_for_their_first_import(
    split: tuple[set[str], dict[str, list[str]]],
) -> None:
    eager, modules = split
    assert modules["cryptography.hazmat.bindings._rust"] == [
        "cryptography/hazmat/bindings/_rust.abi3.so",
        "cryptography.libs/libssl-x.so.3",
        "cryptography.libs/libcrypto-x.so.3",  # needed through libssl: transitively
    ]
    assert modules["_ssl"] == [
        "python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "libssl.so.3",
        "libcrypto.so.3",
    ]
    assert modules["pydantic_core._pydantic_core"] == ["pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so"]
    assert "libcrypto.so.3" not in eager and "cryptography.libs/libssl-x.so.3" not in eager


def test_the_bootstraps_extensions_what_eager_files_need_and_unknown_libraries_stay_unpacked(
    split: tuple[set[str], dict[str, list[str]]],
) -> None:
    eager, modules = split
    assert "zlib" not in modules  # imported by PyInstaller's bootstrap, before any runtime hook
    assert "python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so" in eager
    assert "libz.so.1" in eager  # zlib and libpython need it
    assert "libpython3.11.so.1.0" in eager
    assert "libdlopened.so" in eager  # nothing is known to need it: it may be loaded by name


def test_data_files_but_the_stdlib_archive_and_symlinks_wait_with_their_sources_unstripped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bundle_diet, "_needed", lambda path: NEEDS[path])
    _eager, plan = bundle_diet.split_lazy(BINARIES)
    for name in ("b.zip", "c.pem", "bw"):
        (tmp_path / name).write_text(name)
    datas = [
        ("base_library.zip", str(tmp_path / "b.zip"), "DATA"),
        ("certifi/cacert.pem", str(tmp_path / "c.pem"), "DATA"),
        ("x/bwrap", str(tmp_path / "bw"), "DATA"),
        ("libcap.so.2", "x.libs/libcap.so.2", "SYMLINK"),  # a link PyInstaller makes: the bootloader's
        ("gone.txt", str(tmp_path / "missing"), "DATA"),  # not a file here: left to PyInstaller as it was
    ]
    eager = bundle_diet.split_lazy_data(datas, plan)
    assert [dest for dest, _src, _kind in eager] == ["base_library.zip", "libcap.so.2", "gone.txt"]
    assert plan["data"] == ["certifi/cacert.pem", "x/bwrap"]
    assert plan["sources"]["x/bwrap"] == (str(tmp_path / "bw"), False)  # data is never stripped (bwrap was patched)
    assert plan["sources"]["libssl.so.3"] == ("src/libssl.so.3", True)


def test_unused_data_is_dropped_and_the_rest_kept() -> None:
    datas = [
        ("anthropic-2.12.0.dist-info/RECORD", "s", "DATA"),
        ("anthropic-2.12.0.dist-info/METADATA", "s", "DATA"),
        ("anthropic-2.12.0.dist-info/entry_points.txt", "s", "DATA"),
        ("cryptography-50.0.2.dist-info/sboms/sbom.json", "s", "DATA"),
        ("cryptography-50.0.2.dist-info/licenses/LICENSE", "s", "DATA"),
        ("jsonschema/benchmarks/issue232/issue.json", "s", "DATA"),
        ("certifi/cacert.pem", "s", "DATA"),
        ("tau/RECORD", "s", "DATA"),
    ]
    kept = [dest for dest, _src, _kind in bundle_diet.drop_unused_data(datas)]
    assert kept == [
        "anthropic-2.12.0.dist-info/METADATA",
        "anthropic-2.12.0.dist-info/entry_points.txt",
        "cryptography-50.0.2.dist-info/licenses/LICENSE",
        "certifi/cacert.pem",
        "tau/RECORD",
    ]
