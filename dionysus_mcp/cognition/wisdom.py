"""Strategic principles ("wisdom") and their retrieval by topic, by words and meaning together.

Ranked like recall (`ranking.fuse`): a lexical list (share of the topic's terms a principle
mentions) and a semantic list (cosine of topic and principle vectors, at least the low end of
the embedder's `cosine_range`) are fused, then weighted by confidence. Principles are few and never
change, so their vectors are computed once per process and kept here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import numpy as np
from pydantic import BaseModel, Field

from dionysus_mcp.cognition.embedding import Embedder, NoEmbedder
from dionysus_mcp.cognition.inputs import AddWisdom, QueryWisdom
from dionysus_mcp.cognition.ranking import Ranking, fuse, ranking_for
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.inputs import shown
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.store.base import Wisdom
from schema.models import WisdomPrinciple, utcnow
from schema.text import tokens

# The inputs' limits are the operations' (cognition/inputs.py), written there once.
MAX_TEXT = AddWisdom.bound("text", "max_length")
MAX_DOMAIN = AddWisdom.bound("domain", "max_length")
CONFIDENCE = AddWisdom.span("confidence")
MAX_TOPIC = QueryWisdom.bound("topic", "max_length")
QUERY_K = QueryWisdom.span("k")


class WisdomView(BaseModel):
    id: str
    text: str
    domain: str
    confidence: float
    created_at: datetime


class WisdomHit(WisdomView):
    relevance: float = Field(description="Fused lexical + semantic rank score, times confidence.")
    lexical: float = Field(description="Share of the topic's terms the principle mentions.")
    semantic: float | None = Field(description="Cosine of topic and principle vectors (null: below the threshold or no model).")


class WisdomResult(BaseModel):
    topic: str
    principles: list[WisdomHit]


class WisdomRemoval(BaseModel):
    wisdom_id: str
    deleted: bool
    message: str


class WisdomService:
    def __init__(
        self,
        wisdom: Wisdom,
        clock: Callable[[], datetime] = utcnow,
        embedder: Embedder | None = None,
        ranking: Ranking | None = None,
        secrets: ProcessSecrets | None = None,
    ):
        self.stored = wisdom  # the store's wisdom aggregate
        self.clock = clock
        self.embedder = embedder or NoEmbedder()
        self.ranking = ranking or ranking_for(self.embedder)  # the fusion and the lexical weight
        self.secrets = secrets or ProcessSecrets()  # principles are stored with secrets masked
        self._vectors: dict[str, np.ndarray] = {}

    async def add_wisdom(self, text: str, domain: str = "general", confidence: float = 0.7) -> WisdomView:
        text = self.secrets.mask((text or "").strip())
        if not text:
            raise InvalidInput("text must not be empty")
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT}")
        domain = (domain or "").strip().lower()
        if not domain or len(domain) > MAX_DOMAIN:
            raise InvalidInput(f"domain must be 1 to {MAX_DOMAIN} characters")
        if not CONFIDENCE[0] <= confidence <= CONFIDENCE[1]:
            raise InvalidInput(f"confidence must be between {shown(CONFIDENCE[0])} and {shown(CONFIDENCE[1])}, got {confidence}")
        principle = WisdomPrinciple(
            id=f"wis-{uuid.uuid4().hex[:12]}", text=text, domain=domain, confidence=confidence, created_at=self.clock()
        )
        stored = await self.stored.add(principle)
        return WisdomView(**stored.model_dump())

    async def delete_wisdom(self, wisdom_id: str) -> WisdomRemoval:
        key = (wisdom_id or "").strip()
        if not await self.stored.delete(key):
            raise NotFound(f"no principle has id {key[:100]!r}: nothing deleted (querying wisdom shows ids)")
        self._vectors.pop(key, None)
        return WisdomRemoval(wisdom_id=key, deleted=True, message=f"principle {key} deleted")

    async def query_wisdom(self, topic: str, k: int = 3) -> WisdomResult:
        topic = (topic or "").strip()
        if not topic:
            raise InvalidInput("topic must not be empty")
        if len(topic) > MAX_TOPIC:
            raise InvalidInput(f"topic is {len(topic)} characters; the limit is {MAX_TOPIC}")
        if not QUERY_K[0] <= k <= QUERY_K[1]:
            raise InvalidInput(f"k must be between {QUERY_K[0]} and {QUERY_K[1]}, got {k}")
        wanted = set(tokens(topic))
        principles = {p.id: p for p in await self.stored.list()}
        lexical = []
        for p in principles.values():
            overlap = len(wanted & set(tokens(p.text + " " + p.domain)))
            if overlap:
                lexical.append((p.id, round(overlap / len(wanted), 6)))
        lexical.sort(key=lambda pair: (-pair[1], pair[0]))
        semantic = await self._semantic(topic, principles)
        fused = fuse(
            lexical,
            semantic,
            weight=lambda pid: principles[pid].confidence,
            newer=lambda pid: principles[pid].confidence,  # ties: more confident first, then id
            method=self.ranking.fusion,
            lexical_weight=self.ranking.lexical_weight,
        )
        hits = [
            WisdomHit(
                **principles[f.key].model_dump(), relevance=round(f.score, 6), lexical=f.lexical, semantic=f.semantic
            )
            for f in fused
            if f.score > 0
        ]
        return WisdomResult(topic=topic, principles=hits[:k])

    async def _semantic(self, topic: str, principles: dict[str, WisdomPrinciple]) -> list[tuple[str, float]]:
        if not self.embedder.dim or not principles:
            return []
        missing = [pid for pid in principles if pid not in self._vectors]
        embedded = await self.embedder.embed_async([principles[pid].text for pid in missing] + [topic])
        for pid, row in zip(missing, embedded):
            self._vectors[pid] = row
        ids = list(principles)
        cosines = (np.stack([self._vectors[pid] for pid in ids]) @ embedded[-1]).tolist()
        ranked = [(pid, round(c, 6)) for pid, c in zip(ids, cosines) if c >= self.embedder.cosine_range[0]]
        return sorted(ranked, key=lambda pair: (-pair[1], pair[0]))
