"""Strategic principles ("wisdom") and their retrieval by topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from dionysus_mcp.cognition.text import tokens
from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.store.base import Store
from schema.models import WisdomPrinciple, utcnow

MAX_TEXT = 5_000
MAX_DOMAIN = 100


class WisdomView(BaseModel):
    id: str
    text: str
    domain: str
    confidence: float
    created_at: datetime


class WisdomHit(WisdomView):
    relevance: float = Field(description="Share of the topic's terms the principle mentions, times confidence.")


class WisdomResult(BaseModel):
    topic: str
    principles: list[WisdomHit]


class WisdomService:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow, secrets: ProcessSecrets | None = None):
        self.store = store
        self.clock = clock
        self.secrets = secrets or ProcessSecrets()  # principles are stored with secrets masked

    async def add_wisdom(self, text: str, domain: str = "general", confidence: float = 0.7) -> WisdomView:
        text = self.secrets.mask((text or "").strip())
        if not text:
            raise InvalidInput("text must not be empty")
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT}")
        domain = (domain or "").strip().lower()
        if not domain or len(domain) > MAX_DOMAIN:
            raise InvalidInput(f"domain must be 1 to {MAX_DOMAIN} characters")
        if not 0.0 <= confidence <= 1.0:
            raise InvalidInput(f"confidence must be between 0 and 1, got {confidence}")
        principle = WisdomPrinciple(
            id=f"wis-{uuid.uuid4().hex[:12]}", text=text, domain=domain, confidence=confidence, created_at=self.clock()
        )
        stored = await self.store.add_wisdom(principle)
        return WisdomView(**stored.model_dump())

    async def query_wisdom(self, topic: str, k: int = 3) -> WisdomResult:
        topic = (topic or "").strip()
        if not topic:
            raise InvalidInput("topic must not be empty")
        if len(topic) > 2_000:
            raise InvalidInput(f"topic is {len(topic)} characters; the limit is 2000")
        if not 1 <= k <= 50:
            raise InvalidInput(f"k must be between 1 and 50, got {k}")
        wanted = set(tokens(topic))
        hits = []
        for p in await self.store.list_wisdom():
            terms = set(tokens(p.text + " " + p.domain))
            overlap = len(wanted & terms)
            if overlap:
                relevance = round(overlap / len(wanted) * p.confidence, 6)
                hits.append(WisdomHit(**p.model_dump(), relevance=relevance))
        hits.sort(key=lambda h: (-h.relevance, -h.confidence, h.id))
        return WisdomResult(topic=topic, principles=hits[:k])
