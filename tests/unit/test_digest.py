"""The rolling digest (callbacks/digest.py): steps past the second horizon fold into one message
that keeps every folded step's call and headline facts, in order, and leaves the remaining calls
paired with their results."""

from __future__ import annotations

from smolagents.memory import ActionStep, TaskStep
from smolagents.utils import AgentToolExecutionError

from agents.base import quiet_logger
from agents.transcript import Transcript
from callbacks.digest import MARK, digest_text, fold, headline_facts, parse_digest
from callbacks.memory import MemoryPruningCallback, PruningState
from callbacks.tokens import message_role, message_text
from tests.unit.test_callbacks import action, agent_ctx, group, planning  # noqa: F401 - fixtures


def recall(n: int, top: str) -> str:
    return "\n".join(
        [
            f"Recall 'query {n}': 3 of 40 memories; basins: b{n % 4}, rest. Found in {n} ms.",
            f"1. (0.90) {top} More about it follows here. [episodic; basins: b{n % 4}; mem-{n:04d}]",
            f"2. (0.50) Second item of step {n}. [semantic; basins: rest; mem-x{n:03d}]",
        ]
    )


def run_steps(agent, ctx, count: int, fold_after: int = 4):
    tops = ["Alpha fact stays the same across recalls.", "Beta fact is another memory entirely."]
    steps = [
        action(n, args={"query": f"query {n}", "k": 8, "note": 'quote " and ": inside ✓'}, observations=recall(n, tops[n % 2]))
        for n in range(1, count + 1)
    ]
    pruning = MemoryPruningCallback(window=3, fold_after=fold_after)
    originals = {s.step_number: s.observations for s in steps}
    superseded = planning("[PRUNED] Superseded plan (step 1).")
    agent.memory.steps = [TaskStep(task="t"), superseded, *steps[:3], planning("The current plan."), *steps[3:]]
    for step in steps:
        pruning(step, agent, ctx)
    return pruning, steps, originals


def test_folded_steps_leave_with_their_calls_and_the_digest_keeps_their_facts_in_order(agent_ctx):
    agent, ctx = agent_ctx
    pruning, steps, originals = run_steps(agent, ctx, 20)
    assert sorted(ctx.state(PruningState).folded) == list(range(1, 17))  # older than 4 steps after step 20
    view = pruning.prompt_view(agent.memory.steps, ctx)
    messages = [m for s in view for m in s.to_messages()]
    roles = [message_role(m) for m in messages]
    for i, role in enumerate(roles):
        if role == "tool-call":
            assert roles[i + 1] == "tool-response" and message_text(messages[i + 1]).strip()
        if role == "tool-response":
            assert roles[i - 1] == "tool-call"
    digests = [message_text(m) for m in messages if message_text(m).startswith(MARK)]
    assert len(digests) == 1 and roles.count("tool-call") == 4  # 16 folded + 4 paired = 20
    digest = digests[0]
    for n in range(1, 17):
        for fact in headline_facts(originals[n]):
            assert fact in digest  # every headline fact of every folded step, once at least
    listed = parse_digest(digest)
    assert [n for n, *_ in listed] == list(range(1, 17))
    assert [args for _, _, args, _ in listed] == [s.tool_calls[0].arguments for s in steps[:16]]
    # Facts shared with an earlier step are written once and read back whole.
    assert digest.count("Alpha fact stays the same across recalls.") == 1 and "(as step 2)" in digest
    assert [facts for *_, facts in listed] == ["\n".join(headline_facts(originals[n])) for n in range(1, 17)]
    # A superseded plan before the last folded step left too, the current plan stays; memory
    # keeps everything.
    assert sum(isinstance(s, ActionStep) for s in agent.memory.steps) == 20
    assert message_text(messages[0]) == "New task:\nt" and message_text(messages[1]) == digest
    assert message_text(messages[2]) == "The current plan." and not any("Superseded" in message_text(m) for m in messages)


def test_the_transcript_reads_folded_steps_back_as_exchanges(agent_ctx):
    agent, ctx = agent_ctx
    pruning, steps, _ = run_steps(agent, ctx, 12)
    messages = [m for s in pruning.prompt_view(agent.memory.steps, ctx) for m in s.to_messages()]
    t = Transcript.from_messages(messages)
    assert t.task == "t" and len(t.exchanges) == 12
    assert [e.arguments for e in t.exchanges] == [s.tool_calls[0].arguments for s in steps]
    assert t.exchanges[0].observation.splitlines()[1].startswith("1. (0.90) Beta fact")


def test_an_error_folds_as_its_first_sentence(agent_ctx):
    agent, ctx = agent_ctx
    failed = action(1, error=AgentToolExecutionError("Unknown basin 'planning-x' here. Create it first.\nmore", quiet_logger()))
    entry = fold(failed, None)
    assert entry.facts == ["Error: Unknown basin 'planning-x' here."]
    (listed,) = parse_digest(digest_text([entry]))
    assert listed[:2] == (1, "semantic_recall") and listed[3] == "Error: Unknown basin 'planning-x' here."


def test_no_folding_inside_the_horizon_or_when_switched_off(agent_ctx):
    agent, ctx = agent_ctx
    run_steps(agent, ctx, 4)
    assert ctx.state(PruningState).folded == {}
    ctx.state(PruningState).folded.clear()
    pruning, _, _ = run_steps(agent, ctx, 12, fold_after=None)
    assert ctx.state(PruningState).folded == {} and pruning.prompt_view(agent.memory.steps, ctx) == agent.memory.steps
