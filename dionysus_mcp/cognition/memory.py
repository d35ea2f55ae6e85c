"""Memories attached to basins, and recall by words and meaning together.

Recall asks the store for two candidate lists in one call — lexical (BM25 over the memories'
terms: FTS5 on SQLite, the full-text index or its fallback on Neo4j) and semantic (cosine
similarity of the configured embedder's vectors) — fuses them (`ranking.fuse`), weights by
importance, then reads the top k records. Nothing is indexed in this process: the store keeps
its indexes incrementally, so a restart costs no rebuild. Formulas: docs/COGNITION.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.embedding import Embedder, NoEmbedder
from dionysus_mcp.cognition.inputs import Remember, SemanticRecall
from dionysus_mcp.cognition.ranking import Ranking, fuse, importance_weight, ranking_for
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.inputs import shown
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.store.base import Embedding, Memories, WriteConflict
from schema.models import Memory, MemoryBasin, utcnow
from schema.text import tokens

# The inputs' limits are the operations' (cognition/inputs.py), written there once.
MAX_CONTENT = Remember.bound("content", "max_length")
MAX_TAGS = Remember.bound("tags", "max_length")
MAX_TAG = Remember.item_bound("tags", "max_length")
MAX_KIND = Remember.bound("kind", "max_length")
MAX_QUERY = SemanticRecall.bound("query", "max_length")
IMPORTANCE = Remember.span("importance")
RECALL_K = SemanticRecall.span("k")
# Candidates asked from each list: the fusion needs more than k to re-rank.
MIN_CANDIDATES = 30
CANDIDATES_PER_HIT = 3
# update_memory is a compare-and-set: when another writer changed the memory between its read
# and its write, it reads again and retries, this many times at most.
UPDATE_TRIES = 5


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
    score: float = Field(description="Fused lexical + semantic rank score times (0.5 + 0.5 * importance).")
    relevance: float = Field(description="score divided by the best score of this query: 1 for the best hit, in [0, 1] rounded to 6 decimals.")
    lexical: float = Field(
        description="Word match in [0, 1]: BM25 of the query's terms in the memory divided by the query's weight"
        " (a memory of average length holding every query term once scores 1), capped at 1; 0: no shared term."
    )
    semantic: float | None = Field(description="Cosine similarity of query and memory vectors (null: not a semantic candidate).")
    basins: list[str]
    created_at: datetime


class RecallResult(BaseModel):
    query: str
    hits: list[RecallHit]
    searched: int = Field(description="Memories searched (after the kinds filter).")
    stale: int = Field(
        0,
        description="Memories searched whose vector is missing or from another embedding model: found by words only"
        " until `dionysus-mcp reindex` re-embeds them.",
    )
    note: str | None = Field(None, description="What the hits cannot show, e.g. stale vectors.")


def stale_note(stale: int, searched: int, model: str) -> str | None:
    if not stale:
        return None
    return (
        f"{stale} of {searched} memories have no {model} vector (written with another embedding model or none):"
        " they are found by words only until `dionysus-mcp reindex` embeds them"
    )


def embedding_text(content: str, tags: list[str]) -> str:
    return content + ("\n" + " ".join(tags) if tags else "")


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
    if not IMPORTANCE[0] <= importance <= IMPORTANCE[1]:
        raise InvalidInput(f"importance must be between {shown(IMPORTANCE[0])} and {shown(IMPORTANCE[1])}, got {importance}")
    return importance


class MemoryService:
    def __init__(
        self,
        memories: Memories,
        basins: BasinService,
        clock: Callable[[], datetime] = utcnow,
        secrets: ProcessSecrets | None = None,
        embedder: Embedder | None = None,
        ranking: Ranking | None = None,
    ):
        self.stored = memories  # the store's memories aggregate
        self.basins = basins
        self.clock = clock
        # Secrets are never stored: whoever writes (an MCP client, an agent that read a pasted
        # key), the content and tags are masked here (dionysus_mcp/secrets.py).
        self.secrets = secrets or ProcessSecrets()
        self.embedder = embedder or NoEmbedder()
        self.ranking = ranking or ranking_for(self.embedder)  # the fusion and the lexical weight
        # Basin id -> name for recall hits. Ids and names never change once a basin exists
        # (upsert keeps both; there is no rename), so the map is refreshed only when a hit names
        # an id it does not know. A deleted basin's id leaves every memory's links with it, so
        # no hit names it afterwards.
        self._names: dict[str, str] = {}

    async def embed(self, text: str) -> Embedding | None:
        if not self.embedder.dim:
            return None
        vector = (await self.embedder.embed_async([text]))[0]
        return Embedding(self.embedder.name, vector)

    async def remember(
        self,
        content: str,
        kind: str = "semantic",
        tags: list[str] | None = None,
        importance: float = 0.5,
        basins: list[str] | None = None,
    ) -> RememberResult:
        content, kind = clean_content(content), clean_kind(kind)
        tags = [self.secrets.mask(t) for t in validate_tags(tags)]
        content = self.secrets.mask(content)
        check_importance(importance)

        embedding = await self.embed(embedding_text(content, tags))
        if basins:
            # Named basins must all exist: resolve first, so an unknown name stores nothing.
            resolved = [await self.basins.resolve(name) for name in basins]
            links = {b.id: (b.name, 1.0) for b in resolved}
        else:
            related = await self.basins.related(
                content + " " + " ".join(tags), limit=3, vector=None if embedding is None else embedding.vector
            )
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
        stored = await self.stored.add(memory, embedding)
        return RememberResult(
            memory_id=stored.id, kind=stored.kind, basins=[name for name, _ in links.values()], created_at=stored.created_at
        )

    async def get(self, memory_id: str) -> Memory:
        key = (memory_id or "").strip()
        memory = await self.stored.get(key)
        if memory is None:
            raise NotFound(f"no memory has id {key[:100]!r} (recall shows memory ids)")
        return memory

    async def view(self, memory: Memory) -> MemoryView:
        names = await self.basins.names()
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
        The store re-indexes the terms, and a new content or tags get a new vector.

        A compare-and-set on the memory as read: an edit by another writer in between (another
        field, another process) is kept — the change is applied again on top of it — and the
        vector always matches the stored text."""
        changes: dict = {}
        if content is not None:
            changes["content"] = self.secrets.mask(clean_content(content))
        if kind is not None:
            changes["kind"] = clean_kind(kind)
        if tags is not None:
            changes["tags"] = [self.secrets.mask(t) for t in validate_tags(tags)]
        if importance is not None:
            changes["importance"] = check_importance(importance)
        if basins is not None:
            resolved = [await self.basins.resolve(name) for name in basins]
            changes["basins"] = [MemoryBasin(basin_id=b.id, weight=1.0) for b in {b.id: b for b in resolved}.values()]
        if not changes:
            raise InvalidInput("nothing to change: give content, kind, tags, importance or basins")
        new_text = "content" in changes or "tags" in changes
        tries = 0
        while True:
            tries += 1
            memory = await self.get(memory_id)
            updated = memory.model_copy(update=changes)
            embedding = await self.embed(embedding_text(updated.content, updated.tags)) if new_text else None
            try:
                stored = await self.stored.update(updated, embedding, keep_embedding=not new_text, expected=memory)
            except WriteConflict:
                if tries >= UPDATE_TRIES:  # other writers won every round: say so, change nothing
                    raise
                continue
            if stored is None:
                raise NotFound(f"memory {memory_id!r} was forgotten meanwhile; nothing changed")
            return await self.view(stored)

    async def forget_memory(self, memory_id: str) -> ForgetResult:
        key = (memory_id or "").strip()
        if not await self.stored.delete(key):
            raise NotFound(f"no memory has id {key[:100]!r}: nothing was forgotten (recall shows memory ids)")
        return ForgetResult(memory_id=key, forgotten=True, message=f"memory {key} forgotten, with its basin attachments")

    async def semantic_recall(self, query: str, k: int = 5, kinds: list[str] | None = None) -> RecallResult:
        query = (query or "").strip()
        if not query:
            raise InvalidInput("query must not be empty")
        if len(query) > MAX_QUERY:
            raise InvalidInput(f"query is {len(query)} characters; the limit is {MAX_QUERY}")
        if not RECALL_K[0] <= k <= RECALL_K[1]:
            raise InvalidInput(f"k must be between {RECALL_K[0]} and {RECALL_K[1]}, got {k}")
        wanted = sorted({kind.strip().lower() for kind in kinds}) if kinds is not None else None

        vector = await self.embed(query)
        limit = max(MIN_CANDIDATES, CANDIDATES_PER_HIT * k)
        found = await self.stored.search(tokens(query), vector, wanted, limit)
        ids = list(dict.fromkeys([i for i, _ in found.lexical] + [i for i, _ in found.semantic]))
        records = {m.id: m for m in await self.stored.get_many(ids)}
        fused = [
            f
            for f in fuse(
                found.lexical,
                found.semantic,
                weight=lambda i: importance_weight(records[i].importance) if i in records else 0.0,
                newer=lambda i: records[i].created_at.timestamp() if i in records else 0.0,
                method=self.ranking.fusion,
                query_weight=found.query_weight,
                lexical_weight=self.ranking.lexical_weight,
            )
            if f.key in records
        ][:k]
        stale = {"stale": found.stale, "note": stale_note(found.stale, found.searched, self.embedder.name)}
        if not fused:
            return RecallResult(query=query, hits=[], searched=found.searched, **stale)
        best = fused[0].score or 1.0
        wanted_ids = {link.basin_id for f in fused for link in records[f.key].basins}
        if not wanted_ids <= self._names.keys():
            self._names = await self.basins.names()
        hits = []
        for f in fused:
            m = records[f.key]
            hits.append(
                RecallHit(
                    memory_id=m.id,
                    kind=m.kind,
                    content=m.content,
                    tags=list(m.tags),
                    importance=m.importance,
                    score=round(f.score, 6),
                    relevance=round(f.score / best, 6),
                    lexical=f.lexical_part,
                    semantic=None if f.semantic is None else round(f.semantic, 6),
                    basins=sorted(self._names[link.basin_id] for link in m.basins if link.basin_id in self._names),
                    created_at=m.created_at,
                )
            )
        return RecallResult(query=query, hits=hits, searched=found.searched, **stale)
