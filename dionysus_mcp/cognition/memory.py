"""Memories attached to basins, and recall ranked by BM25 weighted by importance.

Ranking happens here, in Python, over the records the store returns — not in a backend's
full-text engine — so the same corpus gives the same top-k on SQLite and on Neo4j. The index is
cached and rebuilt only when the store's memory revision changes (which also catches writes
made by another process sharing the database).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.recall_index import RecallIndex as _Index
from dionysus_mcp.cognition.text import tokens
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.store.base import Store
from schema.models import Memory, MemoryBasin, MemoryStats, utcnow

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


class MemoryView(BaseModel):
    memory_id: str
    kind: str
    content: str
    tags: list[str]
    importance: float
    basins: list[str] = Field(description="Names of the basins the memory is attached to.")
    created_at: datetime


class ForgetResult(BaseModel):
    memory_id: str
    forgotten: bool
    message: str


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


def clean_content(content: str) -> str:
    content = (content or "").strip()
    if not content:
        raise InvalidInput("content must not be empty")
    if len(content) > MAX_CONTENT:
        raise InvalidInput(f"content is {len(content)} characters; the limit is {MAX_CONTENT}")
    return content


def clean_kind(kind: str) -> str:
    kind = (kind or "").strip().lower()
    if not kind or len(kind) > MAX_KIND:
        raise InvalidInput(f"kind must be 1 to {MAX_KIND} characters (e.g. semantic, episodic)")
    return kind


def check_importance(importance: float) -> float:
    if not 0.0 <= importance <= 1.0:
        raise InvalidInput(f"importance must be between 0 and 1, got {importance}")
    return importance


class MemoryService:
    def __init__(self, store: Store, basins: BasinService, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.basins = basins
        self.clock = clock
        self._index: _Index | None = None
        # Memories this service stored since the index was built: when they are the only new
        # ones, the index is extended with them instead of rebuilt (a rebuild re-reads and
        # re-tokenizes every memory: ~0.5 s at 10,000, on the event loop).
        self._added: list[Memory] = []
        # Basin id -> name for recall hits. Ids and names never change once a basin exists
        # (upsert keeps both; there is no rename), so the map is refreshed only when a hit names
        # an id it does not know. A deleted basin counts as a memory edit in the store's
        # revision: the index is rebuilt and no hit names its id any more.
        self._names: dict[str, str] = {}

    async def remember(
        self,
        content: str,
        kind: str = "semantic",
        tags: list[str] | None = None,
        importance: float = 0.5,
        basins: list[str] | None = None,
    ) -> RememberResult:
        content, kind = clean_content(content), clean_kind(kind)
        tags = validate_tags(tags)
        check_importance(importance)

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

    async def get(self, memory_id: str) -> Memory:
        memory = await self.store.get_memory((memory_id or "").strip())
        if memory is None:
            raise NotFound(f"no memory has id {memory_id[:100]!r} (recall shows memory ids)")
        return memory

    async def view(self, memory: Memory) -> MemoryView:
        names = {b.id: b.name for b in await self.store.list_basins()}
        return MemoryView(
            memory_id=memory.id, kind=memory.kind, content=memory.content, tags=memory.tags,
            importance=memory.importance, created_at=memory.created_at,
            basins=sorted(names[b.basin_id] for b in memory.basins if b.basin_id in names),
        )

    async def update_memory(
        self,
        memory_id: str,
        content: str | None = None,
        kind: str | None = None,
        tags: list[str] | None = None,
        importance: float | None = None,
        basins: list[str] | None = None,
    ) -> MemoryView:
        """Change only the fields given; `basins` replaces the attachments ([] detaches all).
        The recall index sees the change at the next recall."""
        memory = await self.get(memory_id)
        changes: dict = {}
        if content is not None:
            changes["content"] = clean_content(content)
        if kind is not None:
            changes["kind"] = clean_kind(kind)
        if tags is not None:
            changes["tags"] = validate_tags(tags)
        if importance is not None:
            changes["importance"] = check_importance(importance)
        if basins is not None:
            resolved = [await self.basins.resolve(name) for name in basins]
            changes["basins"] = [MemoryBasin(basin_id=b.id, weight=1.0) for b in {b.id: b for b in resolved}.values()]
        if not changes:
            raise InvalidInput("nothing to change: give content, kind, tags, importance or basins")
        before = await self.store.memory_stats()
        stored = await self.store.update_memory(memory.model_copy(update=changes))
        if stored is None:
            raise NotFound(f"memory {memory_id!r} was forgotten meanwhile; nothing changed")
        await self._edited(before, 0, lambda index: index.replace(stored))
        return await self.view(stored)

    async def forget_memory(self, memory_id: str) -> ForgetResult:
        key = (memory_id or "").strip()
        before = await self.store.memory_stats()
        if not await self.store.delete_memory(key):
            raise NotFound(f"no memory has id {key[:100]!r}: nothing was forgotten (recall shows memory ids)")
        await self._edited(before, -1, lambda index: index.remove(key))
        return ForgetResult(memory_id=key, forgotten=True, message=f"memory {key} forgotten, with its basin attachments")

    async def _edited(self, before: MemoryStats, grew: int, change: Callable[[_Index], bool]) -> None:
        """After this service's own update (grew 0) or deletion (grew -1): change the index in
        place when that edit is the only write since the index was current; else drop it, to
        be rebuilt at the next recall (a rebuild re-reads and re-tokenizes every memory)."""
        index, after = self._index, await self.store.memory_stats()
        if (
            index is not None
            and index.revision == before.revision
            and after.edits == before.edits + 1
            and after.total == before.total + grew == index.live + grew
            and change(index)
        ):
            index.revision, index.edits = after.revision, after.edits
        else:
            self._index = None

    async def _current_index(self) -> _Index:
        stats = await self.store.memory_stats()
        index = self._index
        if index is not None and index.revision != stats.revision and index.edits == stats.edits:
            new = [m for m in self._added if m.id not in index.known]
            # No update or delete happened (edits unchanged): when the count grew by exactly
            # what this service stored, nothing else is new.
            if stats.total == index.live + len(new):
                index.extend(stats.revision, new)
            self._added = []
        if index is None or index.revision != stats.revision:
            self._added = []
            self._index = _Index.build(stats.revision, await self.store.list_memories(), stats.edits)
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
        candidates = [i for i, kind in enumerate(index.kinds) if index.alive[i] and (wanted is None or kind in wanted)]
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
