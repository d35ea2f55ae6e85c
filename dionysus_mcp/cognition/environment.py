"""observe_environment: one snapshot of what the cognitive layer holds right now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.store.base import Store
from schema.models import TraceFilter, utcnow


class ActivationView(BaseModel):
    name: str
    activation: float


class CoherenceView(BaseModel):
    consciousness_level: float
    status: str
    assessed_at: datetime


class RunView(BaseModel):
    trace_id: str
    agent_name: str
    status: str
    model: str
    started_at: datetime
    completed_at: datetime | None


class EnvironmentSnapshot(BaseModel):
    observed_at: datetime
    store: str
    basin_count: int
    active_basins: list[ActivationView]
    latest_coherence: CoherenceView | None
    memory_count: int
    memories_by_kind: dict[str, int]
    recent_runs: list[RunView]


class EnvironmentService:
    def __init__(self, store: Store, basins: BasinService, clock: Callable[[], datetime] = utcnow):
        # Reads across aggregates (what an observation summarises): snapshots, memory stats, runs.
        self.store = store
        self.basins = basins
        self.clock = clock

    async def observe(self, top: int = 5) -> EnvironmentSnapshot:
        current = await self.basins.current()
        active = [b for b in current if b.activation > 0][:top]
        snapshots = await self.store.snapshots.recent(1)
        stats = await self.store.memories.stats()
        runs = await self.store.traces.list(TraceFilter(roots_only=True), limit=5)
        return EnvironmentSnapshot(
            observed_at=self.clock(),
            store=self.store.backend,
            basin_count=len(current),
            active_basins=[ActivationView(name=b.name, activation=b.activation) for b in active],
            latest_coherence=CoherenceView(
                consciousness_level=snapshots[0].consciousness_level,
                status=snapshots[0].status,
                assessed_at=snapshots[0].created_at,
            )
            if snapshots
            else None,
            memory_count=stats.total,
            memories_by_kind=stats.by_kind,
            recent_runs=[
                RunView(
                    trace_id=t.id, agent_name=t.agent_name, status=t.status, model=t.model,
                    started_at=t.started_at, completed_at=t.completed_at,
                )
                for t in runs
            ],
        )
