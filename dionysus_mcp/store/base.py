"""The async storage interface both backends implement, one small protocol per aggregate.

A `Store` is reached by aggregate — `store.basins`, `store.memories`, `store.wisdom`,
`store.snapshots`, `store.traces`, `store.lifecycle` (owners and leases of running traces) —
each implemented per backend over that backend's one connection (composition: an aggregate
holds the connection, never another aggregate's code). Each invariant is owned by the
aggregate whose data it protects and is written in its protocol below.

The services above hold the domain logic (activation decay, BM25 fusion, coherence formulas,
trace totals); a store persists and returns records. That keeps the backends small and makes
"same inputs, same outputs" checkable by one contract suite (tests/contract/). Every method that
writes more than one record does so atomically: a failure leaves nothing stored half-way. An
operation that reads and then writes what it read belongs inside its aggregate as one method,
so it can run in one store transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

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
    TraceRecord,
    WisdomPrinciple,
)
from schema.trace_writes import TraceWrite

from .read_modify_write import ActivationPlan, ActivationRule

BASIN_FIELDS = ("description", "keywords", "stability")  # what an upsert of an existing basin may change


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


class WriteConflict(StoreError):
    """A compare-and-set found the record changed since the caller read it: the caller reads
    it again, recomputes and retries."""


class Basins(Protocol):
    """(:AttractorBasin)-[:RELATED_TO {weight}]->(:AttractorBasin). Writes are strict: an
    activation or link naming a basin that does not exist raises StoreError, stores nothing."""

    @abstractmethod
    async def upsert(self, basin: Basin, fields: Collection[str] = BASIN_FIELDS) -> Basin:
        """Create the basin, or when one with that name exists update only `fields` (of
        BASIN_FIELDS) from `basin`, keeping the rest (id, activation, depth, created_at, and
        the fields not given: a concurrent upsert of another field is not undone), in one
        statement. Returns it stored."""

    @abstractmethod
    async def add_if_absent(self, basin: Basin) -> tuple[Basin, bool]:
        """Store the basin unless one with its id or its name exists; returns the stored one
        and whether it was added (import: what the target holds is never overwritten)."""

    @abstractmethod
    async def get(self, name_or_id: str) -> Basin | None: ...

    @abstractmethod
    async def list(self) -> list[Basin]:
        """All basins ordered by name."""

    @abstractmethod
    async def activated_since(self, since: datetime, min_activation: float) -> list[Basin]:
        """Basins whose stored activation is at least `min_activation` and that were last
        activated at or after `since`, or never (activation set without a time), ordered by
        name. The candidates for "active now": decay only lowers the stored value, so a basin
        outside this set cannot be active (the service computes `since` from the half-life).
        Served from an index on (last_activated_at, activation): cost follows the result."""

    @abstractmethod
    async def activate(
        self, name_or_id: str, since: datetime, min_activation: float, rule: ActivationRule
    ) -> tuple[Basin, ActivationPlan] | None:
        """One activation as one read-modify-write (store/read_modify_write.py): in one
        transaction, read the target, the links touching it with the basins at their other
        ends, and the candidates `activated_since(since, min_activation)`; write what
        `rule(snapshot)` plans. Reads only those, never every basin. Returns the target as
        stored after it and the plan; None when no basin has that name or id."""

    @abstractmethod
    async def apply_activation(self, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        """Atomically store these activation values and link weights (creating links that do
        not exist), without reading anything: seeding and benchmarks. An activation that
        depends on stored values goes through `activate`."""

    @abstractmethod
    async def add_link_if_absent(self, link: BasinLink) -> bool:
        """Create source→target with this weight unless the link exists (its weight is kept);
        True when created. Strict like set_link."""

    @abstractmethod
    async def revision(self) -> str:
        """A cheap fingerprint that changes when a basin is added, deleted or activated (also
        by another process): how many basins there are and the latest activation time."""

    @abstractmethod
    async def set_link(self, link: BasinLink) -> BasinLink:
        """Create or replace the weight of source→target."""

    @abstractmethod
    async def links(self) -> list[BasinLink]:
        """All links ordered by (source_id, target_id)."""

    @abstractmethod
    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        """The links whose source and target are both in `basin_ids`, ordered by
        (source_id, target_id)."""

    @abstractmethod
    async def delete(self, basin_id: str) -> dict[str, int] | None:
        """Remove the basin, its RELATED_TO links (both directions), its IN_BASIN attachments
        and ACTIVATED_BASIN links, atomically; memories stay. The attachments go through the
        memories aggregate in the same transaction, so the memory revision changes (see
        `Memories`). Returns counts {links, memories_detached, trace_activations}, or None when
        no basin has that id."""


class Memories(Protocol):
    """(:Memory)-[:IN_BASIN {weight}]->(:AttractorBasin), their index terms and vectors. Writes
    are strict: a memory whose id exists already, or that names a basin that does not exist,
    raises StoreError and stores nothing.

    Invariant owned here: the revision `stats()` reports changes with every write that changes
    what a recall may return — an added memory (count, newest), an updated or deleted one, and
    any change of memory↔basin attachments (recall hits name their basins), including the
    detaching a basin's deletion does — also when another process wrote it. Replacing vectors
    (update, delete, `set_embeddings`) tells every process's vector cache to reload."""

    @abstractmethod
    async def add(self, memory: Memory, embedding: Embedding | None = None) -> Memory:
        """Store the memory, its IN_BASIN links, its index terms and its vector atomically."""

    @abstractmethod
    async def get(self, memory_id: str) -> Memory | None: ...

    @abstractmethod
    async def get_many(self, ids: list[str]) -> list[Memory]:
        """The memories with these ids (unknown ids skipped), ordered by (created_at, id)."""

    @abstractmethod
    async def update(
        self, memory: Memory, embedding: Embedding | None = None, keep_embedding: bool = False, expected: Memory | None = None
    ) -> Memory | None:
        """Replace kind, content, tags, importance and the basin links of the memory with this
        id (id and created_at are kept), re-index its terms and, unless `keep_embedding`, set
        its vector to `embedding` (None: no vector), atomically; None when it does not exist.
        Strict like add: an unknown basin changes nothing. With `expected` (the memory as the
        caller read it) a compare-and-set: raises WriteConflict, changing nothing, when the
        stored memory differs from it."""

    @abstractmethod
    async def delete(self, memory_id: str) -> bool:
        """Remove the memory and its basin links; False when it did not exist."""

    @abstractmethod
    async def list(self, kinds: list[str] | None = None) -> list[Memory]:
        """Memories (with their basin links) ordered by (created_at, id)."""

    @abstractmethod
    async def stats(self) -> MemoryStats: ...

    @abstractmethod
    async def counts_by_basin(self, basin_ids: list[str] | None = None) -> dict[str, int]:
        """basin_id → number of memories attached (basins without memories are absent); only
        the basins in `basin_ids` when given."""

    @abstractmethod
    async def search(self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int) -> MemorySearch:
        """Up to `limit` lexical and `limit` semantic candidates among memories of `kinds`
        (None: all). `terms` are `schema.text.tokens` of the query."""

    @abstractmethod
    async def embedding_counts(self) -> dict[str, int]:
        """Vector model name -> number of memories embedded with it ("" for none)."""

    @abstractmethod
    async def to_embed(self, model: str, limit: int) -> list[Memory]:
        """Up to `limit` memories without a vector of `model`, ordered by (created_at, id)."""

    @abstractmethod
    async def set_embeddings(self, vectors: dict[str, Embedding], texts: dict[str, tuple[str, list[str]]] | None = None) -> int:
        """Replace the vectors of these memories (by id) atomically; with `texts` (id ->
        (content, tags) the vector was computed from) only where the memory still holds that
        content and those tags: an edit made meanwhile keeps its own vector. Returns how many
        were set."""


class Wisdom(Protocol):
    """(:WisdomPrinciple). Strict: a principle whose id exists already raises StoreError."""

    @abstractmethod
    async def add(self, principle: WisdomPrinciple) -> WisdomPrinciple: ...

    @abstractmethod
    async def list(self) -> list[WisdomPrinciple]:
        """Ordered by (created_at, id)."""

    @abstractmethod
    async def delete(self, wisdom_id: str) -> bool:
        """False when no principle has that id."""


class Snapshots(Protocol):
    """(:CoherenceSnapshot). Strict: a snapshot whose id exists already raises StoreError."""

    @abstractmethod
    async def add(self, snapshot: CoherenceSnapshot) -> None: ...

    @abstractmethod
    async def add_if_due(
        self, build: Callable[[CoherenceSnapshot | None], CoherenceSnapshot | None]
    ) -> CoherenceSnapshot | None:
        """In one transaction that excludes other writers of snapshots: read the newest
        snapshot, call `build(newest)` (pure; may run more than once) and store what it returns
        (None: nothing). Returns what was stored."""

    @abstractmethod
    async def recent(self, limit: int) -> list[CoherenceSnapshot]:
        """Newest first."""


class Traces(Protocol):
    """(:AgentExecutionTrace)-[:HAS_STEP]->(:AgentExecutionStep), DELEGATED_TO sub-runs,
    ACTIVATED_BASIN links.

    Written only by `write`, with the typed records of `schema.trace_writes`. Writes are
    tolerant, because the outbox replays them: each is idempotent, and a step or child that
    arrives before its trace is found once the trace exists."""

    @abstractmethod
    async def write(self, writes: list[TraceWrite]) -> None:
        """The writes, in order, in ONE transaction (a drain of an agent's steps is one commit);
        anything that is not a trace write is refused before anything is written."""

    @abstractmethod
    async def get(self, trace_id: str) -> TraceRecord | None: ...

    @abstractmethod
    async def steps(self, trace_id: str) -> list[StepRecord]:
        """Ordered by (step_number, step type order task<planning<action<final_answer)."""

    @abstractmethod
    async def children(self, trace_id: str) -> list[TraceRecord]:
        """Delegated sub-runs ordered by (started_at, id)."""

    @abstractmethod
    async def basins(self, trace_id: str) -> list[TraceBasinLink]:
        """The basins the run activated, ordered by (at_step, basin_name)."""

    @abstractmethod
    async def list(self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None) -> list[TraceRecord]:
        """Newest first, ordered by (started_at desc, id desc); `after` is the keyset cursor
        (started_at, id) of the last trace of the previous page."""

    @abstractmethod
    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        """Per (agent_name, model) over the traces matching `filter`: dicts with agent_name,
        model, runs, input_tokens, output_tokens, pruned_tokens_saved; ordered by
        (agent_name, model)."""

    @abstractmethod
    async def count(self) -> int: ...

    @abstractmethod
    async def delete(self, trace_ids: list[str]) -> dict[str, int]:
        """Delete the traces, every sub-run delegated from them (recursively), their steps and
        basin activations, atomically. Returns {traces, steps} removed; unknown ids are
        ignored."""


class TraceLifecycle(Protocol):
    """Owners and leases of running traces (dionysus_mcp/traces/lifecycle.py decides liveness;
    the store applies it), and requests to cancel them from any process. An owner is set by the
    `SetTraceOwner` trace write.

    Invariant owned here: a trace is marked `interrupted` only while it is still `running` and
    still owned by the owner that was judged gone, checked in the same transaction."""

    @abstractmethod
    async def renew_leases(self, token: str, lease_until: datetime) -> int:
        """Extend the lease of every running trace owned by `token`; returns how many."""

    @abstractmethod
    async def running(self, trace_ids: list[str] | None = None) -> list[RunningTrace]:
        """Traces whose status is `running` (of `trace_ids` only, when given), with owners."""

    @abstractmethod
    async def interrupt(
        self, trace_id: str, owner_token: str | None, completed_at: datetime, error: str, totals: dict[str, int]
    ) -> bool:
        """Mark the trace `interrupted` with `totals` (as a completion) — only while it is still
        `running` and still owned by `owner_token` (None: no owner recorded). True when marked."""

    @abstractmethod
    async def request_cancel(self, trace_id: str, requested_at: datetime) -> bool:
        """Record a request to cancel the trace, for its owner to act on; only while it is
        `running` (checked in the same transaction). True when recorded (or recorded before)."""

    @abstractmethod
    async def cancel_requested(self, trace_ids: list[str]) -> list[str]:
        """Of these traces, those with a cancel request, ordered by id (the owner's check:
        one indexed read)."""

    @abstractmethod
    async def progress(self, trace_ids: list[str]) -> dict[str, str]:
        """A cheap fingerprint per trace that changes when a step of it or of its direct
        sub-runs is stored, a sub-run starts or ends, or its status changes (unknown ids are
        absent): how a process follows runs another process owns."""


class Store(ABC):
    """One backend: its connection's lifecycle, and its aggregates."""

    backend: str = "abstract"
    basins: Basins
    memories: Memories
    wisdom: Wisdom
    snapshots: Snapshots
    traces: Traces
    lifecycle: TraceLifecycle

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
