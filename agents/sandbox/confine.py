"""OS limits the child puts on itself before it reads any code (and never lifts).

Applied in the child's own bootstrap, not in a `preexec_fn` (unsafe in a threaded server), in
this order, each where the platform has it; what was applied is reported to the server:

- `nice`: the lowest scheduling priority (POSIX): code that spins yields the CPU to the server;
- `rlimits`: address space (a blow-up raises MemoryError), CPU seconds (a backstop for the
  server's wall-clock limit), open files, no core file, no file growth (RLIMIT_FSIZE=0; it does
  not stop overwriting a file in place), POSIX only (macOS does not enforce RLIMIT_AS);
- `no_new_privs`: no setuid binary or file capability can give the process more (Linux);
- `user`: when started as root, the child becomes `nobody` with no groups: it can no longer read
  the server's /proc files, signal it or open files only root may (POSIX, root only); then
  RLIMIT_NPROC=0 (no new processes; not enforced for root, hence after the switch);
- `landlock`: no file may be opened, created or removed anywhere, no TCP bind or connect (ABI 4),
  no signal to and no abstract unix socket of a process outside the sandbox (ABI 6). Linux 5.13+
  with Landlock enabled; the ruleset adds what the running kernel's ABI knows.

A small ctypes module rather than the `landlock` package: that one (1.0.0.dev5, alpha) covers
the filesystem rules only (no network, no scoping) and would put site-packages on the child's path.
"""

from __future__ import annotations

import os
import sys

MEMORY_BYTES = 512 * 1024 * 1024  # address space of the child
OPEN_FILES = 16
NICENESS = 19

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_DUMPABLE = 4
_LANDLOCK_CREATE_RULESET, _LANDLOCK_RESTRICT_SELF = 444, 446  # the same on every architecture
_LANDLOCK_CREATE_RULESET_VERSION = 1
# handled_access_fs by ABI: 13 rights in ABI 1, REFER in 2, TRUNCATE in 3, IOCTL_DEV in 5
_FS_BITS = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}
_NET_TCP = 0b11  # BIND_TCP | CONNECT_TCP, ABI 4
_SCOPES = 0b11  # ABSTRACT_UNIX_SOCKET | SIGNAL, ABI 6


def _libc():  # type: ignore[no-untyped-def]
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        _, libc = _libc()
        version = libc.syscall(_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def set_rlimits(cpu_seconds: int) -> list[str]:
    import resource

    applied = []
    limits = {
        "RLIMIT_AS": MEMORY_BYTES,
        "RLIMIT_CPU": cpu_seconds,
        "RLIMIT_NOFILE": OPEN_FILES,
        "RLIMIT_CORE": 0,
        "RLIMIT_FSIZE": 0,
    }
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            # CPU: the soft limit sends SIGXCPU (ends the process), the hard one SIGKILL.
            resource.setrlimit(which, (value, value + 1 if name == "RLIMIT_CPU" else value))
            applied.append(name)
        except (ValueError, OSError):
            pass
    return applied


def no_new_privs() -> bool:
    try:
        ctypes, libc = _libc()
        return libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def drop_user() -> bool:
    """From root to `nobody`, no groups; False when not root or not possible."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return False
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
        uid, gid = entry.pw_uid, entry.pw_gid
    except (ImportError, KeyError):
        uid = gid = 65534
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError:
        return False
    return os.getuid() == uid and os.geteuid() == uid


def no_processes() -> bool:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        return True
    except (ImportError, AttributeError, ValueError, OSError):
        return False


def landlock(abi: int) -> bool:
    """Deny every filesystem access, TCP and signals/abstract sockets outside, as `abi` allows."""
    if abi < 1:
        return False
    ctypes, libc = _libc()

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    attr = Ruleset((1 << _FS_BITS.get(abi, 16)) - 1, _NET_TCP if abi >= 4 else 0, _SCOPES if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # older kernels refuse fields they do not know
    fd = libc.syscall(_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        return False
    try:
        # No rule is added: every handled access is denied everywhere.
        return libc.syscall(_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), 0) == 0
    finally:
        os.close(fd)


def make_undumpable() -> bool:
    """For the server process itself, at its entry point: no core dump, and no process of the
    same user (a child that escaped its other limits included) may read its memory or
    /proc/<pid>/environ, or attach to it. Linux only; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        _, libc = _libc()
        return libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def confine(cpu_seconds: int, *, landlock_on: bool = True, drop_user_on: bool = True) -> list[str]:
    """Everything this platform offers, in order; returns the names of what holds."""
    applied: list[str] = []
    if os.name == "posix":
        applied += set_rlimits(cpu_seconds)
        try:  # the lowest priority: spinning code yields the CPU to the server and everything else
            os.nice(NICENESS - os.nice(0))
            applied.append("nice")
        except OSError:
            pass
    if sys.platform.startswith("linux") and no_new_privs():
        applied.append("no_new_privs")
    if drop_user_on and drop_user():
        applied.append("user")
    if os.name == "posix" and (os.getuid() != 0) and no_processes():
        applied.append("RLIMIT_NPROC")
    abi = landlock_abi()
    if landlock_on and landlock(abi):
        applied.append(f"landlock:{abi}")
    return applied
