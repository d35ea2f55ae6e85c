"""The rules of activation, defined once: decay, saturation, spreading, Hebbian strengthening
and depth (formulas in docs/COGNITION.md).

`plan_activation` is a pure function of the basins one activation touches — the target, the
basins linked to it and the candidates for the active set — so the store can call it inside
the transaction that reads them and writes its result (store/read_modify_write.py): two
processes activating at once serialize in the store, and neither loses the other's update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from dionysus_mcp.store.read_modify_write import ActivationPlan, ActivationSnapshot
from schema.models import ActivationUpdate, BasinLink

ACTIVE_THRESHOLD = 0.1  # a basin counts as active at or above this activation
# `view` rounds activation to 6 decimals before the threshold test: a candidate query must
# include what rounds up to it.
CANDIDATE_FLOOR = ACTIVE_THRESHOLD - 1e-6
SPREAD_FACTOR = 0.5  # share of an activation passed one hop along a link of weight 1
MIN_SPREAD = 0.01  # spreads weaker than this are dropped
HEBBIAN_RATE = 0.1  # how fast co-activated basins strengthen their link
# Only the most active co-active basins strengthen their link with the one activated: with every
# active basin, links grew as n² (12,000 after 90 activations of 200 basins) and every
# coherence assessment paid for reading them all.
HEBBIAN_TOP_K = 5
DEPTH_RATE = 0.1  # how fast repeated activation deepens a basin


def decayed(activation: float, since: datetime | None, now: datetime, half_life_s: float) -> float:
    if since is None or activation <= 0.0:
        return max(0.0, activation)
    elapsed = max(0.0, (now - since).total_seconds())
    return min(1.0, activation * 0.5 ** (elapsed / half_life_s))


def saturate(current: float, strength: float) -> float:
    """Move `current` toward 1 by `strength` of the remaining headroom: never exceeds 1."""
    return min(1.0, current + strength * (1.0 - current))


def active_since(now: datetime, half_life_s: float) -> datetime:
    """The earliest last activation a basin active `now` can have: decay only lowers the stored
    activation (at most 1), which falls below the threshold after half_life · log2(1 /
    threshold). The bound is widened by the rounding of the views."""
    return now - timedelta(seconds=half_life_s * math.log2(1.0 / CANDIDATE_FLOOR))


@dataclass(frozen=True)
class ActivationOutcome:
    """What an activation did, by basin id: the target's activation before, each spread (id,
    after, before), each strengthened link, and the names of the basins it wrote."""

    previous: float
    spread: list[tuple[str, float, float]]
    strengthened: list[BasinLink]
    names: dict[str, str]


def plan_activation(snapshot: ActivationSnapshot, strength: float, now: datetime, half_life_s: float) -> ActivationPlan:
    """The activation of `snapshot.target` by `strength` at `now`: its new activation, one hop
    of spreading along its links, Hebbian strengthening with the most active co-active basins,
    and its depth."""
    basins, target = snapshot.basins, snapshot.target.id
    before = {bid: decayed(b.activation, b.last_activated_at, now, half_life_s) for bid, b in basins.items()}
    after = {target: saturate(before[target], strength)}

    # One hop of spreading, along links in either direction (the stronger one counts).
    neighbour_weight: dict[str, float] = {}
    for link in snapshot.links:
        other = link.target_id if link.source_id == target else link.source_id
        neighbour_weight[other] = max(neighbour_weight.get(other, 0.0), link.weight)
    spread = []
    for other, weight in sorted(neighbour_weight.items()):
        push = strength * weight * SPREAD_FACTOR
        if push < MIN_SPREAD or other not in basins or other == target:
            continue
        after[other] = saturate(before[other], push)
        spread.append((other, after[other], before[other]))

    # Hebbian strengthening with the most active basins that were already active.
    by_pair = {(l.source_id, l.target_id): l for l in snapshot.links}
    partners = sorted(
        (other for other in snapshot.candidates if other != target and other in before and before[other] >= ACTIVE_THRESHOLD),
        key=lambda other: (-before[other], other),
    )[:HEBBIAN_TOP_K]
    strengthened = []
    for other in sorted(partners):
        # Strengthen the link that exists (in whichever direction), else create target→other.
        reverse = (other, target)
        key = reverse if reverse in by_pair and (target, other) not in by_pair else (target, other)
        old = by_pair[key].weight if key in by_pair else 0.0
        new = min(1.0, old + HEBBIAN_RATE * strength * before[other] * (1.0 - old))
        strengthened.append(BasinLink(source_id=key[0], target_id=key[1], weight=new))

    def depth(bid: str) -> float:
        own = basins[bid].depth
        return min(1.0, own + (DEPTH_RATE * strength * (1.0 - own) if bid == target else 0.0))

    updates = [
        ActivationUpdate(basin_id=bid, activation=after[bid], depth=depth(bid), last_activated_at=now)
        for bid in sorted(after)
        if after[bid] != before[bid] or bid == target
    ]
    plan = ActivationPlan(updates, strengthened)
    names = {bid: basins[bid].name for bid in plan.written if bid in basins}
    return ActivationPlan(updates, strengthened, ActivationOutcome(before[target], spread, strengthened, names))
