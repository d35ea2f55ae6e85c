"""Which server process owns a running trace, and whether that process is still alive.

A process is identified by (host, pid, token). On Linux the token is the process's start
identity — boot id, pid namespace and start time in clock ticks (`/proc/<pid>/stat` field 22) —
so it can be recomputed for any pid on the same machine: a pid that was reused by another
process after a crash has a different token. Elsewhere the token is random and only the lease
decides.

Liveness (`owner_gone`):
- my own token: alive (the run is mine);
- same machine (hostname, boot and pid namespace all equal): gone when the pid does not exist,
  or exists with a different start identity (pid reuse); alive otherwise — however long its
  last lease renewal ago, because a busy process is not a dead one;
- another machine, another pid namespace (a container sharing the file), or no token we can
  check: gone once the lease has expired.
A trace with no owner recorded (written by an older version, or created a moment ago with the
owner write still on its way) counts as gone once it has run longer than a lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from schema.models import TraceOwner

LEASE_S = 60.0  # how long a claim holds without renewal (other machines decide by it)
RENEW_EVERY_S = 15.0  # the owner renews its running traces' leases this often
LINUX_PREFIX = "linux:"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


@lru_cache(maxsize=1)
def _machine() -> str | None:
    """boot id + pid namespace: equal for two processes that can see each other's pids."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}:{pidns}" if boot else None


def _start_ticks(pid: int) -> str | None:
    stat = _read(f"/proc/{pid}/stat")
    if not stat or ")" not in stat:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 overall: start time in ticks


def process_token(pid: int) -> str | None:
    """The start identity of `pid` on this machine, or None when it cannot be read."""
    machine, ticks = _machine(), _start_ticks(pid)
    return f"{LINUX_PREFIX}{machine}:{ticks}" if machine and ticks else None


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    token: str

    @classmethod
    def current(cls) -> "ProcessIdentity":
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_token(pid) or f"random:{uuid.uuid4().hex}")

    def owner(self, now: datetime, lease_s: float = LEASE_S) -> TraceOwner:
        return TraceOwner(host=self.host, pid=self.pid, token=self.token, lease_until=now + timedelta(seconds=lease_s))

    def same_machine(self, owner: TraceOwner) -> bool:
        """True when `owner`'s pid can be checked here (same host, boot and pid namespace)."""
        if owner.host != self.host or not (self.token.startswith(LINUX_PREFIX) and owner.token.startswith(LINUX_PREFIX)):
            return False
        return owner.token.rsplit(":", 1)[0] == self.token.rsplit(":", 1)[0]


def owner_gone(
    owner: TraceOwner | None, started_at: datetime, me: ProcessIdentity, now: datetime, lease_s: float = LEASE_S
) -> bool:
    """Whether the process that owns a running trace has gone (see the module docstring)."""
    if owner is None:
        return started_at + timedelta(seconds=lease_s) < now
    if owner.token == me.token:
        return False
    if me.same_machine(owner):
        return not _pid_exists(owner.pid) or process_token(owner.pid) != owner.token
    return owner.lease_until < now
