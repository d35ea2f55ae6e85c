"""IWMT-inspired coherence of the active world model (formulas in docs/COGNITION.md).

Integrated World Modeling Theory ties conscious experience to a world model that is integrated,
stable and grounded. We borrow the shape, not the claim: five components in [0, 1] over the
currently active basins, combined with fixed weights into `consciousness_level`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from dionysus_mcp.cognition.basins import BasinService, BasinView
from dionysus_mcp.store.base import Memories, Snapshots
from schema.models import BasinLink, CoherenceSnapshot, utcnow

WEIGHTS = {"integration": 0.30, "stability": 0.20, "focus": 0.20, "continuity": 0.15, "grounding": 0.15}
NO_HISTORY_CONTINUITY = 0.5  # the first assessment has nothing to be continuous with
LOW_COHERENCE = 0.5
# The answer lists the most active basins only: every basin is scored, but a client (and the
# model reading it) gains nothing from ninety names, and serialising and schema-checking them
# was a third of the tool's round trip.
MAX_LISTED = 20
# Snapshots record how coherence moves, not every call: a new one is written when the status or
# the active set changes, when the level or a component moves by SNAPSHOT_CHANGE or more, or when
# the latest is SNAPSHOT_INTERVAL_S old. Continuity compares with the latest snapshot's active
# set, which an unwritten assessment shares, so skipping one never changes a later value.
SNAPSHOT_CHANGE = 0.01
SNAPSHOT_INTERVAL_S = 60.0


class ActiveBasin(BaseModel):
    name: str
    activation: float


class CoherenceAssessment(BaseModel):
    consciousness_level: float = Field(description="Weighted sum of the components, in [0, 1].")
    status: str = Field(description="'ok', or 'insufficient_data' when no basin is active.")
    components: dict[str, float]
    active_count: int = Field(description="How many basins are active (all of them are scored).")
    active_basins: list[ActiveBasin] = Field(
        description=f"The {MAX_LISTED} most active basins, most active first."
    )
    interpretation: str
    snapshot_id: str = Field(description="The snapshot recording this assessment (the latest one when nothing changed enough to write another).")
    snapshot_written: bool = Field(description="Whether this call wrote a new snapshot (see the snapshot rule in docs/COGNITION.md).")
    assessed_at: datetime


def score_components(
    active: list[BasinView],
    links: list[BasinLink],
    memory_counts: dict[str, int],
    previous_active_ids: list[str] | None,
) -> dict[str, float]:
    """The five components, each in [0, 1]. Pure, so it can be property-tested alone."""
    n = len(active)
    total = sum(b.activation for b in active) or 1.0
    ids = [b.id for b in active]

    # Integration: mean strength over all pairs of active basins (a link counts in either
    # direction; the stronger wins). Raising any link weight can only raise it.
    if n < 2:
        integration = 1.0 if n == 1 else 0.0
    else:
        pair_weight: dict[frozenset, float] = {}
        idset = set(ids)
        for link in links:
            if link.source_id in idset and link.target_id in idset and link.source_id != link.target_id:
                key = frozenset((link.source_id, link.target_id))
                pair_weight[key] = max(pair_weight.get(key, 0.0), min(1.0, max(0.0, link.weight)))
        integration = sum(pair_weight.values()) / (n * (n - 1) / 2)

    stability = sum(b.activation * b.stability for b in active) / total if n else 0.0

    if n < 2:
        focus = 1.0 if n == 1 else 0.0
    else:
        probs = [b.activation / total for b in active]
        entropy = -sum(p * math.log(p) for p in probs if p > 0)
        focus = 1.0 - entropy / math.log(n)

    if previous_active_ids is None:
        continuity = NO_HISTORY_CONTINUITY
    else:
        prev, cur = set(previous_active_ids), set(ids)
        union = prev | cur
        continuity = len(prev & cur) / len(union) if union else 0.0

    grounding = sum(b.activation for b in active if memory_counts.get(b.id, 0) > 0) / total if n else 0.0

    clamp = lambda x: round(min(1.0, max(0.0, x)), 6)  # noqa: E731
    return {
        "integration": clamp(integration),
        "stability": clamp(stability),
        "focus": clamp(focus),
        "continuity": clamp(continuity),
        "grounding": clamp(grounding),
    }


def combine(components: dict[str, float]) -> float:
    return round(min(1.0, max(0.0, sum(WEIGHTS[k] * components[k] for k in WEIGHTS))), 6)


def interpret(level: float, status: str) -> str:
    if status == "insufficient_data":
        return "No basin is active: activate or recall something before assessing coherence."
    if level >= 0.75:
        return "Highly coherent: the active world model is integrated, focused and grounded."
    if level >= LOW_COHERENCE:
        return "Moderately coherent."
    return "Low coherence: the active basins are fragmented, unfocused or ungrounded."


def snapshot_due(
    previous: CoherenceSnapshot | None,
    now: datetime,
    level: float,
    status: str,
    components: dict[str, float],
    active_ids: list[str],
    interval_s: float = SNAPSHOT_INTERVAL_S,
) -> bool:
    """Whether an assessment differs enough from the latest snapshot to be stored as a new one."""
    if previous is None or previous.status != status or set(previous.active_basin_ids) != set(active_ids):
        return True
    if (now - previous.created_at).total_seconds() >= interval_s:
        return True
    if abs(previous.consciousness_level - level) >= SNAPSHOT_CHANGE:
        return True
    return any(abs(previous.components.get(k, 0.0) - v) >= SNAPSHOT_CHANGE for k, v in components.items())


class CoherenceService:
    def __init__(
        self,
        snapshots: Snapshots,
        basins: BasinService,
        memories: Memories,
        clock: Callable[[], datetime] = utcnow,
        snapshot_interval_s: float = SNAPSHOT_INTERVAL_S,
    ):
        self.snapshots = snapshots  # the store's snapshots aggregate
        self.basins = basins
        self.memories = memories  # the store's memories aggregate: attachments per basin
        self.clock = clock
        self.snapshot_interval_s = snapshot_interval_s

    async def assess_coherence(self) -> CoherenceAssessment:
        # Only the active basins, their links and their memory counts are read: the cost
        # follows the active set, not the store.
        active = await self.basins.active()
        ids = [b.id for b in active]
        links = await self.basins.links_among(ids) if active else []
        counts = await self.memories.counts_by_basin(ids) if active else {}
        now = self.clock()
        assessed: dict = {}

        def build(previous: CoherenceSnapshot | None) -> CoherenceSnapshot | None:
            # Called by the store inside the transaction that reads the newest snapshot and
            # writes this one: continuity and the snapshot rule see the newest snapshot of any
            # process, and two processes never both write on the same one.
            if not active:
                components = {k: 0.0 for k in WEIGHTS}
                level, status = 0.0, "insufficient_data"
            else:
                components = score_components(active, links, counts, previous.active_basin_ids if previous else None)
                level, status = combine(components), "ok"
            assessed.update(components=components, level=level, status=status, previous=previous)
            if not snapshot_due(previous, now, level, status, components, ids, self.snapshot_interval_s):
                return None
            # Never dated before the snapshot it follows (another process's clock, or a `now`
            # taken before a transaction that waited): newest by time is newest written.
            at = now if previous is None or now > previous.created_at else previous.created_at + timedelta(microseconds=1)
            return CoherenceSnapshot(
                id=f"coh-{uuid.uuid4().hex[:12]}", created_at=at, consciousness_level=level, status=status,
                components=components, active_basin_ids=ids,
            )

        written = await self.snapshots.add_if_due(build)
        if written is None:
            assert assessed["previous"] is not None  # snapshot_due is True without one
        level, status = assessed["level"], assessed["status"]
        return CoherenceAssessment(
            consciousness_level=level,
            status=status,
            components=assessed["components"],
            active_count=len(active),
            active_basins=[ActiveBasin(name=b.name, activation=b.activation) for b in active[:MAX_LISTED]],
            interpretation=interpret(level, status),
            snapshot_id=written.id if written is not None else assessed["previous"].id,
            snapshot_written=written is not None,
            assessed_at=now,
        )
