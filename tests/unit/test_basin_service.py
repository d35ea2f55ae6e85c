"""The basin service's edges the rules' tests do not reach (mutation survivors): what a deletion
reports, the change feed every write tells, empty input, related's page and rounding, and the
vectors it keeps by meaning — on a real SQLite store."""

from __future__ import annotations

import numpy as np
import pytest

from dionysus_mcp.cognition.basins import MAX_NAME, BasinService, semantic_relevance
from dionysus_mcp.cognition.embedding import Embedder, create_embedder
from dionysus_mcp.cognition.inputs import ListBasins
from dionysus_mcp.errors import InvalidInput, NotFound

HALF_LIFE = 3600


def follow(service: BasinService) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    service.changes.subscribe(lambda kind, key: seen.append((kind, key)))
    return seen


async def test_every_basin_write_tells_the_change_feed_and_a_refused_one_does_not(runtime):
    seen = follow(runtime.basins)
    await runtime.basins.upsert_basin("sleep")
    await runtime.basins.upsert_basin("work")
    await runtime.basins.link_basins("sleep", "work", 0.5)
    await runtime.basins.activate_basin("sleep", 0.5)
    await runtime.basins.delete_basin("work")
    assert seen == [("basins", "")] * 5
    with pytest.raises(InvalidInput):
        await runtime.basins.link_basins("sleep", "sleep", 0.5)
    with pytest.raises(NotFound):
        await runtime.basins.delete_basin("work")
    await runtime.basins.list_basins()
    await runtime.basins.related("sleep")
    assert len(seen) == 5


async def test_deleting_a_basin_reports_what_it_removed(runtime):
    await runtime.basins.upsert_basin("sleep", keywords=["sleep"])
    await runtime.basins.upsert_basin("work")
    await runtime.basins.link_basins("sleep", "work", 0.6)
    await runtime.basins.link_basins("work", "sleep", 0.4)
    await runtime.memory.remember("Slept badly", basins=["sleep"])
    sleep = await runtime.store.basins.get("sleep")
    removal = await runtime.basins.delete_basin("  sleep ")
    assert (removal.name, removal.id) == ("sleep", sleep.id)
    assert (removal.links_removed, removal.memories_detached, removal.trace_activations_removed) == (2, 1, 0)
    assert removal.message == (
        "deleted basin 'sleep': 2 links removed, 1 memories detached (kept), 0 trace activations removed"
    )
    assert [b.name for b in (await runtime.basins.list_basins()).basins] == ["work"]


async def test_deleting_what_is_not_there_names_it_and_deletes_nothing(runtime):
    await runtime.basins.upsert_basin("sleeping")
    await runtime.basins.upsert_basin("sleepier")
    with pytest.raises(NotFound, match=r"^no basin named 'sleepi': nothing deleted\. Did you mean: sleeping, sleepier\?$"):
        await runtime.basins.delete_basin("sleepi")
    await runtime.basins.delete_basin("sleepier")
    with pytest.raises(NotFound, match=r"^no basin named 'sleepin': nothing deleted\. Did you mean: sleeping\?$"):
        await runtime.basins.delete_basin("sleepin")
    with pytest.raises(NotFound, match=r"^no basin named 'zzz': nothing deleted\.$"):
        await runtime.basins.delete_basin("zzz")
    for empty in ("", "   "):
        with pytest.raises(NotFound, match=r"^no basin named '': nothing deleted\.$"):
            await runtime.basins.delete_basin(empty)
    with pytest.raises(NotFound) as long:
        await runtime.basins.delete_basin("q" * (MAX_NAME + 50))
    assert f"'{'q' * MAX_NAME}'" in str(long.value) and "q" * (MAX_NAME + 1) not in str(long.value)
    assert [b.name for b in (await runtime.basins.list_basins()).basins] == ["sleeping"]


class DeletedMeanwhile:
    """The store's basins, with another writer deleting the basin between the service's read
    and its delete."""

    def __init__(self, basins):
        self.basins = basins

    def __getattr__(self, name):
        return getattr(self.basins, name)

    async def delete(self, basin_id: str):
        await self.basins.delete(basin_id)
        return await self.basins.delete(basin_id)


async def test_a_basin_another_writer_deletes_first_is_reported_so(runtime):
    await runtime.basins.upsert_basin("sleep")
    service = BasinService(DeletedMeanwhile(runtime.store.basins), HALF_LIFE)
    seen = follow(service)
    with pytest.raises(NotFound, match=r"^basin 'sleep' was deleted meanwhile$"):
        await service.delete_basin("sleep")
    assert seen == [] and await runtime.store.basins.get("sleep") is None


async def test_empty_text_is_refused_where_it_is_required(runtime):
    with pytest.raises(InvalidInput, match="^name must not be empty$"):
        await runtime.basins.upsert_basin("")
    await runtime.basins.upsert_basin("rest", description="naps")
    assert (await runtime.basins.upsert_basin("rest", description="")).description == ""  # cleared, not refused
    await runtime.basins.delete_basin("rest")
    with pytest.raises(InvalidInput, match="^each keyword must not be empty$"):
        await runtime.basins.upsert_basin("sleep", keywords=["rest", ""])
    for empty in ("", "  "):
        with pytest.raises(InvalidInput, match="^basin must not be empty: give a basin name or id$"):
            await runtime.basins.activate_basin(empty, 0.5)
    assert (await runtime.basins.list_basins()).total == 0


async def test_a_listing_gives_the_operations_default_page(runtime):
    default = ListBasins.model_fields["limit"].default
    for i in range(default + 1):
        await runtime.basins.upsert_basin(f"basin{i:03d}")
    listing = await runtime.basins.list_basins()
    assert (len(listing.basins), listing.total) == (default, default + 1)


async def test_related_on_no_basins_is_empty(runtime):
    assert await runtime.basins.related("anything at all") == []


async def test_related_gives_five_by_default_with_relevance_rounded_to_six_places(runtime):
    for i in range(7):
        await runtime.basins.upsert_basin(f"basin{i}", keywords=["alpha", "river"])
    # Each basin has three terms and the query three words, one of them shared: 1/3.
    related = await runtime.basins.related("alpha delta omega")
    assert [(v.name, r) for v, r in related] == [(f"basin{i}", 0.333333) for i in range(5)]
    assert len(await runtime.basins.related("alpha delta omega", limit=7)) == 7


def test_semantic_relevance_maps_the_cosine_range_onto_zero_to_one():
    assert semantic_relevance(0.24, (0.08, 0.4)) == pytest.approx(0.5)
    assert semantic_relevance(0.16, (0.08, 0.4)) == pytest.approx(0.25)
    assert semantic_relevance(0.05, (0.08, 0.4)) == 0.0
    assert semantic_relevance(0.9, (0.08, 0.4)) == 1.0


class Counting(Embedder):
    """The real model, with the batches the service asks it for written down."""

    def __init__(self, inner: Embedder):
        self.inner, self.batches = inner, []
        self.name, self.setting, self.dim, self.cosine_range = inner.name, inner.setting, inner.dim, inner.cosine_range

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.embed(texts)


@pytest.mark.meaning
async def test_basins_are_embedded_once_and_again_only_when_their_text_changes(runtime):
    embedder = Counting(create_embedder("minilm"))
    service = BasinService(runtime.store.basins, HALF_LIFE, embedder=embedder)
    query = "I slumber poorly after an espresso"
    assert await service.related(query) == [] and embedder.batches == []  # no basins: nothing embedded
    await service.upsert_basin("rest", description="sleep, naps and recovery")
    await service.upsert_basin("taxes", description="forms, deductions and deadlines")
    first = dict((v.name, r) for v, r in await service.related(query))
    assert first.get("rest", 0) > first.get("taxes", 0) and first["rest"] > 0
    assert sorted(embedder.batches[0]) == sorted(["rest\nsleep, naps and recovery", "taxes\nforms, deductions and deadlines", query])
    assert embedder.batches[0][-1] == query  # the text is embedded last, with the stale basins
    await service.related(query)
    assert embedder.batches[1:] == [[query]]
    await service.upsert_basin("taxes", keywords=["irs", "refund"])
    after = dict((v.name, r) for v, r in await service.related(query))
    assert embedder.batches[2:] == [["taxes\nforms, deductions and deadlines\nirs refund", query]]
    # A caller that has the text's vector already: nothing is embedded, and the figures agree.
    vector = embedder.inner.embed([query])[0]
    calls = len(embedder.batches)
    given = dict((v.name, r) for v, r in await service.related(query, vector=vector))
    assert len(embedder.batches) == calls and given == after
