from __future__ import annotations

import pytest

from dionysus_mcp.cognition.basins import ACTIVE_THRESHOLD, decayed, saturate
from dionysus_mcp.errors import InvalidInput, NotFound


async def test_activation_saturates_and_stays_in_unit_interval(runtime):
    await runtime.basins.upsert_basin("focus", keywords=["attention"])
    levels = []
    for _ in range(20):
        result = await runtime.basins.activate_basin("focus", 0.9)
        levels.append(result.basin.activation)
    assert levels == sorted(levels)  # never goes down while activated
    assert all(0.0 < x <= 1.0 for x in levels)
    assert levels[-1] > 0.999


async def test_activation_decays_with_half_life(runtime, clock):
    await runtime.basins.upsert_basin("focus")
    await runtime.basins.activate_basin("focus", 0.8)
    clock.advance(runtime.settings.basin_half_life_s)
    [view] = (await runtime.basins.list_basins()).basins
    assert view.activation == pytest.approx(0.4, abs=1e-6)
    clock.advance(runtime.settings.basin_half_life_s)
    [view] = (await runtime.basins.list_basins()).basins
    assert view.activation == pytest.approx(0.2, abs=1e-6)


async def test_activation_spreads_in_proportion_to_link_weight(runtime):
    for name in ("focus", "calm", "play"):
        await runtime.basins.upsert_basin(name)
    await runtime.basins.link_basins("focus", "calm", 1.0)
    await runtime.basins.link_basins("play", "focus", 0.2)  # spreads against link direction too
    result = await runtime.basins.activate_basin("focus", 0.8)
    spread = {s.name: s.activation for s in result.spread}
    assert spread["calm"] == pytest.approx(0.4)
    assert spread["play"] == pytest.approx(0.08)
    assert spread["calm"] > spread["play"]


async def test_coactivated_basins_strengthen_their_link(runtime):
    await runtime.basins.upsert_basin("focus")
    await runtime.basins.upsert_basin("calm")
    await runtime.basins.activate_basin("calm", 0.9)
    result = await runtime.basins.activate_basin("focus", 0.9)
    [link] = result.strengthened_links
    assert (link.source, link.target) == ("focus", "calm") and link.weight > 0
    again = await runtime.basins.activate_basin("focus", 0.9)
    assert again.strengthened_links[0].weight > link.weight


async def test_unknown_basin_names_it_and_close_matches(runtime):
    await runtime.basins.upsert_basin("focus")
    with pytest.raises(NotFound) as err:
        await runtime.basins.activate_basin("focs", 0.5)
    assert "'focs'" in str(err.value) and "focus" in str(err.value)


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.5])
async def test_strength_must_be_in_half_open_unit_interval(runtime, strength):
    await runtime.basins.upsert_basin("focus")
    with pytest.raises(InvalidInput):
        await runtime.basins.activate_basin("focus", strength)


async def test_upsert_keeps_identity_and_activation(runtime):
    first = await runtime.basins.upsert_basin("focus", "old", ["a"])
    await runtime.basins.activate_basin("focus", 0.5)
    second = await runtime.basins.upsert_basin("focus", "new", ["b", "B"], stability=0.9)
    assert second.id == first.id and second.description == "new" and second.keywords == ["b"]
    assert second.activation == pytest.approx(0.5) and second.stability == 0.9


async def test_list_active_only_and_limit(runtime):
    for name in ("a1", "a2", "a3"):
        await runtime.basins.upsert_basin(name)
    await runtime.basins.activate_basin("a2", 0.6)
    active = await runtime.basins.list_basins(active_only=True)
    assert [b.name for b in active.basins] == ["a2"] and active.total == 1
    everything = await runtime.basins.list_basins(limit=2)
    assert len(everything.basins) == 2 and everything.total == 3
    assert everything.basins[0].name == "a2"


def test_pure_formulas():
    assert saturate(0.0, 1.0) == 1.0 and saturate(0.5, 0.5) == 0.75
    assert decayed(1.0, None, None, 10) == 1.0  # never activated: nothing to decay
    assert ACTIVE_THRESHOLD > 0


async def test_hebbian_strengthening_is_bounded_to_the_most_active_partners(runtime):
    from dionysus_mcp.cognition.basins import HEBBIAN_TOP_K

    for i in range(8):
        await runtime.basins.upsert_basin(f"b{i}")
        await runtime.basins.activate_basin(f"b{i}", 0.2 + 0.1 * i)  # b7 most active
    await runtime.basins.upsert_basin("new")
    result = await runtime.basins.activate_basin("new", 0.9)
    partners = {link.target for link in result.strengthened_links}
    assert partners == {f"b{i}" for i in range(8 - HEBBIAN_TOP_K, 8)}
