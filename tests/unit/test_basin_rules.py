"""Basin activation, spreading, Hebbian links, depth, relevance and the input rules, value by
value (formulas in docs/COGNITION.md), on a real SQLite store and a clock the test moves."""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.basins import ACTIVE_THRESHOLD
from dionysus_mcp.config import Settings
from dionysus_mcp.errors import InvalidInput, NotFound

HALF_LIFE = 3600


@pytest.fixture
def settings(tmp_path) -> Settings:
    # These pin the keyword rules value by value; relevance by meaning can only raise a score
    # (max of the two) and is pinned with the embedders' own tests.
    return Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "dionysus.db"), "DIONYSUS_EMBEDDER": "none"})


async def stored(runtime, name):
    return await runtime.store.basins.get(name)


async def test_spread_and_hebbian_values_on_an_existing_reverse_link(runtime):
    await runtime.basins.upsert_basin("x")
    await runtime.basins.upsert_basin("y")
    await runtime.basins.upsert_basin("bystander")
    await runtime.basins.link_basins("y", "x", 0.5)  # only the y→x direction exists
    await runtime.basins.activate_basin("y", 0.6)  # spreads 0.6·0.5·0.5 = 0.15 to x
    result = await runtime.basins.activate_basin("x", 0.5)

    # x: 0.15 + 0.5·(1 − 0.15) = 0.575. Spread to y: push 0.5·0.5·0.5 = 0.125,
    # y: 0.6 + 0.125·(1 − 0.6) = 0.65, delta 0.05.
    assert result.previous_activation == pytest.approx(0.15) and result.basin.activation == pytest.approx(0.575)
    [effect] = result.spread
    assert (effect.name, effect.activation, effect.delta) == ("y", 0.65, 0.05)
    # Hebbian on the existing y→x link (not a new x→y): 0.5 + 0.1·0.5·0.6·(1 − 0.5) = 0.515.
    [link] = result.strengthened_links
    assert (link.source, link.target, link.weight) == ("y", "x", 0.515)
    links = await runtime.store.basins.links()
    assert [(l.weight) for l in links] == [pytest.approx(0.515)] and len(links) == 1
    # Stored: the spread reached y, nothing else moved; only x deepened (0.1·0.5·(1 − 0) = 0.05).
    assert (await stored(runtime, "y")).activation == pytest.approx(0.65)
    assert (await stored(runtime, "bystander")).activation == 0.0
    assert (await stored(runtime, "x")).depth == pytest.approx(0.05)
    assert (await stored(runtime, "y")).depth == pytest.approx(0.06)  # its own activation: 0.1·0.6
    again = await runtime.basins.activate_basin("x", 0.5)
    assert (await stored(runtime, "x")).depth == pytest.approx(0.05 + 0.05 * 0.95)
    assert again.basin.depth == pytest.approx(0.0975)


async def test_reported_activations_are_rounded_to_six_decimals(runtime, clock):
    await runtime.basins.upsert_basin("a")
    await runtime.basins.upsert_basin("b")
    await runtime.basins.link_basins("a", "b", 0.9)
    await runtime.basins.activate_basin("b", 0.3)
    clock.advance(1000)
    decayed_b = 0.3 * 0.5 ** (1000 / HALF_LIFE)
    [view] = [b for b in (await runtime.basins.list_basins()).basins if b.name == "b"]
    assert view.activation == round(decayed_b, 6)
    result = await runtime.basins.activate_basin("a", 0.7)
    after_b = decayed_b + 0.7 * 0.9 * 0.5 * (1 - decayed_b)
    [effect] = result.spread
    assert effect.activation == round(after_b, 6) and effect.delta == round(after_b - decayed_b, 6)


async def test_a_basin_exactly_at_the_threshold_is_active(runtime):
    await runtime.basins.upsert_basin("edge")
    await runtime.basins.activate_basin("edge", ACTIVE_THRESHOLD)  # 0 + 0.1·(1 − 0) = 0.1
    assert [b.name for b in await runtime.basins.active()] == ["edge"]
    assert [b.name for b in (await runtime.basins.list_basins(active_only=True)).basins] == ["edge"]


async def test_related_scores_the_share_of_the_basins_terms_mentioned(runtime):
    await runtime.basins.upsert_basin("attention", keywords=["focus", "distraction"])
    await runtime.basins.upsert_basin("rest", keywords=["sleep"])
    await runtime.basins.upsert_basin("a")  # a stopword only: no terms, never related
    await runtime.basins.upsert_basin("zeal", keywords=["work"])
    related = await runtime.basins.related("I keep losing focus and attention at work")
    # attention: 2 hits / min(3 terms, 5 words) = 2/3; zeal: 1 / min(2, 5) = 0.5.
    assert [(v.name, round(r, 6)) for v, r in related] == [("attention", 0.666667), ("zeal", 0.5)]
    assert [(v.name, r) for v, r in await runtime.basins.related("focus")] == [("attention", 1.0)]
    assert await runtime.basins.related("the and of") == []
    assert len(await runtime.basins.related("focus sleep work", limit=2)) == 2
    # Ties by name.
    assert [v.name for v, _ in await runtime.basins.related("sleep work rest zeal")] == ["rest", "zeal"]


async def test_upsert_rules_and_what_an_update_keeps(runtime, clock):
    for bad, message in [
        ({"name": "  "}, "name must not be empty"),
        ({"name": "x" * 201}, "name is 201 characters; the limit is 200"),
        ({"name": "n", "description": "d" * 5001}, "description is 5001 characters; the limit is 5000"),
        ({"name": "n", "keywords": [f"k{i}" for i in range(51)]}, "51 keywords given; the limit is 50"),
        ({"name": "n", "keywords": ["ok", " "]}, "each keyword must not be empty"),
        ({"name": "n", "stability": 1.5}, "stability must be between 0 and 1, got 1.5"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            await runtime.basins.upsert_basin(**bad)
    first = await runtime.basins.upsert_basin("n", keywords=["Focus", "focus", "calm"], stability=0.8)
    assert first.keywords == ["focus", "calm"] and first.id.startswith("basin-") and len(first.id) == len("basin-") + 12
    created = (await stored(runtime, "n")).created_at
    clock.advance(60)
    second = await runtime.basins.upsert_basin("n", description="again")
    assert second.id == first.id and second.stability == 0.8  # kept when not given
    assert (await stored(runtime, "n")).created_at == created
    assert (await runtime.basins.upsert_basin("fresh")).stability == 0.5


async def test_link_and_list_limits(runtime):
    await runtime.basins.upsert_basin("p")
    await runtime.basins.upsert_basin("q")
    assert (await runtime.basins.link_basins("p", "q", 0.0)).weight == 0.0
    assert (await runtime.basins.link_basins("p", "q", 1.0)).weight == 1.0
    with pytest.raises(InvalidInput, match="weight must be between 0 and 1, got 1.01"):
        await runtime.basins.link_basins("p", "q", 1.01)
    with pytest.raises(InvalidInput, match="^a basin cannot be linked to itself: give two different basins$"):
        await runtime.basins.link_basins("p", "p", 0.5)
    assert len((await runtime.basins.list_basins(limit=1)).basins) == 1
    assert len((await runtime.basins.list_basins(limit=1000)).basins) == 2
    for limit in (0, 1001):
        with pytest.raises(InvalidInput, match=f"limit must be between 1 and 1000, got {limit}"):
            await runtime.basins.list_basins(limit=limit)


async def test_resolving_names_the_problem(runtime):
    await runtime.basins.upsert_basin("focus")
    await runtime.basins.upsert_basin("focal")
    for empty in ("", "   "):
        with pytest.raises(InvalidInput, match="^basin must not be empty: give a basin name or id$"):
            await runtime.basins.resolve(empty)
    with pytest.raises(NotFound) as hinted:
        await runtime.basins.resolve("focu")
    assert str(hinted.value).startswith("Unknown basin 'focu'. Did you mean: ")
    assert "focus, focal" in str(hinted.value) or "focal, focus" in str(hinted.value)
    with pytest.raises(NotFound) as plain:
        await runtime.basins.resolve("zzzzzz")
    assert str(plain.value) == "Unknown basin 'zzzzzz'. Create it with upsert_basin."


async def fixed(runtime, bid: str, name: str) -> None:
    """A basin with a chosen id (neighbours are visited in id order)."""
    from schema.models import Basin

    await runtime.store.basins.upsert(Basin(id=bid, name=name, created_at=runtime.basins.clock()))


async def test_spread_threshold_strongest_direction_and_every_neighbour(runtime):
    await fixed(runtime, "b0", "hub")
    await fixed(runtime, "b1", "faint")
    await fixed(runtime, "b2", "edge")
    await fixed(runtime, "b3", "strong")
    await runtime.basins.link_basins("hub", "faint", 0.015)  # push 0.5·0.015·0.5 < 0.01: dropped
    await runtime.basins.link_basins("hub", "edge", 0.04)  # push 0.5·0.04·0.5 = 0.01 exactly: kept
    await runtime.basins.link_basins("hub", "strong", 0.9)
    await runtime.basins.link_basins("strong", "hub", 0.2)  # the weaker direction does not count
    result = await runtime.basins.activate_basin("hub", 0.5, source="recall")
    assert result.source == "recall"
    assert [(s.name, s.delta) for s in result.spread] == [("edge", 0.01), ("strong", 0.225)]
    assert (await stored(runtime, "faint")).activation == 0.0


async def test_a_partner_exactly_at_the_threshold_strengthens_its_link(runtime, clock):
    await runtime.basins.upsert_basin("p")
    await runtime.basins.upsert_basin("x")
    await runtime.basins.activate_basin("p", ACTIVE_THRESHOLD)  # a_p = 0.1 exactly
    [link] = (await runtime.basins.activate_basin("x", 0.5)).strengthened_links
    assert (link.source, link.target, link.weight) == ("x", "p", round(0.1 * 0.5 * ACTIVE_THRESHOLD, 6))
    clock.advance(60)  # p decays below the threshold: no longer a partner
    assert (await runtime.basins.activate_basin("x", 0.5)).strengthened_links == []


async def test_reported_numbers_are_rounded_to_six_decimals(runtime, clock):
    await runtime.basins.upsert_basin("m")
    await runtime.basins.upsert_basin("n")
    await runtime.basins.activate_basin("m", 0.3)
    clock.advance(1000)
    level = 0.3 * 0.5 ** (1000 / HALF_LIFE)
    result = await runtime.basins.activate_basin("n", 0.7)
    [link] = result.strengthened_links
    assert link.weight == round(0.1 * 0.7 * level, 6)
    again = await runtime.basins.activate_basin("m", 0.2)
    assert again.previous_activation == round(level, 6)
    assert again.basin.last_activated_at == clock.now


async def test_edges_of_the_input_rules_are_accepted(runtime):
    name = "n" * 200
    view = await runtime.basins.upsert_basin(name, keywords=[f"k{i}" for i in range(50)], stability=0.0)
    assert view.name == name and len(view.keywords) == 50 and view.stability == 0.0 and view.description == ""
    assert (await runtime.basins.upsert_basin("top", stability=1.0)).stability == 1.0
    assert (await runtime.basins.activate_basin("top", 1.0)).basin.activation == 1.0
    with pytest.raises(InvalidInput, match=r"^strength must be in \(0, 1\], got 0.0$"):
        await runtime.basins.activate_basin("top", 0.0)


async def test_the_service_keeps_its_own_clock_by_default(runtime):
    from dionysus_mcp.cognition.basins import BasinService

    service = BasinService(runtime.store.basins, HALF_LIFE)
    await service.upsert_basin("own")
    assert (await service.activate_basin("own", 0.5)).basin.last_activated_at.tzinfo is not None


def test_the_candidates_bound_is_where_a_full_activation_has_decayed_to_the_floor():
    from datetime import datetime, timezone

    from dionysus_mcp.cognition.activation import CANDIDATE_FLOOR, active_since, decayed

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    bound = active_since(now, HALF_LIFE)
    assert decayed(1.0, bound, now, HALF_LIFE) == pytest.approx(CANDIDATE_FLOOR, rel=1e-9)
