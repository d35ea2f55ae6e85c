"""Memories attached to basins, and recall ranked by BM25 weighted by importance.

Ranking happens here, in Python, over the records the store returns — not in a backend's
full-text engine — so the same corpus gives the same top-k on SQLite and on Neo4j. The index is
cached and rebuilt only when the store's memory revision changes (which also catches writes
made by another process sharing the database).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.text import tokens
from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.store.base import Store
from schema.models import Memory, MemoryBasin, utcnow

BM25_K1 = 1.2
BM25_B = 0.75
MAX_CONTENT = 20_000
MAX_TAGS = 30
MAX_TAG = 100
MAX_KIND = 50
MAX_QUERY = 2_000


class RememberResult(BaseModel):
    memory_id: str
    kind: str
    basins: list[str] = Field(description="Names of the basins the memory was attached to.")
    created_at: datetime


class RecallHit(BaseModel):
    memory_id: str
    kind: str
    content: str
    tags: list[str]
    importance: float
    score: float = Field(description="BM25 relevance times (0.5 + 0.5 * importance).")
    relevance: float = Field(description="score divided by the best score of this query, in (0, 1].")
    basins: list[str]
    created_at: datetime


class RecallResult(BaseModel):
    query: str
    hits: list[RecallHit]
    searched: int = Field(description="Memories searched (after the kinds filter).")


@dataclass
class _Index:
    """The BM25 index, in columns of plain values (strings, floats, tuples of strings, plain
    dicts): the garbage collector does not track those, whereas ~10 tracked objects per memory
    (a pydantic Memory, its dict, lists, MemoryBasins, a Counter) made every full collection
    of a server holding 10,000 memories take over 100 ms."""

    revision: str
    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    tags: list[tuple[str, ...]] = field(default_factory=list)
    importance: list[float] = field(default_factory=list)
    created_at: list[datetime] = field(default_factory=list)
    basin_ids: list[tuple[str, ...]] = field(default_factory=list)
    term_freqs: list[dict[str, int]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, revision: str, memories: list[Memory]) -> "_Index":
        index = cls(revision)
        index.extend(revision, memories)
        return index

    def extend(self, revision: str, memories: list[Memory]) -> None:
        """Add memories at the end. Ranking never depends on a memory's position (ties are
        broken by created_at and id), so extending gives the same results as a rebuild."""
        for m in memories:
            tf = dict(Counter(tokens(m.content + " " + " ".join(m.tags))))
            i = len(self.ids)
            self.ids.append(m.id)
            self.kinds.append(m.kind)
            self.contents.append(m.content)
            self.tags.append(tuple(m.tags))
            self.importance.append(m.importance)
            self.created_at.append(m.created_at)
            self.basin_ids.append(tuple(b.basin_id for b in m.basins))
            self.term_freqs.append(tf)
            self.lengths.append(sum(tf.values()))
            for term in tf:
                self.postings.setdefault(term, []).append(i)
            self.known.add(m.id)
        self.revision = revision


def validate_tags(tags: list[str] | None) -> list[str]:
    tags = tags or []
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"{len(tags)} tags given; the limit is {MAX_TAGS}")
    out = []
    for tag in tags:
        tag = (tag or "").strip()
        if not tag or len(tag) > MAX_TAG:
            raise InvalidInput(f"each tag must be 1 to {MAX_TAG} characters")
        if tag not in out:
            out.append(tag)
    return out


class MemoryService:
    def __init__(
        self,
        store: Store,
        basins: BasinService,
        clock: Callable[[], datetime] = utcnow,
        secrets: ProcessSecrets | None = None,
    ):
        self.store = store
        self.basins = basins
        self.clock = clock
        # Secrets are never stored: whoever writes (an MCP client, an agent that read a pasted
        # key), the content and tags are masked here (dionysus_mcp/secrets.py).
        self.secrets = secrets or ProcessSecrets()
        self._index: _Index | None = None
        # Memories this service stored since the index was built: when they are the only new
        # ones, the index is extended with them instead of rebuilt (a rebuild re-reads and
        # re-tokenizes every memory: ~0.5 s at 10,000, on the event loop).
        self._added: list[Memory] = []
        # Basin id -> name for recall hits. Ids and names never change once a basin exists
        # (upsert keeps both; there is no rename or delete), so the map is refreshed only when
        # a hit names an id it does not know.
        self._names: dict[str, str] = {}

    async def remember(
        self,
        content: str,
        kind: str = "semantic",
        tags: list[str] | None = None,
        importance: float = 0.5,
        basins: list[str] | None = None,
    ) -> RememberResult:
        content = (content or "").strip()
        if not content:
            raise InvalidInput("content must not be empty")
        if len(content) > MAX_CONTENT:
            raise InvalidInput(f"content is {len(content)} characters; the limit is {MAX_CONTENT}")
        kind = (kind or "").strip().lower()
        if not kind or len(kind) > MAX_KIND:
            raise InvalidInput(f"kind must be 1 to {MAX_KIND} characters (e.g. semantic, episodic)")
        tags = [self.secrets.mask(t) for t in validate_tags(tags)]
        content = self.secrets.mask(content)
        if not 0.0 <= importance <= 1.0:
            raise InvalidInput(f"importance must be between 0 and 1, got {importance}")

        if basins:
            # Named basins must all exist: resolve first, so an unknown name stores nothing.
            resolved = [await self.basins.resolve(name) for name in basins]
            links = {b.id: (b.name, 1.0) for b in resolved}
        else:
            related = await self.basins.related(content + " " + " ".join(tags), limit=3)
            links = {view.id: (view.name, round(rel, 6)) for view, rel in related}
        memory = Memory(
            id=f"mem-{uuid.uuid4().hex[:16]}",
            kind=kind,
            content=content,
            tags=tags,
            importance=importance,
            created_at=self.clock(),
            basins=[MemoryBasin(basin_id=bid, weight=w) for bid, (_, w) in links.items()],
        )
        stored = await self.store.add_memory(memory)
        if self._index is not None:
            self._added.append(stored)
        return RememberResult(
            memory_id=stored.id, kind=stored.kind, basins=[name for name, _ in links.values()], created_at=stored.created_at
        )

    async def _current_index(self) -> _Index:
        stats = await self.store.memory_stats()
        index = self._index
        if index is not None and index.revision != stats.revision:
            new = [m for m in self._added if m.id not in index.known]
            # Memories are only ever added: when the count grew by exactly what this service
            # stored, nothing else is new.
            if stats.total == len(index.ids) + len(new):
                index.extend(stats.revision, new)
            self._added = []
        if index is None or index.revision != stats.revision:
            self._added = []
            self._index = _Index.build(stats.revision, await self.store.list_memories())
        return self._index

    async def semantic_recall(self, query: str, k: int = 5, kinds: list[str] | None = None) -> RecallResult:
        query = (query or "").strip()
        if not query:
            raise InvalidInput("query must not be empty")
        if len(query) > MAX_QUERY:
            raise InvalidInput(f"query is {len(query)} characters; the limit is {MAX_QUERY}")
        if not 1 <= k <= 100:
            raise InvalidInput(f"k must be between 1 and 100, got {k}")
        wanted = {kind.strip().lower() for kind in kinds} if kinds else None

        index = await self._current_index()
        candidates = [i for i, kind in enumerate(index.kinds) if wanted is None or kind in wanted]
        allowed = set(candidates)
        n = len(candidates)
        if n == 0:
            return RecallResult(query=query, hits=[], searched=0)
        avg_len = sum(index.lengths[i] for i in candidates) / n or 1.0
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokens(query)):
            docs = [i for i in index.postings.get(term, ()) if i in allowed]
            if not docs:
                continue
            idf = math.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for i in docs:
                tf = index.term_freqs[i][term]
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * index.lengths[i] / avg_len)
                scores[i] += idf * tf * (BM25_K1 + 1) / norm
        weighted = {i: s * (0.5 + 0.5 * index.importance[i]) for i, s in scores.items()}
        # Ties: newer first, then id, so the order never depends on the backend.
        ranked = sorted(
            weighted.items(), key=lambda p: (-round(p[1], 9), -index.created_at[p[0]].timestamp(), index.ids[p[0]])
        )[:k]
        if not ranked:
            return RecallResult(query=query, hits=[], searched=n)
        best = ranked[0][1]
        wanted_ids = {basin_id for i, _ in ranked for basin_id in index.basin_ids[i]}
        if not wanted_ids <= self._names.keys():
            self._names = {b.id: b.name for b in await self.store.list_basins()}
        names = self._names
        hits = []
        for i, score in ranked:
            hits.append(
                RecallHit(
                    memory_id=index.ids[i],
                    kind=index.kinds[i],
                    content=index.contents[i],
                    tags=list(index.tags[i]),
                    importance=index.importance[i],
                    score=round(score, 6),
                    relevance=round(score / best, 6),
                    basins=sorted(names[b] for b in index.basin_ids[i] if b in names),
                    created_at=index.created_at[i],
                )
            )
        return RecallResult(query=query, hits=hits, searched=n)
