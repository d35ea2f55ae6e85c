from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime


class FakeClock:
    """A clock tests move by hand, so decay is exact and deterministic."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "dionysus.db")})


@pytest.fixture
async def runtime(settings, clock):
    """A real runtime on a real SQLite file, with every service on the fake clock."""
    async with open_runtime(settings) as rt:
        for service in (rt.basins, rt.memory, rt.coherence, rt.wisdom, rt.environment, rt.traces):
            service.clock = clock
        yield rt
