"""Render a stored run as a readable markdown narrative, sub-runs nested where they happened.

Everything stored is untrusted text (a task, a model's output, a tool's observation, a basin's
name), and a client may render the narrative as CommonMark. So stored text never becomes markup:
in prose `\\`, `<`, `&`, `[`, `]` and backticks are backslash-escaped (no raw HTML, no autolink,
no link or image, no entity, no code span or fence), code sits in a fence longer than any
backtick run inside it, and names sit in code spans that their own backticks cannot close.
Rendered, the narrative shows the stored text as text; read raw, it reads almost as stored.
"""

from __future__ import annotations

import json
import re

from dionysus_mcp.traces.models import TraceDetail

MAX_FIELD = 4_000  # per observation / plan in the narrative; get_trace has the full text
_MARKUP = re.compile(r"([\\<&\[\]`])")
_TICKS = re.compile(r"`+")
_FENCE = re.compile(r"^( {0,3})(~)", re.M)  # a line that would open a ~~~ code block


def _text(text: str) -> str:
    """Stored text as CommonMark prose that shows it literally."""
    return _FENCE.sub(r"\1\\\2", _MARKUP.sub(r"\\\1", text))


def _line(text: str) -> str:
    """Stored text for a single line (a heading, a list item)."""
    return _text(" ".join(text.split()))


def _code(text: str) -> str:
    """A code span holding `text` whatever backticks it contains."""
    text = " ".join(text.splitlines())
    if not text:
        return "` `"
    fence = "`" * (max((len(run) for run in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str, info: str = "") -> list[str]:
    fence = "`" * max(3, max((len(run) for run in _TICKS.findall(text)), default=0) + 1)
    return [fence + info, text, fence]


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + f"\n… ({len(text) - MAX_FIELD} more characters in get_trace)"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in _text(_clip(text)).splitlines())


def _args(arguments) -> str:
    if isinstance(arguments, dict):
        return _line(", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items()))
    return _line(json.dumps(arguments, ensure_ascii=False)) if arguments is not None else ""


def render(trace: TraceDetail, level: int = 1) -> str:
    h = "#" * min(level, 6)
    lines = [f"{h} {_line(trace.agent_name)} — {trace.status}", ""]
    duration = f"{trace.duration_s:.2f} s" if trace.duration_s is not None else "still running"
    lines += [
        f"- trace {_code(trace.id)} (run {_code(trace.run_id)}), model {_code(trace.model or 'unknown')}",
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
            lines += ["", *_fenced(_clip(step.code_action), "python")]
        for call in step.tool_calls:
            lines.append(f"- called {_code(call.name)}({_args(call.arguments)})")
        if step.observations:
            lines += ["", "Observed:", "", _quote(step.observations)]
        if step.error:
            lines += ["", "**Error:**", "", _quote(step.error)]
        if step.final_answer:
            lines += ["", "**Final answer:**", "", _quote(step.final_answer)]
        for b in basins.get(step.step_number, []) if step.step_type == "action" else []:
            lines.append(f"- activated basin {_code(b.basin_name or b.basin_id)} at strength {b.strength:.2f}")
        if step.step_type == "action":
            for sub in children.pop(step.step_number, []):
                lines += ["", render(sub, level + 2)]
    for subs in children.values():  # delegations not tied to a stored step
        for sub in subs:
            lines += ["", render(sub, level + 1)]
    outcome = trace.summary or trace.error
    if outcome:
        lines += ["", f"**Outcome ({trace.status}):**", "", _quote(outcome)]
    return "\n".join(lines)
