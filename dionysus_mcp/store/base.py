"""The one async storage interface both backends implement.

The services above it hold all the domain logic (activation decay, BM25, coherence formulas,
trace totals); a store only persists and returns records. That keeps the two backends small
and makes "same inputs, same outputs" checkable by one contract suite
(tests/contract/). Every method that writes more than one record does so atomically: a failure
leaves nothing stored half-way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from schema.models import (
    ActivationUpdate,
    Basin,
    BasinLink,
    CoherenceSnapshot,
    Memory,
    MemoryStats,
    RunningTrace,
    StepRecord,
    TraceBasinLink,
    TraceFilter,
    TraceOwner,
    TraceRecord,
    TraceStatus,
    WisdomPrinciple,
)


T = TypeVar("T")

TRACE_WRITES = ("create_trace", "add_step", "complete_trace", "link_trace_basin", "set_trace_owner")


def built_trace_writes(writes: list[tuple[str, tuple[Any, ...]]], builders: dict[str, Callable[..., T]]) -> list[T]:
    """Each write of an `apply_trace_writes` batch built by its backend's statement builder; a
    method that is not a trace write is refused before anything is written."""
    built = []
    for method, args in writes:
        build = builders.get(method)
        if build is None:
            raise StoreError(f"not a trace write: {method!r}")
        built.append(build(*args))
    return built


@dataclass(frozen=True)
class Embedding:
    """A vector with the model that produced it (float32, L2-normalized by the embedder)."""

    model: str
    vector: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])


@dataclass
class MemorySearch:
    """Recall candidates from one store call: each list best first, ties by memory id.

    `lexical` holds (memory id, BM25 score > 0) for memories sharing a term with the query,
    scored with store/bm25.py's formula over the store's whole corpus; `semantic` holds
    (memory id, cosine similarity) for memories whose vector came from the query's model.
    `searched` counts the memories of the requested kinds, `stale` those of them without a
    vector of the query's model (found by words only until `dionysus-mcp reindex`).
    `query_weight` is the sum of the query terms' idf (store/bm25.py; a term no memory has
    counts at full weight): the BM25 a memory of average length mentioning each query term once
    would score, which puts lexical scores on a 0..1 scale. None when the backend's lexical
    scores use another formula (Neo4j's full-text index)."""

    lexical: list[tuple[str, float]] = field(default_factory=list)
    semantic: list[tuple[str, float]] = field(default_factory=list)
    searched: int = 0
    query_weight: float | None = None
    stale: int = 0


class StoreError(Exception):
    """A store could not do what was asked (unreachable, constraint, bad data)."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached right now (network, server down)."""


class Store(ABC):
    backend: str = "abstract"

    # --- lifecycle ---------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect / create the database and apply the schema idempotently."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def apply_schema(self) -> list[str]:
        """Apply DDL idempotently; return the statements applied."""

    @abstractmethod
    async def describe(self) -> str:
        """Where the data lives, without secrets (a path, or a URI without credentials)."""

    # --- basins ------------------------------------------------------------------------------
    @abstractmethod
    async def upsert_basin(self, basin: Basin) -> Basin:
        """Create the basin, or when one with that name exists update its description,
        keywords and stability (keeping id, activation, depth, created_at). Returns it stored."""

    @abstractmethod
    async def get_basin(self, name_or_id: str) -> Basin | None: ...

    @abstractmethod
    async def list_basins(self) -> list[Basin]:
        """All basins ordered by name."""

    @abstractmethod
    async def basins_activated_since(self, since: datetime, min_activation: float) -> list[Basin]:
        """Basins whose stored activation is at least `min_activation` and that were last
        activated at or after `since`, or never (activation set without a time), ordered by
        name. The candidates for "active now": decay only lowers the stored value, so a basin
        outside this set cannot be active (the service computes `since` from the half-life).
        Served from an index on (last_activated_at, activation): cost follows the result."""

    @abstractmethod
    async def apply_activation(
        self, updates: list[ActivationUpdate], link_weights: list[BasinLink]
    ) -> None:
        """Atomically store new activation values and set the given link weights (creating
        links that do not exist)."""

    @abstractmethod
    async def set_link(self, link: BasinLink) -> BasinLink:
        """Create or replace the weight of source→target."""

    @abstractmethod
    async def list_links(self) -> list[BasinLink]:
        """All links ordered by (source_id, target_id)."""

    @abstractmethod
    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        """The links whose source and target are both in `basin_ids`, ordered by
        (source_id, target_id)."""

    @abstractmethod
    async def delete_basin(self, basin_id: str) -> dict[str, int] | None:
        """Remove the basin, its RELATED_TO links (both directions), its IN_BASIN attachments
        and ACTIVATED_BASIN links, atomically; memories stay. Returns counts {links,
        memories_detached, trace_activations}, or None when no basin has that id."""

    # --- memories ----------------------------------------------------------------------------
    @abstractmethod
    async def add_memory(self, memory: Memory, embedding: Embedding | None = None) -> Memory:
        """Store the memory, its IN_BASIN links, its index terms and its vector atomically."""

    @abstractmethod
    async def search_memories(
        self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int
    ) -> MemorySearch:
        """Up to `limit` lexical and `limit` semantic candidates among memories of `kinds`
        (None: all). `terms` are `schema.text.tokens` of the query."""

    @abstractmethod
    async def get_memories(self, ids: list[str]) -> list[Memory]:
        """The memories with these ids (unknown ids skipped), ordered by (created_at, id)."""

    @abstractmethod
    async def embedding_counts(self) -> dict[str, int]:
        """Vector model name -> number of memories embedded with it ("" for none)."""

    @abstractmethod
    async def memories_to_embed(self, model: str, limit: int) -> list[Memory]:
        """Up to `limit` memories without a vector of `model`, ordered by (created_at, id)."""

    @abstractmethod
    async def set_embeddings(self, vectors: dict[str, Embedding]) -> None:
        """Replace the vectors of these memories (by id) atomically."""

    @abstractmethod
    async def get_memory(self, memory_id: str) -> Memory | None: ...

    @abstractmethod
    async def update_memory(
        self, memory: Memory, embedding: Embedding | None = None, keep_embedding: bool = False
    ) -> Memory | None:
        """Replace kind, content, tags, importance and the basin links of the memory with this
        id (id and created_at are kept), re-index its terms and, unless `keep_embedding`, set
        its vector to `embedding` (None: no vector), atomically; None when it does not exist.
        Strict like add_memory: an unknown basin changes nothing."""

    @abstractmethod
    async def delete_memory(self, memory_id: str) -> bool:
        """Remove the memory and its basin links; False when it did not exist."""

    @abstractmethod
    async def list_memories(self, kinds: list[str] | None = None) -> list[Memory]:
        """Memories (with their basin links) ordered by (created_at, id)."""

    @abstractmethod
    async def memory_stats(self) -> MemoryStats: ...

    @abstractmethod
    async def basin_memory_counts(self, basin_ids: list[str] | None = None) -> dict[str, int]:
        """basin_id → number of memories attached (basins without memories are absent); only
        the basins in `basin_ids` when given."""

    # --- wisdom ------------------------------------------------------------------------------
    @abstractmethod
    async def add_wisdom(self, principle: WisdomPrinciple) -> WisdomPrinciple: ...

    @abstractmethod
    async def list_wisdom(self) -> list[WisdomPrinciple]:
        """Ordered by (created_at, id)."""

    @abstractmethod
    async def delete_wisdom(self, wisdom_id: str) -> bool:
        """False when no principle has that id."""

    # --- coherence snapshots -----------------------------------------------------------------
    @abstractmethod
    async def add_snapshot(self, snapshot: CoherenceSnapshot) -> None: ...

    @abstractmethod
    async def recent_snapshots(self, limit: int) -> list[CoherenceSnapshot]:
        """Newest first."""

    # --- execution traces --------------------------------------------------------------------
    @abstractmethod
    async def create_trace(self, trace: TraceRecord) -> None:
        """Insert the trace (and DELEGATED_TO from its parent when parent_id is set).
        Creating an id that exists already is a no-op (replayed outbox writes)."""

    @abstractmethod
    async def add_step(self, step: StepRecord) -> None:
        """Insert or replace the step with this id (HAS_STEP {order: step_number})."""

    @abstractmethod
    async def complete_trace(
        self,
        trace_id: str,
        status: TraceStatus,
        completed_at: datetime,
        summary: str | None,
        error: str | None,
        totals: dict[str, int],
    ) -> None:
        """Close the trace; `totals` holds input_tokens, output_tokens, pruned_tokens_saved,
        step_count."""

    async def apply_trace_writes(self, writes: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Several trace writes, in order: each is (method name, positional arguments) of
        create_trace, add_step, complete_trace or link_trace_basin. A backend that can stores
        them in one transaction (SQLite: one commit instead of one per step); this default makes
        the calls one by one. Trace writes are idempotent, so repeating a batch is harmless."""
        for method, args in writes:
            if method not in TRACE_WRITES:
                raise StoreError(f"not a trace write: {method!r}")
            await getattr(self, method)(*args)

    @abstractmethod
    async def link_trace_basin(self, link: TraceBasinLink) -> None:
        """ACTIVATED_BASIN {strength, at_step}; the same (trace, basin, at_step) is stored once."""

    @abstractmethod
    async def get_trace(self, trace_id: str) -> TraceRecord | None: ...

    @abstractmethod
    async def get_steps(self, trace_id: str) -> list[StepRecord]:
        """Ordered by (step_number, step type order task<planning<action<final_answer)."""

    @abstractmethod
    async def get_children(self, trace_id: str) -> list[TraceRecord]:
        """Delegated sub-runs ordered by (started_at, id)."""

    @abstractmethod
    async def get_trace_basins(self, trace_id: str) -> list[TraceBasinLink]:
        """Ordered by (at_step, basin_name)."""

    @abstractmethod
    async def list_traces(
        self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[TraceRecord]:
        """Newest first, ordered by (started_at desc, id desc); `after` is the keyset cursor
        (started_at, id) of the last trace of the previous page."""

    @abstractmethod
    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        """Per (agent_name, model) over the traces matching `filter`: dicts with agent_name,
        model, runs, input_tokens, output_tokens, pruned_tokens_saved; ordered by
        (agent_name, model)."""

    @abstractmethod
    async def count_traces(self) -> int: ...

    @abstractmethod
    async def delete_traces(self, trace_ids: list[str]) -> dict[str, int]:
        """Delete the traces, every sub-run delegated from them (recursively), their steps and
        basin activations, atomically. Returns {traces, steps} removed; unknown ids are
        ignored."""

    # --- trace lifecycle: owners, leases, interrupted runs (traces/lifecycle.py) ---------------
    @abstractmethod
    async def set_trace_owner(self, trace_id: str, owner: TraceOwner) -> None:
        """Record the process running the trace and its lease (replaces a previous owner)."""

    @abstractmethod
    async def renew_trace_leases(self, token: str, lease_until: datetime) -> int:
        """Extend the lease of every running trace owned by `token`; returns how many."""

    @abstractmethod
    async def running_traces(self, trace_ids: list[str] | None = None) -> list[RunningTrace]:
        """Traces whose status is `running` (of `trace_ids` only, when given), with owners."""

    @abstractmethod
    async def interrupt_trace(
        self, trace_id: str, owner_token: str | None, completed_at: datetime, error: str, totals: dict[str, int]
    ) -> bool:
        """Mark the trace `interrupted` with `totals` (as complete_trace) — only while it is still
        `running` and still owned by `owner_token` (None: no owner recorded), so a run another
        process claimed or closed meanwhile is left alone. True when it was marked."""
