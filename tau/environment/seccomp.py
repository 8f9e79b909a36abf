"""The seccomp filter every sandboxed host command runs under: a classic-BPF program written here, no libseccomp.

Owns: the program's bytes for this machine's architecture (`program()`), in the `struct sock_filter[]` layout
bubblewrap's `--seccomp FD` loads. Pure: no I/O besides `os.uname()`.

What the filter refuses, with EPERM (everything else is allowed):
- `socket(AF_UNIX, ...)`: host pathname sockets (/var/run/docker.sock, ssh-agent, the session bus) stay connectable
  through a read-only bind mount; a command must not reach them. `socketpair` stays allowed (anonymous pairs reach
  nothing outside).
- `ioctl(fd, TIOCSTI | TIOCLINUX, ...)`: pushing characters into a terminal's input queue. The ioctl number is an
  `unsigned int` in the kernel, so only the low 32 bits of the argument are compared (a set high word is no bypass).
- `io_uring_setup/enter/register`: io_uring opens and connects sockets without the `socket` syscall
  (IORING_OP_SOCKET), which would walk around the AF_UNIX rule. Docker's default profile blocks it the same way.

Invariants: a syscall made under any other architecture than the one the program was built for (i386 via
`int 0x80` on x86_64, where `socketcall` would bypass the rules) or through the x32 ABI (syscall numbers with bit 30
set) kills the process: the rules only know one syscall table. Unknown machines get no program (`program()` raises
`UnsupportedArchitecture`), never a filter with wrong numbers.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

__all__ = ["ARCHES", "Arch", "UnsupportedArchitecture", "assemble", "machine_arch", "program"]

# <linux/filter.h>, <linux/seccomp.h>, <linux/audit.h>
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF_0000
RET_KILL_PROCESS = 0x8000_0000
RET_ERRNO = 0x0005_0000
EPERM = 1
AF_UNIX = 1
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
X32_SYSCALL_BIT = 0x4000_0000

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian: low word first)
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LO, _OFF_ARG1_LO = 0, 4, 16, 24


class UnsupportedArchitecture(RuntimeError):
    """This machine's architecture has no syscall table here, so no filter can be built."""


@dataclass(frozen=True)
class Arch:
    """One syscall table: the audit arch value and the numbers the filter needs."""

    name: str
    audit: int
    socket: int
    ioctl: int
    io_uring: tuple[int, int, int]
    has_x32: bool


ARCHES: dict[str, Arch] = {
    "x86_64": Arch("x86_64", 0xC000_003E, socket=41, ioctl=16, io_uring=(425, 426, 427), has_x32=True),
    "aarch64": Arch("aarch64", 0xC000_00B7, socket=198, ioctl=29, io_uring=(425, 426, 427), has_x32=False),
}


def machine_arch(machine: str | None = None) -> Arch:
    """The syscall table of `machine` (default: this machine's `uname -m`)."""
    name = machine if machine is not None else os.uname().machine
    name = {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)
    if name not in ARCHES:
        raise UnsupportedArchitecture(f"no seccomp syscall table for {name!r} (supported: {', '.join(ARCHES)})")
    return ARCHES[name]


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def assemble(arch: Arch) -> list[tuple[int, int, int, int]]:
    """The program as (code, jt, jf, k) instructions; jumps are relative to the next instruction."""
    deny = RET_ERRNO | EPERM
    head = [_insn(_LD_W_ABS, _OFF_ARCH)]
    # Placeholders for the jumps to the tail blocks; the offsets are patched below once positions are known.
    body: list[tuple[str, tuple[int, int, int, int]]] = [("kill_unless_arch", _insn(_JEQ_K, arch.audit))]
    body.append(("", _insn(_LD_W_ABS, _OFF_NR)))
    if arch.has_x32:
        body.append(("kill_if_x32", _insn(_JGE_K, X32_SYSCALL_BIT)))
    body.append(("socket", _insn(_JEQ_K, arch.socket)))
    body.append(("ioctl", _insn(_JEQ_K, arch.ioctl)))
    body.extend(("deny_if", _insn(_JEQ_K, number)) for number in arch.io_uring)
    body.append(("", _insn(_RET_K, RET_ALLOW)))
    tail = {
        "socket": [
            _insn(_LD_W_ABS, _OFF_ARG0_LO),
            _insn(_JEQ_K, AF_UNIX, jt=0, jf=1),
            _insn(_RET_K, deny),
            _insn(_RET_K, RET_ALLOW),
        ],
        "ioctl": [
            _insn(_LD_W_ABS, _OFF_ARG1_LO),
            _insn(_JEQ_K, TIOCSTI, jt=1, jf=0),
            _insn(_JEQ_K, TIOCLINUX, jt=0, jf=1),
            _insn(_RET_K, deny),
            _insn(_RET_K, RET_ALLOW),
        ],
        "deny": [_insn(_RET_K, deny)],
        "kill": [_insn(_RET_K, RET_KILL_PROCESS)],
    }
    start = len(head) + len(body)
    where: dict[str, int] = {}
    for name in ("socket", "ioctl", "deny", "kill"):
        where[name] = start
        start += len(tail[name])
    program = list(head)
    for index, (role, (code, _, _, k)) in enumerate(body, start=len(head)):
        after = index + 1
        if role == "kill_unless_arch":
            program.append(_insn(code, k, jt=0, jf=where["kill"] - after))
        elif role == "kill_if_x32":
            program.append(_insn(code, k, jt=where["kill"] - after, jf=0))
        elif role in ("socket", "ioctl"):
            program.append(_insn(code, k, jt=where[role] - after, jf=0))
        elif role == "deny_if":
            program.append(_insn(code, k, jt=where["deny"] - after, jf=0))
        else:
            program.append(_insn(code, k))
    for name in ("socket", "ioctl", "deny", "kill"):
        program.extend(tail[name])
    if any(jt > 255 or jf > 255 for _, jt, jf, _ in program):  # pragma: no cover - the program is tiny
        raise AssertionError("seccomp jump out of range")
    return program


def program(machine: str | None = None) -> bytes:
    """The filter for `machine` (default: this one) as `struct sock_filter[]` bytes, native byte order."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in assemble(machine_arch(machine)))
