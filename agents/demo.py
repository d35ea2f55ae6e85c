"""`dionysus-mcp demo`: seed a small example memory when the store is empty, run one OODA cycle
and one heartbeat, and print what happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.results import HeartbeatResult, OodaResult, TokenReport
from agents.runner import run_heartbeat, run_ooda_cycle

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

DEMO_CONTEXT = (
    "I am preparing for an exam next week and keep losing focus in the afternoons; "
    "notifications and short sleep seem to make it worse. What should I change?"
)

BASINS = [
    ("attention", "Sustaining focus and resisting distraction.", ["focus", "attention", "distraction", "notifications", "concentration"], 0.6),
    ("rest", "Sleep, recovery and energy across the day.", ["sleep", "rest", "fatigue", "nap", "energy"], 0.7),
    ("learning", "How practice turns into lasting skill and knowledge.", ["learning", "study", "practice", "exam", "review"], 0.5),
    ("planning", "Goals, priorities and the shape of the day.", ["plan", "goal", "priority", "schedule", "deadline"], 0.5),
    ("memory-systems", "Encoding, consolidation and recall.", ["memory", "recall", "consolidation", "forgetting", "retrieval"], 0.4),
]
LINKS = [
    ("attention", "rest", 0.6),
    ("attention", "learning", 0.5),
    ("learning", "memory-systems", 0.7),
    ("planning", "attention", 0.4),
    ("rest", "memory-systems", 0.5),
]
MEMORIES = [
    ("Focus fades after lunch on days when sleep was under seven hours; a ten minute walk brings some of it back.", "episodic", 0.7),
    ("Notifications left on during study sessions cut concentration into five minute fragments.", "episodic", 0.8),
    ("Turning off notifications and putting the phone in another room doubled the length of focused study blocks.", "episodic", 0.8),
    ("A twenty minute nap before 3 pm restores energy without hurting night sleep; longer naps leave me groggy.", "semantic", 0.6),
    ("Spaced review beats rereading: recall practice on day 1, 3 and 7 keeps exam material retrievable.", "semantic", 0.7),
    ("Sleep consolidates what was studied during the day; cramming late at night trades memory for hours.", "semantic", 0.7),
    ("Planning the next day's study blocks the evening before makes it easier to start in the morning.", "procedural", 0.5),
    ("The hardest topics go in the morning slot, when attention is freshest; review fits the afternoon.", "procedural", 0.6),
    ("Working in 50 minute blocks with 10 minute breaks kept attention steadier than long unbroken sessions.", "episodic", 0.6),
    ("Caffeine after 2 pm shortened sleep and made the next afternoon's focus worse.", "episodic", 0.5),
    ("Explaining a topic aloud exposes the gaps that rereading hides.", "semantic", 0.5),
    ("A deadline without a plan turns into anxiety; a schedule with priorities turns it into steps.", "semantic", 0.5),
]
WISDOM = [
    ("Protect deep focus by removing distraction before it starts, not by resisting it.", "attention", 0.85),
    ("Sleep is part of learning: guard it before an exam instead of trading it for study hours.", "learning", 0.8),
    ("Put the hardest work where your energy is highest and plan the rest around it.", "planning", 0.7),
]


async def seed_if_empty(runtime: "Runtime") -> bool:
    """Seed the example memory when the store holds no basins and no memories."""
    if await runtime.store.basins.list() or (await runtime.store.memories.stats()).total:
        return False
    for name, description, keywords, stability in BASINS:
        await runtime.basins.upsert_basin(name, description, keywords, stability)
    for source, target, weight in LINKS:
        await runtime.basins.link_basins(source, target, weight)
    for content, kind, importance in MEMORIES:
        await runtime.memory.remember(content, kind=kind, importance=importance)
    for text, domain, confidence in WISDOM:
        await runtime.wisdom.add_wisdom(text, domain, confidence)
    return True


def _tokens(write: Callable[[str], object], tokens: TokenReport) -> None:
    write(
        f"  tokens: {tokens.prompt_tokens} prompt ({tokens.prompt_tokens_unpruned} without pruning, "
        f"-{tokens.reduction_pct:.1f}%), {tokens.completion_tokens} completion, {tokens.model_calls} model calls "
        f"[{tokens.counted_by}]"
    )


def print_ooda(result: OodaResult, write: Callable[[str], object] = print) -> None:
    write(f"OODA cycle {result.trace_id} — model {result.model}, {result.status}, {result.steps} manager steps, {result.duration_s:.2f} s")
    write(f"  decision: {result.decision}")
    for action in result.actions:
        write(f"    - {action}")
    confidence = "n/a" if result.confidence is None else f"{result.confidence:.2f}"
    write(f"  confidence {confidence}; coherence {result.coherence * 100:.1f}% ({result.coherence_status})")
    for phase in result.phases:
        first = (phase.report or "").strip().splitlines()
        summary = next((line for line in first if not line.startswith("###")), "")
        write(f"  {phase.phase:<7} {phase.agent:<14} {phase.status:<8} {phase.steps} steps  trace {phase.trace_id}")
        if summary:
            write(f"          {summary}")
    if result.activated_basins:
        write("  activated: " + ", ".join(f"{a.name} {a.strength:.2f} ({a.agent} step {a.at_step})" for a in result.activated_basins))
    _tokens(write, result.tokens)


def print_heartbeat(result: HeartbeatResult, write: Callable[[str], object] = print) -> None:
    write(
        f"Heartbeat {result.trace_id} — model {result.model}, {result.status}, "
        f"{result.planning_steps} planning + {result.action_steps} action steps, {result.duration_s:.2f} s"
    )
    for line in result.summary.splitlines():
        write(f"  {line}")
    write(f"  coherence {result.coherence * 100:.1f}% ({result.coherence_status})")
    _tokens(write, result.tokens)


async def run_demo(runtime: "Runtime", write: Callable[[str], object] = print) -> tuple[OodaResult, HeartbeatResult]:
    if await seed_if_empty(runtime):
        write(f"Seeded an example memory: {len(BASINS)} basins, {len(MEMORIES)} memories, {len(WISDOM)} principles.")
    write(f"Context: {DEMO_CONTEXT}\n")
    ooda = await run_ooda_cycle(runtime, DEMO_CONTEXT)
    print_ooda(ooda, write)
    write("")
    heartbeat = await run_heartbeat(runtime)
    print_heartbeat(heartbeat, write)
    write(f"\nRun ids: OODA {ooda.trace_id}, heartbeat {heartbeat.trace_id}")
    return ooda, heartbeat
