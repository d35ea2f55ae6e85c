"""The scripted policies: per role, which tool to call next, with which arguments, and how to
compose plans and final answers — all from the transcript the model was sent.

A script is an ordered list of `Move`s (a tool and how to derive its arguments from the task and
the observations so far). The policy takes the first move not yet made; when none is left it
answers. Nothing here is canned output: every plan, argument and answer is built from the task
text and the observations in the prompt, so what a run reports is what its tools returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents import transcript as tx
from agents.base import BUDGET_SPENT
from agents.transcript import Transcript
from callbacks.memory import first_sentence

QUERY_CHARS = 1000

Args = Callable[[Transcript], "dict[str, Any] | str | None"]


@dataclass(frozen=True)
class Move:
    tool: str
    purpose: str
    args: Args  # returns None to skip the move (nothing to do it with)


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: Any
    purpose: str


@dataclass(frozen=True)
class Answer:
    value: Any


@dataclass
class Script:
    role: str
    moves: "list[Move] | Callable[[Transcript], list[Move]]"  # fixed, or derived from the task (its budget)
    answer: Callable[[Transcript], Any]

    def moves_for(self, t: Transcript) -> list[Move]:
        return self.moves(t) if callable(self.moves) else self.moves

    def next(self, t: Transcript, available: set[str] | None = None) -> Call | Answer:
        if t.exchanges and BUDGET_SPENT in (t.exchanges[-1].error or ""):
            return Answer(self.answer(t))
        made = 0
        for move in self.remaining_moves(t, available, with_done=True):
            args = move.args(t.upto(made))
            if made < len(t.exchanges):
                made += 1
                continue
            return Call(move.tool, args, move.purpose)
        return Answer(self.answer(t))

    def remaining_moves(self, t: Transcript, available: set[str] | None = None, with_done: bool = False) -> list[Move]:
        """The moves this run makes (those it can argue for), optionally without those done."""
        moves, made = [], 0
        for move in self.moves_for(t):
            if available is not None and move.tool not in available:
                continue
            if move.args(t.upto(made)) is None:
                continue
            if made < len(t.exchanges):
                made += 1
                if not with_done:
                    continue
            moves.append(move)
        return moves

    def plan(self, t: Transcript, available: set[str] | None = None) -> str:
        """Facts survey and plan, as an LLM would write them: the facts learned (the most recent
        ones; earlier ones are counted), what is still to do, and the plan — long runs of
        similar moves are summarised rather than listed one by one."""
        lines = ["## 1. Facts survey", "### 1.1. Facts given in the task", f"- {_clip(t.context, 300) or '(no task text)'}"]
        if t.exchanges:
            lines.append("### 1.2. Facts that we have learned")
            earlier = len(t.exchanges) - PLAN_FACTS
            if earlier > 0:
                lines.append(f"- ({earlier} earlier observations, above)")
            for e in t.exchanges[-PLAN_FACTS:]:
                fact = tx.headline(e.observation) if e.ok else f"{e.tool} failed: {_clip(e.error or 'no result', 160)}"
                lines.append(f"- {_actor(e)}: {_clip(fact, 200)}")
        todo = self.remaining_moves(t, available)
        lines.append("### 1.3. Facts still to look up")
        lines += [f"- {purpose}" for purpose in _condensed(todo)] or ["- nothing: the observations cover the task"]
        lines.append("## 2. Plan")
        steps = _condensed(todo)
        lines += [f"{i}. {purpose}" for i, purpose in enumerate(steps, 1)]
        lines.append(f"{len(steps) + 1}. Compose the final answer from the observations.")
        return "\n".join(lines)


PLAN_FACTS = 5  # facts a plan restates (the latest); the older ones are in the history above
PLAN_MOVES = 6  # moves a plan spells out before summarising the rest


def _condensed(moves: list[Move]) -> list[str]:
    """The purposes of `moves`: the first PLAN_MOVES, then one line for the repetitive middle,
    then the last move (the closing note)."""
    if len(moves) <= PLAN_MOVES + 2:
        return [m.purpose for m in moves]
    middle = moves[PLAN_MOVES:-1]
    counts: dict[str, int] = {}
    for m in middle:
        counts[m.tool] = counts.get(m.tool, 0) + 1
    kinds = ", ".join(f"{n} × {tool}" for tool, n in counts.items())
    return [
        *(m.purpose for m in moves[:PLAN_MOVES]),
        f"Keep going in the same rhythm for {len(middle)} more steps ({kinds}).",
        moves[-1].purpose,
    ]


def _actor(e: tx.Exchange) -> str:
    """The tool, or for a code action the team member it called."""
    match = re.search(r"\b(\w+)\(task=", e.arguments) if isinstance(e.arguments, str) else None
    return match.group(1) if match else e.tool


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def report(t: Transcript, short: str, details: list[str], notes: list[str] | None = None) -> str:
    """A sub-agent's answer: three parts when a manager asked for them, else short + details."""
    failures = [f"Failed: {e.tool}: {_clip(e.error or '', 160)}" for e in t.exchanges if e.error]
    iwmt = t.latest_iwmt()
    notes = [*(notes or []), *failures, *([f"IWMT: {iwmt}"] if iwmt else [])]
    if t.managed:
        parts = ["### 1. Task outcome (short version):", short, "### 2. Task outcome (extremely detailed version):"]
        parts += [f"- {d}" for d in details]
        parts += ["### 3. Additional context (if relevant):", *([f"- {n}" for n in notes] or ["- none"])]
        return "\n".join(parts)
    return "\n".join([short, *[f"- {d}" for d in [*details, *notes]]])


# --- perception: Observe ----------------------------------------------------------------------


def _perception_capture(t: Transcript) -> dict[str, Any]:
    env = t.last("observe_environment")
    recall = t.last("semantic_recall")
    hits = tx.recall_hits(recall.observation if recall else None)
    return {
        "senses": _clip(tx.headline(env.observation) if env else "a request arrived", 1000),
        "cognitions": _clip(hits[0].text, 1000) if hits else "nothing stored relates to this yet",
        "context": _clip(t.context, 2000) or "OODA observe phase",
    }


def _perception_answer(t: Transcript) -> str:
    env, recall, wisdom, capture = (t.last(n) for n in ("observe_environment", "semantic_recall", "query_wisdom", "mosaeic_capture"))
    hits = tx.recall_hits(recall.observation if recall else None)
    rules = tx.principles(wisdom.observation if wisdom else None)
    basins = sorted({b for h in hits for b in h.basins})
    details = [f"Environment: {tx.headline(env.observation) if env else 'not observed'}"]
    details.append(f"Recalled: {tx.headline(recall.observation) if recall else 'nothing'}")
    details += [f"Memory ({h.relevance:.2f}): {_clip(h.text, 200)}" for h in hits[:3]]
    details.append(f"Recalled basins: {', '.join(basins) or 'none'}")
    details.append(f"Wisdom: {rules[0] if rules else 'none matched'}")
    details.append(f"Captured: {tx.memory_id(capture.observation) if capture else 'nothing'}")
    short = f"Observed {len(hits)} related memories and {len(rules)} principles; basins in play: {', '.join(basins) or 'none'}."
    return report(t, short, details)


PERCEPTION = Script(
    "perception",
    [
        Move("observe_environment", "Observe the environment: basins, memories, coherence, recent runs.", lambda t: {}),
        Move("semantic_recall", "Recall the memories related to the context.", lambda t: {"query": t.context[:QUERY_CHARS], "k": 5}),
        Move("query_wisdom", "Look up the principles that bear on the context.", lambda t: {"topic": t.context[:QUERY_CHARS], "k": 3}),
        Move("mosaeic_capture", "Capture this moment as a MOSAEIC experience.", _perception_capture),
    ],
    _perception_answer,
)


# --- reasoning: Orient ------------------------------------------------------------------------


def _reasoning_query(t: Transcript) -> dict[str, Any]:
    basins = tx.listed(tx.fact(t.task, "Recalled basins"))
    return {"query": " ".join([t.context[:QUERY_CHARS], *basins]).strip(), "k": 5}


def _recalled(t: Transcript) -> list[tx.Hit]:
    """Hits of this run's recalls, without the experience perception captured moments ago: it
    restates the context, so it would always rank first and ground nothing."""
    captured = set(tx.listed(tx.fact(t.task, "Captured")))
    return [h for e in t.all("semantic_recall") for h in tx.recall_hits(e.observation) if h.memory_id not in captured]


def _ranked_basins(t: Transcript) -> list[tuple[str, float]]:
    score: dict[str, float] = {}
    for hit in _recalled(t):
        for b in hit.basins:
            score[b] = score.get(b, 0.0) + hit.relevance
    listing = t.last("list_basins")
    for name, level in tx.basin_activations(listing.observation if listing else None):
        score[name] = score.get(name, 0.0) + level
    return sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))


# Notes the agents write restate a past situation rather than tell what happened in it.
OWN_NOTES = ("OODA decision note", "Context:", "Heartbeat:")


def _reasoning_answer(t: Transcript) -> str:
    wisdom, listing = t.last("query_wisdom"), t.last("list_basins")
    hits = _recalled(t)
    grounding = [h for h in hits if not h.text.startswith(OWN_NOTES)]
    rules = tx.principles(wisdom.observation if wisdom else None)
    ranked = _ranked_basins(t)
    active = tx.basin_activations(listing.observation if listing else None)
    details = [
        f"Relevant basins: {', '.join(name for name, _ in ranked[:5]) or 'none'}",
        f"Top memory: {_clip(grounding[0].text, 200) if grounding else 'none'}",
        f"Principle: {rules[0] if rules else 'none'}",
        f"Active basins: {', '.join(f'{n} {a:.2f}' for n, a in active) or 'none'}",
    ]
    if ranked:
        short = f"Oriented toward '{ranked[0][0]}' (score {ranked[0][1]:.2f}), supported by {len(hits)} memories and {len(rules)} principles."
    else:
        short = "No basin or memory relates to the context yet: orientation rests on the context alone."
    return report(t, short, details)


REASONING = Script(
    "reasoning",
    [
        Move("semantic_recall", "Recall memories for the context and the basins perception found.", _reasoning_query),
        Move("query_wisdom", "Find the principles for the context.", lambda t: {"topic": t.context[:QUERY_CHARS], "k": 3}),
        Move("list_basins", "List the basins active now.", lambda t: {"active_only": True, "limit": 10}),
    ],
    _reasoning_answer,
)


# --- metacognition: Decide --------------------------------------------------------------------


def _focus(t: Transcript) -> str | None:
    basins = tx.listed(tx.fact(t.task, "Relevant basins"))
    return basins[0] if basins else None


def _metacognition_note(t: Transcript) -> dict[str, Any]:
    checks = [tx.coherence(e.observation) for e in t.all("assess_coherence")]
    levels = " -> ".join(f"{c[0] * 100:.1f}%" for c in checks if c) or "unknown"
    focus = _focus(t)
    content = f"OODA decision note. Context: {_clip(t.context, 300)}. Focus: {focus or 'none found'}. Coherence {levels}."
    return {"content": content, "kind": "episodic", "tags": ["ooda", "decision"], "importance": 0.6}


def _metacognition_answer(t: Transcript) -> str:
    checks = [tx.coherence(e.observation) for e in t.all("assess_coherence")]
    checks = [c for c in checks if c]
    act = t.last("activate_basin")
    activated = tx.activation(act.observation if act else None)
    note = t.last("remember")
    focus = _focus(t)
    details = []
    if checks:
        details.append(f"Coherence before: {checks[0][0] * 100:.1f}% ({checks[0][1]})")
        details.append(f"Coherence after: {checks[-1][0] * 100:.1f}% ({checks[-1][1]})")
    details.append(f"Activated: {f'{activated[0]} {activated[1]:.2f} -> {activated[2]:.2f}' if activated else 'nothing'}")
    details.append(f"Recommended focus: {focus or 'none'}")
    details.append(f"Recorded: {tx.memory_id(note.observation) if note else 'nothing'}")
    after = f"{checks[-1][0] * 100:.1f}%" if checks else "unknown"
    short = f"Decide to focus on '{focus}'; coherence now {after}." if focus else f"No basin to focus on; coherence {after}."
    return report(t, short, details)


METACOGNITION = Script(
    "metacognition",
    [
        Move("assess_coherence", "Assess coherence before deciding.", lambda t: {}),
        Move(
            "activate_basin",
            "Activate the basin reasoning ranked first.",
            lambda t: {"basin": f, "strength": 0.5, "source": "metacognition"} if (f := _focus(t)) else None,
        ),
        Move("assess_coherence", "Assess coherence after the activation.", lambda t: {}),
        Move("remember", "Record the decision as an episodic memory.", _metacognition_note),
    ],
    _metacognition_answer,
)


# --- heartbeat --------------------------------------------------------------------------------

BUDGET = re.compile(r"Step budget: (\d+) steps")
HEARTBEAT_DEFAULT_BUDGET = 10
HEARTBEAT_RECALLS_SHOWN = 5  # recalls a heartbeat note or answer details; the rest are counted
HEARTBEAT_RECALL_K = 8  # a heartbeat surveys what a basin holds: a broader view than a lookup's 5


def step_budget(t: Transcript, default: int = HEARTBEAT_DEFAULT_BUDGET) -> int:
    """The step budget the task states ("Step budget: N steps.")."""
    match = BUDGET.search(t.task)
    return int(match.group(1)) if match else default


def _heartbeat_query(n: int) -> Args:
    """Recall number n: the basin at position n of the latest survey (name + keywords). A query
    already asked in this run gets the next basins' names added, so no recall repeats."""

    def args(t: Transcript) -> dict[str, Any]:
        listing = t.last("list_basins")
        basins = tx.basin_activations(listing.observation if listing else None)
        if not basins:
            return {"query": _clip(t.context, QUERY_CHARS), "k": HEARTBEAT_RECALL_K}
        names = [name for name, _ in basins]
        name = names[n % len(names)]
        words = [w for w in tx.basin_keywords(listing.observation if listing else None, name) if w != name]
        asked = {e.arguments.get("query") for e in t.all("semantic_recall") if isinstance(e.arguments, dict)}
        extra: list[str] = []
        query = " ".join([name, *words])
        for k in range(1, len(names)):
            if query not in asked:
                break
            extra.append(names[(n + k) % len(names)])
            query = " ".join([name, *extra, *words])
        return {"query": query, "k": HEARTBEAT_RECALL_K}

    return args


_RECALL_PURPOSES = ("Recall what the most active basin holds.", "Recall what the next basin holds.", "Recall what a third basin holds.")
RECALLS_PER_SURVEY = 3  # a recall's survey is at most three steps old, so memory pruning never hid it
ROUND = 2 + RECALLS_PER_SURVEY  # survey, three recalls, coherence


def _heartbeat_moves(t: Transcript) -> list[Move]:
    """Observe; rounds of survey → three recalls → coherence; then wrap up: observe again (what
    the heartbeat changed), the basins now active, the note. The answer is the budget's last step.
    A budget too small for one round and the wrap-up keeps the round's order and drops the rest."""
    budget = step_budget(t)
    observe = Move("observe_environment", "Observe the environment.", lambda t: {})
    active = Move("list_basins", "See which basins the recalls activated.", lambda t: {"active_only": True, "limit": 5})
    note = Move("remember", "Write a heartbeat note.", _heartbeat_note)
    middle = budget - 5 if budget >= 5 + ROUND else 0  # steps between the first observe and the wrap-up
    moves, recalls = [observe], 0
    for i in range(middle or ROUND):
        round_, position = divmod(i, ROUND)
        if position == 0:
            moves.append(Move("list_basins", "Survey the basins." if round_ == 0 else "Survey the basins again.", lambda t: {"limit": 10}))
        elif position <= RECALLS_PER_SURVEY:
            purpose = _RECALL_PURPOSES[recalls] if recalls < len(_RECALL_PURPOSES) else "Recall what another basin holds."
            moves.append(Move("semantic_recall", purpose, _heartbeat_query(recalls)))
            recalls += 1
        else:
            moves.append(Move("assess_coherence", "Check coherence." if round_ == 0 else "Check coherence again.", lambda t: {}))
    if middle:
        moves += [Move("observe_environment", "Observe the environment again: what the heartbeat changed.", lambda t: {}), active, note]
    else:  # a short budget: as much of one round as fits, the active basins, the note
        room = budget - 1  # the last step answers
        moves = [*moves, active][: room - 1] + [note] if room >= 2 else moves[:room]
    return moves


def _top_fact(hit: tx.Hit) -> str:
    """What a heartbeat reports of a recall: the top memory's first sentence (its headline fact)."""
    return _clip(first_sentence(hit.text), 160)


def _heartbeat_summary(t: Transcript) -> tuple[str, list[str]]:
    env = t.last("observe_environment")
    checks = [c for c in (tx.coherence(e.observation) for e in t.all("assess_coherence")) if c]
    listing = t.last("list_basins")
    active = tx.basin_activations(listing.observation if listing else None)
    recalls = t.all("semantic_recall")
    details = [f"Environment: {tx.headline(env.observation) if env else 'not observed'}"]
    details.append(f"Active basins: {', '.join(f'{n} {a:.2f}' for n, a in active[:5]) or 'none'}")
    if len(recalls) > HEARTBEAT_RECALLS_SHOWN:
        details.append(f"Recalls: {len(recalls)}; the last {HEARTBEAT_RECALLS_SHOWN}:")
    for e in recalls[-HEARTBEAT_RECALLS_SHOWN:]:
        hits = tx.recall_hits(e.observation)
        query = e.arguments.get("query", "") if isinstance(e.arguments, dict) else ""
        details.append(f"Recall {_clip(query, 40)!r}: " + (f"({hits[0].relevance:.2f}) {_top_fact(hits[0])}" if hits else "nothing"))
    if checks:
        trend = checks if len(checks) <= 4 else [checks[0], checks[-1]]
        details.append("Coherence: " + " -> ".join(f"{c[0] * 100:.1f}% ({c[1]})" for c in trend))
    short = (
        f"Heartbeat: {len(active)} active basins"
        + (f", coherence {checks[-1][0] * 100:.1f}%" if checks else "")
        + f", {len(recalls)} recalls."
    )
    return short, details


def _heartbeat_note(t: Transcript) -> dict[str, Any]:
    """A short note: the summary line, the active basins, and the headline fact of the last three
    recalls."""
    short, details = _heartbeat_summary(t)
    active = [d for d in details if d.startswith("Active basins")]
    facts = [_clip(d.split(": ", 1)[-1], 100) for d in details if d.startswith("Recall ")][-3:]
    body = [*active, *([f"Recalled: {'; '.join(facts)}"] if facts else [])]
    return {"content": _clip(" ".join([short, *body]), 500), "kind": "episodic", "tags": ["heartbeat"], "importance": 0.3}


def _heartbeat_answer(t: Transcript) -> str:
    short, details = _heartbeat_summary(t)
    note = t.last("remember")
    return report(t, short, [*details, f"Noted: {tx.memory_id(note.observation) if note else 'nothing'}"])


HEARTBEAT = Script("heartbeat", _heartbeat_moves, _heartbeat_answer)


# --- manager: the OODA loop as code -----------------------------------------------------------

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
    agent, var, instruction = PHASES[index]

    def code(t: Transcript) -> str:
        head = f"{instruction}\nContext: {t.context}"
        if index == 0:
            expr = repr(head)
        else:
            prev_agent, prev_var, _ = PHASES[index - 1]
            prev = t.exchanges[index - 1] if len(t.exchanges) >= index else None
            label = f"\n{prev_agent.capitalize()} reported:\n"
            if prev is not None and prev.ok:
                expr = f"{head + label!r} + {prev_var}"
            else:  # the variable does not exist when the previous phase failed
                why = _clip(prev.error if prev else "it did not run", 300)
                expr = repr(f"{head}{label}({prev_agent} failed: {why})")
        return f"{var} = {agent}(task={expr})\nprint({var})"

    return code


def _phase_reports(t: Transcript) -> dict[str, str]:
    reports = {}
    for e in t.exchanges:
        for agent, _, _ in PHASES:
            if isinstance(e.arguments, str) and f"{agent}(task=" in e.arguments and e.ok:
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
        text = f"Gather more context before acting: nothing stored relates to the situation ({_clip(t.context, 160)})."
    actions = []
    if focus:
        actions.append(f"Keep '{focus}' active" + (f" (activated {activated.split(' ', 1)[-1]})" if activated and activated != "nothing" else ""))
    if memory:
        actions.append(f"Build on the recalled memory: {_clip(memory, 160)}")
    if principle:
        actions.append(f"Apply the principle: {_clip(principle, 160)}")
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


def final_code(value: Any) -> str:
    return f"final_answer({value!r})"


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


SCRIPTS: dict[str, Script] = {s.role: s for s in (PERCEPTION, REASONING, METACOGNITION, HEARTBEAT, MANAGER)}
