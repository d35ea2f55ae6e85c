"""Attractor basins: activation that saturates, decays and spreads (formulas in docs/COGNITION.md).

The store keeps each basin's activation as of `last_activated_at`; the activation *now* is
derived on read, so there is no background decay job and two readers always agree.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
import numpy as np
from pydantic import BaseModel, Field

from dionysus_mcp.cognition.embedding import Embedder, NoEmbedder
from dionysus_mcp.cognition.inputs import ActivateBasin, LinkBasins, ListBasins, UpsertBasin
from dionysus_mcp.cognition.suggest import close_matches
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.inputs import shown
from dionysus_mcp.store.base import Basins
from schema.models import ActivationUpdate, Basin, BasinLink, utcnow
from schema.text import tokens

ACTIVE_THRESHOLD = 0.1  # a basin counts as active at or above this activation
# `view` rounds activation to 6 decimals before the threshold test: a candidate query must
# include what rounds up to it.
_CANDIDATE_FLOOR = ACTIVE_THRESHOLD - 1e-6
SPREAD_FACTOR = 0.5  # share of an activation passed one hop along a link of weight 1
MIN_SPREAD = 0.01  # spreads weaker than this are dropped
HEBBIAN_RATE = 0.1  # how fast co-activated basins strengthen their link
# Only the most active co-active basins strengthen their link with the one activated: with every
# active basin, links grew as n² (12,000 after 90 activations of 200 basins) and every
# coherence assessment paid for reading them all.
HEBBIAN_TOP_K = 5
DEPTH_RATE = 0.1  # how fast repeated activation deepens a basin
# Relevance by meaning: cosine similarity mapped linearly from the embedder's `cosine_range`
# (relevance 0 at its low end, 1 at its high end): each model has its own scale
# (Embedder.cosine_range, docs/COGNITION.md).

# The inputs' limits are the operations' (cognition/inputs.py), written there once.
MAX_NAME = UpsertBasin.bound("name", "max_length")
MAX_DESCRIPTION = UpsertBasin.bound("description", "max_length")
MAX_KEYWORDS = UpsertBasin.bound("keywords", "max_length")
MAX_KEYWORD = UpsertBasin.item_bound("keywords", "max_length")
STABILITY = UpsertBasin.span("stability")
WEIGHT = LinkBasins.span("weight")
LIST_LIMIT = ListBasins.span("limit")
STRENGTH = ActivateBasin.span("strength")


class BasinView(BaseModel):
    id: str
    name: str
    description: str
    keywords: list[str]
    activation: float = Field(description="Activation now, after decay, in [0, 1].")
    stability: float
    depth: float
    last_activated_at: datetime | None


class SpreadEffect(BaseModel):
    name: str
    activation: float
    delta: float


class LinkView(BaseModel):
    source: str
    target: str
    weight: float


class ActivationResult(BaseModel):
    basin: BasinView
    previous_activation: float
    spread: list[SpreadEffect]
    strengthened_links: list[LinkView]
    source: str | None


class BasinRemoval(BaseModel):
    name: str
    id: str
    links_removed: int
    memories_detached: int = Field(description="Memories no longer attached to it (the memories stay).")
    trace_activations_removed: int
    message: str


class BasinList(BaseModel):
    basins: list[BasinView]
    total: int = Field(description="Basins matching before the limit was applied.")


def decayed(activation: float, since: datetime | None, now: datetime, half_life_s: float) -> float:
    if since is None or activation <= 0.0:
        return max(0.0, activation)
    elapsed = max(0.0, (now - since).total_seconds())
    return min(1.0, activation * 0.5 ** (elapsed / half_life_s))


def saturate(current: float, strength: float) -> float:
    """Move `current` toward 1 by `strength` of the remaining headroom: never exceeds 1."""
    return min(1.0, current + strength * (1.0 - current))


def _clean_text(value: str, field: str, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{field} is {len(value)} characters; the limit is {limit}")
    return value


class BasinService:
    def __init__(
        self, basins: Basins, half_life_s: float, clock: Callable[[], datetime] = utcnow, embedder: Embedder | None = None
    ):
        self.stored = basins  # the store's basins aggregate
        self.half_life_s = half_life_s
        self.clock = clock
        self.embedder = embedder or NoEmbedder()
        self._activation_lock = anyio.Lock()
        # Basin id -> (embedded text, vector): a basin is embedded once, and again only when its
        # name, description or keywords change. Basins are few (hundreds), so the vectors live
        # in this process rather than in the store: recomputing them all takes milliseconds.
        self._vectors: dict[str, tuple[str, np.ndarray]] = {}

    def view(self, basin: Basin, now: datetime | None = None) -> BasinView:
        now = now or self.clock()
        return BasinView(
            id=basin.id,
            name=basin.name,
            description=basin.description,
            keywords=basin.keywords,
            activation=round(decayed(basin.activation, basin.last_activated_at, now, self.half_life_s), 6),
            stability=basin.stability,
            depth=basin.depth,
            last_activated_at=basin.last_activated_at,
        )

    async def names(self) -> dict[str, str]:
        """Basin id -> name, for every basin."""
        return {b.id: b.name for b in await self.stored.list()}

    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        """The stored links among these basins (the coherence of an active set reads them)."""
        return await self.stored.links_among(basin_ids)

    async def upsert_basin(
        self,
        name: str,
        description: str | None = None,
        keywords: list[str] | None = None,
        stability: float | None = None,
    ) -> BasinView:
        """Create the basin, or change only the fields given (None keeps the stored value)."""
        name = _clean_text(name, "name", MAX_NAME, required=True)
        if description is not None:
            description = _clean_text(description, "description", MAX_DESCRIPTION)
        cleaned = None if keywords is None else self._keywords(keywords)
        if stability is not None and not STABILITY[0] <= stability <= STABILITY[1]:
            raise InvalidInput(f"stability must be between {shown(STABILITY[0])} and {shown(STABILITY[1])}, got {stability}")
        existing = await self.stored.get(name)
        basin = Basin(
            id=existing.id if existing else f"basin-{uuid.uuid4().hex[:12]}",
            name=name,
            description=description if description is not None else (existing.description if existing else ""),
            keywords=cleaned if cleaned is not None else (existing.keywords if existing else []),
            stability=stability if stability is not None else (existing.stability if existing else 0.5),
            created_at=existing.created_at if existing else self.clock(),
        )
        return self.view(await self.stored.upsert(basin))

    @staticmethod
    def _keywords(keywords: list[str]) -> list[str]:
        if len(keywords) > MAX_KEYWORDS:
            raise InvalidInput(f"{len(keywords)} keywords given; the limit is {MAX_KEYWORDS}")
        cleaned: list[str] = []
        for kw in keywords:
            kw = _clean_text(kw, "each keyword", MAX_KEYWORD, required=True).lower()
            if kw not in cleaned:
                cleaned.append(kw)
        return cleaned

    async def resolve(self, name_or_id: str) -> Basin:
        key = (name_or_id or "").strip()
        if not key:
            raise InvalidInput("basin must not be empty: give a basin name or id")
        basin = await self.stored.get(key)
        if basin is None:
            names = [b.name for b in await self.stored.list()]
            hint = close_matches(key, names)
            suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise NotFound(f"Unknown basin {key[:MAX_NAME]!r}.{suggestion} Create it with upsert_basin.")
        return basin

    async def delete_basin(self, name: str) -> BasinRemoval:
        key = (name or "").strip()
        basin = await self.stored.get(key) if key else None
        if basin is None:
            hint = close_matches(key, [b.name for b in await self.stored.list()])
            suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise NotFound(f"no basin named {key[:MAX_NAME]!r}: nothing deleted.{suggestion}")
        async with self._activation_lock:
            removed = await self.stored.delete(basin.id)
        if removed is None:
            raise NotFound(f"basin {basin.name!r} was deleted meanwhile")
        self._vectors.pop(basin.id, None)
        return BasinRemoval(
            name=basin.name, id=basin.id, links_removed=removed["links"],
            memories_detached=removed["memories_detached"], trace_activations_removed=removed["trace_activations"],
            message=(f"deleted basin {basin.name!r}: {removed['links']} links removed, "
                     f"{removed['memories_detached']} memories detached (kept), "
                     f"{removed['trace_activations']} trace activations removed"),
        )

    async def link_basins(self, source: str, target: str, weight: float) -> LinkView:
        if not WEIGHT[0] <= weight <= WEIGHT[1]:
            raise InvalidInput(f"weight must be between {shown(WEIGHT[0])} and {shown(WEIGHT[1])}, got {weight}")
        a, b = await self.resolve(source), await self.resolve(target)
        if a.id == b.id:
            raise InvalidInput("a basin cannot be linked to itself: give two different basins")
        link = await self.stored.set_link(BasinLink(source_id=a.id, target_id=b.id, weight=weight))
        return LinkView(source=a.name, target=b.name, weight=link.weight)

    async def current(self) -> list[BasinView]:
        """Every basin with its activation now, most active first (ties by name)."""
        now = self.clock()
        views = [self.view(b, now) for b in await self.stored.list()]
        return sorted(views, key=lambda v: (-v.activation, v.name))

    async def list_basins(self, active_only: bool = False, limit: int = 50) -> BasinList:
        if not LIST_LIMIT[0] <= limit <= LIST_LIMIT[1]:
            raise InvalidInput(f"limit must be between {LIST_LIMIT[0]} and {LIST_LIMIT[1]}, got {limit}")
        views = await self.current()
        if active_only:
            views = [v for v in views if v.activation >= ACTIVE_THRESHOLD]
        return BasinList(basins=views[:limit], total=len(views))

    def active_since(self, now: datetime) -> datetime:
        """The earliest last activation a basin active `now` can have: decay only lowers the
        stored activation (at most 1), which falls below the threshold after
        half_life · log2(1 / threshold). The bound is widened by the rounding of `view`."""
        return now - timedelta(seconds=self.half_life_s * math.log2(1.0 / _CANDIDATE_FLOOR))

    async def active(self) -> list[BasinView]:
        """The active basins, most active first (ties by name). Reads only the candidates the
        store finds by index (recently activated, stored activation above the threshold), so
        the cost follows the active set, not the number of basins."""
        now = self.clock()
        candidates = await self.stored.activated_since(self.active_since(now), _CANDIDATE_FLOOR)
        views = [self.view(b, now) for b in candidates]
        return sorted((v for v in views if v.activation >= ACTIVE_THRESHOLD), key=lambda v: (-v.activation, v.name))

    async def activate_basin(self, basin: str, strength: float, source: str | None = None) -> ActivationResult:
        if not STRENGTH[0] < strength <= STRENGTH[1]:
            raise InvalidInput(f"strength must be in ({shown(STRENGTH[0])}, {shown(STRENGTH[1])}], got {strength}")
        # Read-modify-write of activations and links: two activations interleaving at an await
        # (agent callbacks and MCP calls share this service) would lose one's update.
        async with self._activation_lock:
            return await self._activate(basin, strength, source)

    async def _activate(self, basin: str, strength: float, source: str | None) -> ActivationResult:
        target = await self.resolve(basin)
        now = self.clock()
        basins = {b.id: b for b in await self.stored.list()}
        links = await self.stored.links()
        before = {bid: decayed(b.activation, b.last_activated_at, now, self.half_life_s) for bid, b in basins.items()}

        after = dict(before)
        after[target.id] = saturate(before[target.id], strength)

        # One hop of spreading, along links in either direction (the stronger one counts).
        neighbour_weight: dict[str, float] = {}
        for link in links:
            if target.id in (link.source_id, link.target_id):
                other = link.target_id if link.source_id == target.id else link.source_id
                neighbour_weight[other] = max(neighbour_weight.get(other, 0.0), link.weight)
        spread = []
        for other, weight in sorted(neighbour_weight.items()):
            push = strength * weight * SPREAD_FACTOR
            if push < MIN_SPREAD or other not in basins:
                continue
            after[other] = saturate(before[other], push)
            spread.append(SpreadEffect(name=basins[other].name, activation=round(after[other], 6), delta=round(after[other] - before[other], 6)))

        # Hebbian strengthening with every basin that was already active.
        by_pair = {(l.source_id, l.target_id): l for l in links}
        strengthened = []
        partners = sorted(
            (other for other, level in before.items() if other != target.id and level >= ACTIVE_THRESHOLD),
            key=lambda other: (-before[other], other),
        )[:HEBBIAN_TOP_K]
        for other in sorted(partners):
            level = before[other]
            # Strengthen the link that exists (in whichever direction), else create target→other.
            reverse = (other, target.id)
            key = reverse if reverse in by_pair and (target.id, other) not in by_pair else (target.id, other)
            old = by_pair[key].weight if key in by_pair else 0.0
            new = min(1.0, old + HEBBIAN_RATE * strength * level * (1.0 - old))
            strengthened.append(BasinLink(source_id=key[0], target_id=key[1], weight=new))

        updates = [
            ActivationUpdate(
                basin_id=bid,
                activation=after[bid],
                depth=min(1.0, basins[bid].depth + (DEPTH_RATE * strength * (1.0 - basins[bid].depth) if bid == target.id else 0.0)),
                last_activated_at=now,
            )
            for bid in sorted(after)
            if after[bid] != before[bid] or bid == target.id
        ]
        await self.stored.apply_activation(updates, strengthened)
        stored = await self.stored.get(target.id)
        return ActivationResult(
            basin=self.view(stored, now),
            previous_activation=round(before[target.id], 6),
            spread=spread,
            strengthened_links=[
                LinkView(source=basins[l.source_id].name, target=basins[l.target_id].name, weight=round(l.weight, 6))
                for l in strengthened
            ],
            source=source,
        )

    async def related(
        self, text: str, limit: int = 5, vector: np.ndarray | None = None
    ) -> list[tuple[BasinView, float]]:
        """Basins `text` is about, with relevance in (0, 1]: the larger of the lexical relevance
        (share of the basin's name and keyword terms the text mentions) and the semantic one
        (cosine of text and basin vectors, mapped from the embedder's cosine_range).
        `vector` is the text's embedding when the caller has it already."""
        query = set(tokens(text))
        basins = await self.stored.list()
        cosines = await self._cosines(text, vector, basins) if basins and self.embedder.dim else {}
        now = self.clock()
        scored = []
        for basin in basins:
            terms = set(tokens(" ".join([basin.name, *basin.keywords])))
            hits = len(terms & query)
            lexical = min(1.0, hits / min(len(terms), len(query))) if hits else 0.0
            semantic = semantic_relevance(cosines.get(basin.id, 0.0), self.embedder.cosine_range)
            relevance = round(max(lexical, semantic), 6)
            if relevance > 0:
                scored.append((self.view(basin, now), relevance))
        scored.sort(key=lambda pair: (-pair[1], pair[0].name))
        return scored[:limit]

    async def _cosines(self, text: str, vector: np.ndarray | None, basins: list[Basin]) -> dict[str, float]:
        texts = {b.id: basin_text(b) for b in basins}
        stale = [bid for bid, t in texts.items() if self._vectors.get(bid, ("", None))[0] != t]
        batch = [texts[bid] for bid in stale] + ([] if vector is not None else [text])
        if batch:
            embedded = await self.embedder.embed_async(batch)
            for bid, row in zip(stale, embedded):
                self._vectors[bid] = (texts[bid], row)
            if vector is None:
                vector = embedded[-1]
        matrix = np.stack([self._vectors[b.id][1] for b in basins])
        return dict(zip((b.id for b in basins), (matrix @ vector).tolist()))


def basin_text(basin: Basin) -> str:
    """What a basin is embedded as: its name, description and keywords."""
    return "\n".join(part for part in (basin.name, basin.description, " ".join(basin.keywords)) if part)


def semantic_relevance(cosine: float, cosine_range: tuple[float, float]) -> float:
    low, high = cosine_range
    return min(1.0, max(0.0, (cosine - low) / (high - low)))
