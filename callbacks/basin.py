"""Basin activation from recall: what an agent searches for becomes what is active.

On each ActionStep that called `semantic_recall`, the basins related to the query are activated
with a strength proportional to their relevance — by meaning as well as by words
(`BasinService.related`: the larger of keyword overlap and the mapped cosine similarity of the
query and the basin's name, description and keywords), and the activations are recorded in the
callback's state for the run (`BasinState`; the trace store links them to the trace as
ACTIVATED_BASIN {strength, at_step}).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from smolagents.memory import ActionStep

from callbacks.context import RunContext

log = logging.getLogger(__name__)

RECALL_TOOL = "semantic_recall"
# A recall is weaker evidence of focus than an explicit activate_basin call: a fully relevant
# basin gets 0.5, the default strength of an explicit activation.
STRENGTH_PER_RELEVANCE = 0.5
MIN_STRENGTH = 0.05
MAX_BASINS = 3


@dataclass
class Activation:
    """A basin activated because of what the agent did at `step_number` (→ ACTIVATED_BASIN)."""

    basin_id: str
    name: str
    strength: float
    step_number: int
    activation: float  # the basin's activation right after


@dataclass
class BasinState:
    """Owned by the basin_activation callback, one per run."""

    activations: list[Activation] = field(default_factory=list)


def recall_queries(step: ActionStep) -> list[str]:
    queries = []
    for call in step.tool_calls or []:
        if call.name != RECALL_TOOL:
            continue
        args = call.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {"query": args}
        query = args.get("query") if isinstance(args, dict) else None
        if isinstance(query, str) and query.strip():
            queries.append(query)
    return queries


class BasinActivationCallback:
    name = "basin_activation"
    owns = BasinState

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if not isinstance(step, ActionStep) or step.error is not None:
            return  # a failed recall searched nothing
        runtime, state = ctx.runtime, ctx.state(BasinState)
        for query in recall_queries(step):
            for basin, relevance in ctx.call(runtime.basins.related, query, MAX_BASINS):
                strength = round(min(1.0, STRENGTH_PER_RELEVANCE * relevance), 4)
                if strength < MIN_STRENGTH:
                    continue
                result = ctx.call(
                    runtime.basins.activate_basin, basin.name, strength, f"recall by {ctx.agent_name} ({ctx.trace_id})"
                )
                state.activations.append(
                    Activation(basin.id, basin.name, strength, step.step_number, result.basin.activation)
                )
                ctx.record("basin_activation", step.step_number, basin=basin.name, strength=strength, query=query[:200])
                log.info("%s step %d: recall activated basin %s (strength %.2f)", ctx.agent_name, step.step_number, basin.name, strength)
