"""What the store's read-modify-write operations read and write (DESIGN.md "Many writers").

An update that depends on stored values is done inside one store transaction: the aggregate
reads a snapshot, calls the caller's rule on it — a pure function holding the domain's
formulas, defined once in cognition/ — and writes what the rule returns, before the
transaction commits (SQLite: under `BEGIN IMMEDIATE`; Neo4j: after taking the write locks of
the nodes it writes, so a concurrent writer waits or, on an optimistic server such as
ArcadeDB, conflicts and retries). The rule may run more than once (a Neo4j retry, a lock taken
late): it must not have side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schema.models import ActivationUpdate, Basin, BasinLink


@dataclass(frozen=True)
class ActivationSnapshot:
    """What one activation reads: the target, the links touching it (either direction,
    ordered by (source_id, target_id)), the candidates for "active now" (`activated_since` of
    the bound the caller gave: ids, ordered), and every basin named by either, by id."""

    target: Basin
    links: list[BasinLink]
    candidates: list[str]
    basins: dict[str, Basin]


@dataclass(frozen=True)
class ActivationPlan:
    """What one activation writes — new activation values and link weights — and `outcome`,
    the rule's account of it (opaque to the store, handed back to the caller)."""

    updates: list[ActivationUpdate]
    link_weights: list[BasinLink]
    outcome: Any = None
    written: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        ids = {u.basin_id for u in self.updates}
        for link in self.link_weights:
            ids.update((link.source_id, link.target_id))
        object.__setattr__(self, "written", frozenset(ids))


ActivationRule = Callable[[ActivationSnapshot], ActivationPlan]

