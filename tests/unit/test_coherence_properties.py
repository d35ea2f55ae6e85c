"""Property tests of the coherence formula (pure function, no store)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dionysus_mcp.cognition.basins import BasinView
from dionysus_mcp.cognition.coherence import WEIGHTS, combine, score_components
from schema.models import BasinLink

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def worlds(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    basins = [
        BasinView(
            id=f"b{i}", name=f"b{i}", description="", keywords=[],
            activation=draw(st.floats(min_value=0.1, max_value=1.0)), stability=draw(unit), depth=0.0,
            last_activated_at=None,
        )
        for i in range(n)
    ]
    links = [
        BasinLink(source_id=f"b{i}", target_id=f"b{j}", weight=draw(unit))
        for i in range(n) for j in range(n) if i != j and draw(st.booleans())
    ]
    counts = {f"b{i}": draw(st.integers(0, 3)) for i in range(n)}
    previous = draw(st.one_of(st.none(), st.lists(st.sampled_from([f"b{i}" for i in range(8)]), max_size=5)))
    return basins, links, counts, previous


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_bounded_and_deterministic(world):
    components = score_components(*world)
    assert set(components) == set(WEIGHTS)
    assert all(0.0 <= v <= 1.0 for v in components.values())
    level = combine(components)
    assert 0.0 <= level <= 1.0
    assert score_components(*world) == components and combine(components) == level


@settings(max_examples=200, deadline=None)
@given(worlds(), st.data())
def test_more_integration_never_lowers_the_level(world, data):
    basins, links, counts, previous = world
    if len(basins) < 2:
        return
    before = combine(score_components(basins, links, counts, previous))
    i, j = data.draw(st.sampled_from([(a, b) for a in range(len(basins)) for b in range(len(basins)) if a != b]))
    extra = BasinLink(source_id=f"b{i}", target_id=f"b{j}", weight=data.draw(unit))
    after_components = score_components(basins, [*links, extra], counts, previous)
    assert combine(after_components) >= before - 1e-9


def test_fully_linked_focused_grounded_world_scores_high():
    basins = [
        BasinView(id=f"b{i}", name=f"b{i}", description="", keywords=[], activation=a, stability=0.9, depth=0.0, last_activated_at=None)
        for i, a in enumerate([0.9, 0.3])
    ]
    links = [BasinLink(source_id="b0", target_id="b1", weight=1.0)]
    strong = combine(score_components(basins, links, {"b0": 2, "b1": 1}, ["b0", "b1"]))
    weak = combine(score_components(basins, [], {}, []))
    assert strong > 0.8 and weak < 0.5 and strong > weak
