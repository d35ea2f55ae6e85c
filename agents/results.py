"""What `run_ooda_cycle` and `run_heartbeat` return (pydantic, so MCP serves them as structured output).

Only pydantic at import time: the MCP server imports this module at start-up for the tools'
output schemas, while smolagents loads on the first run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from callbacks.context import RunContext
    from callbacks.tokens import TokenTotals


class TokenReport(BaseModel):
    prompt_tokens: int = Field(description="Prompt tokens of every model call, as sent (after pruning).")
    prompt_tokens_unpruned: int = Field(description="The same prompts with every pruned observation restored.")
    saved_tokens: int
    reduction_pct: float = Field(description="saved_tokens / prompt_tokens_unpruned, in percent.")
    completion_tokens: int
    model_calls: int
    counted_by: str = Field(description="Where the prompt/completion counts come from.")
    estimated_calls: int = Field(0, description="Model calls whose provider reported no usage: counted with the tokenizer.")

    @classmethod
    def of(cls, totals: TokenTotals, counted_by: str) -> "TokenReport":
        return cls(
            prompt_tokens=totals.prompt_tokens,
            prompt_tokens_unpruned=totals.unpruned_prompt_tokens,
            saved_tokens=totals.saved_tokens,
            reduction_pct=totals.reduction_pct,
            completion_tokens=totals.completion_tokens,
            model_calls=totals.model_calls,
            counted_by=counted_by,
            estimated_calls=totals.estimated_calls,
        )


class ActivatedBasin(BaseModel):
    basin_id: str
    name: str
    strength: float
    at_step: int
    agent: str
    trace_id: str

    @classmethod
    def all_of(cls, contexts: list[RunContext]) -> list["ActivatedBasin"]:
        """What the basin callback recorded in each run (its `BasinState`), in run order."""
        from callbacks.basin import BasinState  # after a run: smolagents is loaded by then

        return [
            cls(basin_id=a.basin_id, name=a.name, strength=a.strength, at_step=a.step_number, agent=c.agent_name, trace_id=c.trace_id)
            for c in contexts
            for a in c.state(BasinState).activations
        ]


class PhaseReport(BaseModel):
    phase: Literal["observe", "orient", "decide"]
    agent: str = Field(description="The sub-agent that ran the phase.")
    status: str = Field(description="success, max_steps, error, cancelled, or not_run.")
    report: str | None = Field(description="What the sub-agent reported (its final answer), or its error.")
    steps: int
    trace_id: str | None = Field(description="The sub-run's trace id (a child of the cycle's trace).")
    prompt_tokens: int
    completion_tokens: int


class OodaResult(BaseModel):
    trace_id: str = Field(description="The run's id; its trace holds every step.")
    model: str = Field(description="The model that ran the agents, e.g. 'scripted' or 'openai:gpt-4o-mini'.")
    status: str = Field(description="success, or max_steps when the manager ran out of steps.")
    decision: str
    actions: list[str]
    confidence: float | None = Field(description="The manager's confidence in [0, 1], when it gave one.")
    coherence: float = Field(description="consciousness_level assessed right after the cycle.")
    coherence_status: str
    phases: list[PhaseReport]
    failed_phases: list[str] = Field(
        default_factory=list, description="Phases whose sub-agent failed (e.g. its model endpoint); the manager decided without them."
    )
    activated_basins: list[ActivatedBasin]
    tokens: TokenReport = Field(description="All model calls of the manager and its sub-agents.")
    steps: int = Field(description="The manager's action steps.")
    duration_s: float


class HeartbeatResult(BaseModel):
    trace_id: str
    model: str
    status: str
    summary: str
    planning_steps: int
    action_steps: int
    activated_basins: list[ActivatedBasin]
    coherence: float
    coherence_status: str
    tokens: TokenReport
    duration_s: float
