"""Coherence values pinned for worked examples, computed by hand from docs/COGNITION.md.

The property tests check bounds and monotonicity; these check the numbers, so a swapped weight,
a wrong pair count or a mis-normalised entropy fails here. Everything goes through the public
services on a real SQLite store and a clock the test moves (half-life 3600 s, the default).

The story: basins alpha (stability 0.8), beta (0.2), gamma (0.5); one memory attached to alpha.
  activate alpha 0.6             -> a = 0.6 (nothing else active: no link made)
  activate beta 0.3              -> a = 0.3; alpha was active at 0.6, so the Hebbian rule makes
                                    beta->alpha = 0.1 · 0.3 · 0.6 = 0.018
  (assessment 1)
  activate gamma 0.5             -> a = 0.5; links gamma->alpha = 0.1 · 0.5 · 0.6 = 0.03 and
                                    gamma->beta = 0.1 · 0.5 · 0.3 = 0.015 (no spreading: gamma had
                                    no link before)
  (assessment 2), one half-life later (assessment 3), two half-lives later (assessment 4)
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dionysus_mcp.cognition.basins import BasinView
from dionysus_mcp.cognition.coherence import combine, interpret, score_components
from schema.models import BasinLink

W = {"integration": 0.30, "stability": 0.20, "focus": 0.20, "continuity": 0.15, "grounding": 0.15}
HALF_LIFE = 3600


def level(c: dict[str, float]) -> float:
    return sum(W[k] * c[k] for k in W)


async def assess(runtime):
    return await runtime.coherence.assess_coherence()


def assert_components(result, expected: dict[str, float]) -> None:
    assert result.status == "ok"
    assert result.components == pytest.approx(expected, abs=1e-6)
    assert result.consciousness_level == pytest.approx(level(expected), abs=2e-6)


@pytest.fixture(autouse=True)
def distinct_assessment_times(runtime, clock):
    """Each assessment a microsecond after the last, while the basins' clock stands still: the
    store picks "the previous assessment" by time, and equal times would leave the pick to ids."""
    ticks = iter(range(1, 1_000_000))
    runtime.coherence.clock = lambda: clock() + timedelta(microseconds=next(ticks))


@pytest.fixture
async def story(runtime):
    await runtime.basins.upsert_basin("alpha", stability=0.8)
    await runtime.basins.upsert_basin("beta", stability=0.2)
    await runtime.basins.upsert_basin("gamma", stability=0.5)
    await runtime.memory.remember("a note about the first basin", basins=["alpha"])
    await runtime.basins.activate_basin("alpha", 0.6)
    await runtime.basins.activate_basin("beta", 0.3)
    return runtime


async def test_one_active_basin_is_integrated_and_focused_by_definition(runtime):
    await runtime.basins.upsert_basin("solo", stability=0.4)
    await runtime.basins.activate_basin("solo", 0.5)
    # |B| = 1: integration 1, focus 1; stability 0.4; continuity 0.5 (first); no memory: grounding 0.
    expected = {"integration": 1.0, "stability": 0.4, "focus": 1.0, "continuity": 0.5, "grounding": 0.0}
    result = await assess(runtime)
    assert_components(result, expected)
    assert result.consciousness_level == pytest.approx(0.30 + 0.08 + 0.20 + 0.075, abs=2e-6)  # 0.655


async def test_no_active_basin_is_insufficient_data_at_level_zero(runtime):
    await runtime.basins.upsert_basin("idle")
    result = await assess(runtime)
    assert result.status == "insufficient_data" and result.consciousness_level == 0.0
    assert result.components == {k: 0.0 for k in W} and result.active_count == 0
    assert result.interpretation.startswith("No basin is active")


async def test_two_basins_first_assessment(story):
    # A = 0.9. integration: one pair, weight 0.018. stability: (0.6·0.8 + 0.3·0.2) / 0.9 = 0.6.
    # focus: p = (2/3, 1/3), H = 0.636514, 1 − H/ln 2 = 0.081704. continuity 0.5 (first).
    # grounding: only alpha has a memory: 0.6 / 0.9 = 0.666667.
    expected = {"integration": 0.018, "stability": 0.6, "focus": 0.081704, "continuity": 0.5, "grounding": 0.666667}
    result = await assess(story)
    assert_components(result, expected)
    assert result.components == expected  # reported to 6 decimals
    assert result.consciousness_level == 0.316741
    assert re.fullmatch(r"coh-[0-9a-f]{12}", result.snapshot_id)
    assert [(b.name, b.activation) for b in result.active_basins] == [("alpha", 0.6), ("beta", 0.3)]


async def test_three_basins_then_decay_across_half_lives(story, clock):
    await assess(story)  # {alpha, beta}: the previous active set of the next assessment
    await story.basins.activate_basin("gamma", 0.5)

    # A = 1.4. integration: (0.018 + 0.03 + 0.015) / 3 pairs = 0.021.
    # stability: (0.48 + 0.06 + 0.25) / 1.4 = 0.564286.
    # focus: p = (3/7, 3/14, 5/14), H = 1.060944, 1 − H/ln 3 = 0.034287.
    # continuity: |{a,b}| / |{a,b,g}| = 2/3. grounding: 0.6 / 1.4 = 0.428571.
    second = await assess(story)
    assert_components(second, {"integration": 0.021, "stability": 0.564286, "focus": 0.034287,
                               "continuity": 0.666667, "grounding": 0.428571})
    assert second.consciousness_level == pytest.approx(0.290300, abs=2e-6)
    assert second.active_count == 3

    # One half-life: every activation halves (0.3, 0.15, 0.25), all still ≥ 0.1, so the shares —
    # and stability, focus, grounding — are unchanged; the same set again: continuity 1.
    clock.advance(HALF_LIFE)
    third = await assess(story)
    assert [(b.name, b.activation) for b in third.active_basins] == [("alpha", 0.3), ("gamma", 0.25), ("beta", 0.15)]
    assert_components(third, {"integration": 0.021, "stability": 0.564286, "focus": 0.034287,
                              "continuity": 1.0, "grounding": 0.428571})
    assert third.consciousness_level == pytest.approx(0.340300, abs=2e-6)

    # Two half-lives: alpha 0.15, gamma 0.125, beta 0.075 < 0.1 drops out. A = 0.275.
    # integration: the one pair gamma–alpha, 0.03. stability: (0.12 + 0.0625) / 0.275 = 0.663636.
    # focus: p = (6/11, 5/11), 1 − H/ln 2 = 0.005970. continuity: 2/3. grounding: 0.15/0.275 = 0.545455.
    clock.advance(HALF_LIFE)
    fourth = await assess(story)
    assert [b.name for b in fourth.active_basins] == ["alpha", "gamma"]
    assert_components(fourth, {"integration": 0.03, "stability": 0.663636, "focus": 0.005970,
                               "continuity": 0.666667, "grounding": 0.545455})
    assert fourth.consciousness_level == pytest.approx(0.324739, abs=2e-6)


# --- the pure parts, at their edges -------------------------------------------------------------


def basin(i: int, activation: float, stability: float = 0.5) -> BasinView:
    return BasinView(id=f"b{i}", name=f"b{i}", description="", keywords=[], activation=activation,
                     stability=stability, depth=0.0, last_activated_at=None)


def test_no_basins_score_zero_but_continuity_without_history():
    assert score_components([], [], {}, None) == {"integration": 0.0, "stability": 0.0, "focus": 0.0,
                                                  "continuity": 0.5, "grounding": 0.0}
    assert score_components([], [], {}, [])["continuity"] == 0.0  # nothing before, nothing now


def test_a_basin_at_zero_activation_adds_no_entropy():
    # p = (1, 0): the zero share contributes nothing (0 · ln 0 is taken as 0): fully focused.
    components = score_components([basin(0, 0.5), basin(1, 0.0)], [], {}, None)
    assert components["focus"] == 1.0


def test_one_active_basin_is_wholly_integrated_and_focused():
    components = score_components([basin(0, 0.4)], [], {}, None)
    assert components["integration"] == 1.0 and components["focus"] == 1.0


def test_a_link_to_a_basin_outside_the_active_set_adds_no_integration():
    # Only pairs of active basins count: a link with one end outside (b9), either way, is not a pair.
    active = [basin(0, 0.5), basin(1, 0.5)]
    outside = [BasinLink(source_id="b0", target_id="b9", weight=1.0), BasinLink(source_id="b9", target_id="b1", weight=1.0)]
    assert score_components(active, outside, {}, None)["integration"] == 0.0


def test_out_of_range_inputs_are_clamped_into_the_unit_interval():
    # A stability above 1 (written by another version, say) cannot push a component past 1.
    assert score_components([basin(0, 0.5, stability=2.0)], [], {}, None)["stability"] == 1.0
    assert score_components([basin(0, 0.5), basin(1, 0.5)], [BasinLink(source_id="b0", target_id="b1", weight=3.0)],
                            {}, None)["integration"] == 1.0
    three = [basin(0, 0.5), basin(1, 0.5), basin(2, 0.5)]
    # Each pair's weight is clamped before the mean: (1 + 0 + 0) / 3 pairs, not 3 / 3.
    assert score_components(three, [BasinLink(source_id="b0", target_id="b1", weight=3.0)], {}, None)[
        "integration"] == pytest.approx(1 / 3, abs=1e-6)
    assert combine({k: 2.0 for k in W}) == 1.0
    assert combine({k: 0.5 for k in W}) == 0.5


def test_interpretation_bands():
    assert interpret(0.0, "insufficient_data").startswith("No basin is active")
    assert interpret(0.75, "ok").startswith("Highly coherent:")
    assert interpret(0.749999, "ok") == "Moderately coherent."
    assert interpret(0.5, "ok") == "Moderately coherent."
    assert interpret(0.499999, "ok").startswith("Low coherence:")


async def test_the_service_keeps_its_own_clock_by_default(runtime):
    from dionysus_mcp.cognition.coherence import CoherenceService

    await runtime.basins.upsert_basin("solo")
    await runtime.basins.activate_basin("solo", 0.5)
    result = await CoherenceService(runtime.store.snapshots, runtime.basins, runtime.store.memories).assess_coherence()
    assert result.status == "ok" and result.assessed_at.tzinfo is not None
