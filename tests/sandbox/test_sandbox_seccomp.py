"""The seccomp program's decisions, by a small classic-BPF interpreter over the bytes bwrap loads (both syscall
tables; the kernel-level behaviour on this machine is in test_sandbox_isolation.py)."""

from __future__ import annotations

import struct

import pytest

from tau.environment import seccomp

ALLOW, DENY, KILL = seccomp.RET_ALLOW, seccomp.RET_ERRNO | seccomp.EPERM, seccomp.RET_KILL_PROCESS


def run(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Execute `program` on a `struct seccomp_data` (little-endian) and return the action."""
    full = (*args, *([0] * (6 - len(args))))
    data = struct.pack("<iIQ6Q", nr, arch, 0, *full)
    insns = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x35:
            pc += jt if acc >= k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_decisions(machine: str) -> None:
    arch = seccomp.machine_arch(machine)
    program = seccomp.program(machine)
    assert len(program) % 8 == 0
    audit = arch.audit
    assert run(program, arch.socket, audit, (seccomp.AF_UNIX, 1, 0)) == DENY
    assert run(program, arch.socket, audit, (2, 1, 0)) == ALLOW  # AF_INET
    assert run(program, arch.socket, audit, (10, 1, 0)) == ALLOW  # AF_INET6
    assert run(program, arch.ioctl, audit, (0, seccomp.TIOCSTI)) == DENY
    assert run(program, arch.ioctl, audit, (0, (1 << 32) | seccomp.TIOCSTI)) == DENY  # high word set: still TIOCSTI
    assert run(program, arch.ioctl, audit, (0, seccomp.TIOCLINUX)) == DENY
    assert run(program, arch.ioctl, audit, (0, 0x5401)) == ALLOW  # TCGETS
    for number in arch.io_uring:
        assert run(program, number, audit) == DENY
    assert run(program, 0, audit) == ALLOW
    assert run(program, 59, audit) == ALLOW
    assert run(program, arch.socket, 0x4000_0003, (seccomp.AF_UNIX,)) == KILL  # i386 via int 0x80
    other = seccomp.ARCHES["aarch64" if machine == "x86_64" else "x86_64"]
    assert run(program, arch.socket, other.audit, (seccomp.AF_UNIX,)) == KILL


def test_x32_syscalls_are_killed() -> None:
    arch = seccomp.machine_arch("x86_64")
    program = seccomp.program("x86_64")
    assert run(program, seccomp.X32_SYSCALL_BIT | 41, arch.audit, (seccomp.AF_UNIX,)) == KILL
    assert run(program, seccomp.X32_SYSCALL_BIT | 0, arch.audit) == KILL


def test_unknown_machines_get_no_program() -> None:
    with pytest.raises(seccomp.UnsupportedArchitecture, match="riscv64"):
        seccomp.program("riscv64")
    assert seccomp.machine_arch("amd64").name == "x86_64"
