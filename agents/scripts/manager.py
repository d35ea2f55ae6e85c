"""The manager: the OODA loop as code. It calls perception, reasoning and metacognition in turn,
each given the previous phase's report, and answers with a decision built from the three reports."""

from __future__ import annotations

from typing import Any

from agents import transcript as tx
from agents.scripts.moves import Args, Move, Script, clip
from agents.transcript import Transcript


PHASES = (
    (
        "perception",
        "observed",
        "Observe phase of an OODA cycle. Gather what the cognitive layer holds that bears on the context "
        "(environment, related memories, principles) and capture the moment as a MOSAEIC experience.",
    ),
    (
        "reasoning",
        "oriented",
        "Orient phase of an OODA cycle. Work out which basins, memories and principles matter most for "
        "the context, given what perception reported.",
    ),
    (
        "metacognition",
        "decided",
        "Decide phase of an OODA cycle. Check coherence, activate the basin to focus on and record the "
        "decision, given what reasoning reported.",
    ),
)


def _phase_code(index: int) -> Args:
    """A CodeAgent's step (code passing the last report on through its variable), or a
    ToolCallingAgent's call (the report's text written into the task)."""
    agent, var, instruction = PHASES[index]

    def code(t: Transcript) -> str | dict[str, str]:
        head = f"{instruction}\nContext: {t.context}"
        if t.tool_calling:
            if index == 0:
                return {"task": head}
            prev_agent = PHASES[index - 1][0]
            prev = t.exchanges[index - 1] if len(t.exchanges) >= index else None
            said = prev.observation if prev is not None and prev.ok else f"({prev_agent} failed: {clip(prev.error if prev else 'it did not run', 300)})"
            return {"task": f"{head}\n{prev_agent.capitalize()} reported:\n{said}"}
        if index == 0:
            expr = repr(head)
        else:
            prev_agent, prev_var, _ = PHASES[index - 1]
            prev = t.exchanges[index - 1] if len(t.exchanges) >= index else None
            label = f"\n{prev_agent.capitalize()} reported:\n"
            if prev is not None and prev.ok:
                expr = f"{head + label!r} + {prev_var}"
            else:  # the variable does not exist when the previous phase failed
                why = clip(prev.error if prev else "it did not run", 300)
                expr = repr(f"{head}{label}({prev_agent} failed: {why})")
        return f"{var} = {agent}(task={expr})\nprint({var})"

    return code


def _phase_reports(t: Transcript) -> dict[str, str]:
    reports = {}
    for e in t.exchanges:
        for agent, _, _ in PHASES:
            called = e.tool == agent or isinstance(e.arguments, str) and f"{agent}(task=" in e.arguments
            if called and e.ok:
                reports[agent] = e.observation or ""
    return reports


def decision(t: Transcript) -> dict[str, Any]:
    """The decision, built from the three reports in the transcript.

    confidence = 0.5 × coherence after deciding + 0.3 if a memory grounds the focus + 0.2 if a
    principle applies: coherence says how integrated the world model is; memory and principle
    say whether the decision rests on anything stored.
    """
    reports = _phase_reports(t)
    oriented, decided = reports.get("reasoning", ""), reports.get("metacognition", "")
    focus = tx.fact(decided, "Recommended focus") or (tx.listed(tx.fact(oriented, "Relevant basins")) or [None])[0]
    focus = None if focus in (None, "none") else focus
    memory = tx.fact(oriented, "Top memory")
    memory = None if memory in (None, "none") else memory
    principle = tx.fact(oriented, "Principle") or tx.fact(reports.get("perception", ""), "Wisdom")
    principle = None if principle in (None, "none", "none matched") else principle
    after = tx.fact(decided, "Coherence after")
    level = tx.coherence(f"Coherence {after}") if after else None
    activated = tx.fact(decided, "Activated")
    if focus:
        text = f"Focus on '{focus}', the basin the team found most relevant to the situation."
        if memory:
            text += f" Start from what was recalled: {memory}"
        if principle:
            text += f" Principle to apply: {principle}"
    elif missing := [a for a, _, _ in PHASES if a not in reports]:
        text = f"No decision yet: the cycle stopped before {', '.join(missing)} reported."
    else:
        text = f"Gather more context before acting: nothing stored relates to the situation ({clip(t.context, 160)})."
    actions = []
    if focus:
        actions.append(f"Keep '{focus}' active" + (f" (activated {activated.split(' ', 1)[-1]})" if activated and activated != "nothing" else ""))
    if memory:
        actions.append(f"Build on the recalled memory: {clip(memory, 160)}")
    if principle:
        actions.append(f"Apply the principle: {clip(principle, 160)}")
    actions.append(f"Re-assess coherence after acting (now {after or 'unknown'})")
    missing = [a for a, _, _ in PHASES if a not in reports]
    if missing:
        actions.append(f"Re-run the phases that did not report: {', '.join(missing)}")
    confidence = 0.5 * (level[0] if level else 0.0) + (0.3 if memory else 0.0) + (0.2 if principle else 0.0)
    return {"decision": text.strip(), "actions": actions, "confidence": round(min(1.0, confidence), 2)}


MANAGER = Script(
    "manager",
    [
        Move("perception", "Observe: ask perception what the layer holds about the context.", _phase_code(0)),
        Move("reasoning", "Orient: ask reasoning to interpret perception's report.", _phase_code(1)),
        Move("metacognition", "Decide: ask metacognition to decide from reasoning's report.", _phase_code(2)),
    ],
    decision,
)
