"""The one clock of a runtime: wall time for what is recorded, monotonic time for intervals.

Every service and timer takes it from the `Runtime` (never `time.monotonic` or `utcnow` of its
own), so a test drives decay, leases, outbox retries and periodic passes by moving one clock.
Calling the clock gives the wall time (services stamp records with `self.clock()`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

import anyio

from schema.models import utcnow


class Clock(Protocol):
    def __call__(self) -> datetime:
        """The wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, retries)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's monotonic time (periodic timers)."""
        ...


class SystemClock:
    def __call__(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()

__all__ = ["Clock", "SYSTEM_CLOCK", "SystemClock"]
