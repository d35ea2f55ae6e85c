"""Render a stored run as a readable markdown narrative, sub-runs nested where they happened."""

from __future__ import annotations

import json

from dionysus_mcp.traces.models import TraceDetail

MAX_FIELD = 4_000  # per observation / plan in the narrative; get_trace has the full text


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + f"\n… ({len(text) - MAX_FIELD} more characters in get_trace)"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in _clip(text).splitlines())


def _args(arguments) -> str:
    if isinstance(arguments, dict):
        return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return json.dumps(arguments, ensure_ascii=False) if arguments is not None else ""


def render(trace: TraceDetail, level: int = 1) -> str:
    h = "#" * min(level, 6)
    lines = [f"{h} {trace.agent_name} — {trace.status}", ""]
    duration = f"{trace.duration_s:.2f} s" if trace.duration_s is not None else "still running"
    lines += [
        f"- trace `{trace.id}` (run `{trace.run_id}`), model `{trace.model or 'unknown'}`",
        f"- started {trace.started_at.isoformat()}, {duration}, {trace.step_count} steps",
        f"- tokens: {trace.total_tokens.input_tokens} prompt, {trace.total_tokens.output_tokens} completion"
        f" (incl. sub-runs); pruning saved {trace.total_tokens.pruned_tokens_saved}",
    ]
    if trace.task:
        lines += ["", "**Task**", "", _quote(trace.task)]
    children = {}
    for sub in trace.sub_runs:
        children.setdefault(sub.parent_step, []).append(sub)
    basins = {}
    for b in trace.activated_basins:
        basins.setdefault(b.at_step, []).append(b)

    for step in trace.steps:
        if step.step_type == "task" and (step.observations or "").strip() == trace.task.strip():
            continue  # the task step repeats the task shown above
        lines += ["", f"{h}# Step {step.step_number} · {step.step_type.replace('_', ' ')}"]
        if step.plan:
            lines += ["", _quote(step.plan)]
        if step.code_action:
            lines += ["", "```python", _clip(step.code_action), "```"]
        for call in step.tool_calls:
            lines.append(f"- called `{call.name}`({_args(call.arguments)})")
        if step.observations:
            lines += ["", "Observed:", "", _quote(step.observations)]
        if step.error:
            lines += ["", f"**Error:** {_clip(step.error)}"]
        if step.final_answer:
            lines += ["", "**Final answer:**", "", _quote(step.final_answer)]
        for b in basins.get(step.step_number, []) if step.step_type == "action" else []:
            lines.append(f"- activated basin `{b.basin_name or b.basin_id}` at strength {b.strength:.2f}")
        if step.step_type == "action":
            for sub in children.pop(step.step_number, []):
                lines += ["", render(sub, level + 2)]
    for subs in children.values():  # delegations not tied to a stored step
        for sub in subs:
            lines += ["", render(sub, level + 1)]
    outcome = trace.summary or trace.error
    if outcome:
        lines += ["", f"**Outcome ({trace.status}):** {_clip(outcome)}"]
    return "\n".join(lines)
