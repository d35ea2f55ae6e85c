#!/usr/bin/env python
"""Token savings of memory pruning on real HeartbeatAgent runs (issue 5, item 1).

    python scripts/benchmark_token_usage.py                 # 10 steps, a table
    python scripts/benchmark_token_usage.py --steps 30 --json
    python scripts/benchmark_token_usage.py --ci            # the gate at 10 steps; exit 1 if missed

What runs: the real HeartbeatAgent (smolagents ToolCallingAgent with the project's prompt
templates and the default callback registry) driven by the scripted model, with a step budget of
N — the task states it and the agent gets max_steps=N; it plans before steps 1, 4, 7, … — against
a fresh embedded SQLite store seeded with scripts/token_corpus.py. It runs three times, identical
except for what happens to old observations and plans:

    none         no pruning (the memory_pruning callback removed): the baseline
    placeholder  old observations and superseded plans replaced by one fixed placeholder, as
                 context-editing APIs clear old tool results (PlaceholderPruningCallback)
    pruning      the project's MemoryPruningCallback: extractive "[PRUNED]" summaries

Both pruning policies have the same eligibility (observations of steps older than
AGENT_MEMORY_WINDOW and longer than 200 characters; plans once a newer plan exists; planning
calls see every long observation but the latest one shortened). Every run gets the same seed
data, the same ids (uuid4 from a seeded generator) and the same deterministic clock (a fixed
start, one second per reading), so basin decay and timestamps do not differ between runs.

What is counted: every model call's prompt, planning calls included, exactly as the model
received it — the messages (role + text) and, on tool-calling calls, the JSON schemas of the
tools sent with the request — with the o200k_base BPE tokenizer (bpe-openai). The scripted model
counts each call when it is made; the figures are sums of those counts. Reductions compare the
pruning run's counts with the baseline run's (not an estimate; the pruning run's own "as if not
pruned" counterfactual is printed next to it as a cross-check).

Fact retention: the observations a policy may replace are those of steps older than the window
at the final call and longer than 200 characters. For each, its headline facts are taken from
the ORIGINAL observation and looked up, by exact string containment, in the final prompt:
    1. the headline: the first line, up to its first sentence end;
    2. the top item: the first line after it that is a list item ("1. …", "- …"), without the
       marker and a leading "(0.87)" relevance, up to its first sentence end.
A sentence ends at ".", "!" or "?" followed by whitespace or the end of the line, at least 20
characters in. An observation is retained when all its headline facts are present.
`item_retention_pct` is stricter: the share of the first sentences of ALL items (every recalled
memory, every basin line) present in the final prompt.

Pairing: in the final prompt every tool-call message is immediately followed by a non-empty
tool-response message, and every earlier action step has its tool call there or is listed in the
rolling digest (steps past the second horizon fold with their call and result together).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402

import token_baselines  # noqa: E402
import token_corpus  # noqa: E402

POLICIES = ("none", "placeholder", "pruning")
DEFAULT_STEPS = 10
TARGETS = {10: 35.0, 30: 65.0, 100: 85.0}  # cumulative reduction, %
RETENTION_TARGET = 95.0
CI_STEPS = 10
CI_GATE = {"cumulative_reduction_pct": 30.0, "final_prompt_reduction_pct": 60.0, "fact_retention_pct": 95.0}
CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ID_SEED = 5

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ITEM = re.compile(r"^(?:\d+\.|-)\s+(?:\(\d+(?:\.\d+)?\)\s+)?")
MIN_SENTENCE = 20


# --- headline facts -----------------------------------------------------------------------------


def first_sentence(text: str) -> str:
    text = text.strip()
    for match in _SENTENCE_END.finditer(text):
        if match.start() + 1 >= MIN_SENTENCE:
            return text[: match.start() + 1]
    return text


def _lines(observation: str) -> list[str]:
    return [line.strip() for line in observation.splitlines() if line.strip()]


def item_sentences(observation: str) -> list[str]:
    """The first sentence of every list item line, without its marker and relevance."""
    return [first_sentence(_ITEM.sub("", line)) for line in _lines(observation)[1:] if _ITEM.match(line)]


def headline_facts(observation: str) -> list[str]:
    lines = _lines(observation)
    if not lines:
        return []
    facts = [first_sentence(lines[0])]
    items = item_sentences(observation)
    if items:
        facts.append(items[0])
    return facts


# --- one run --------------------------------------------------------------------------------------


@dataclass
class Call:
    kind: str
    step: int
    prompt_tokens: int


@dataclass
class PolicyRun:
    policy: str
    status: str
    action_steps: int
    planning_steps: int
    calls: list[Call]
    final_prompt: str
    final_messages: list[Any]
    candidates: list[tuple[int, str]]  # (step, original observation) a policy may have replaced
    pruned_observations: int
    pruned_plans: int
    actions: list[tuple[int, str, str]]  # (step, tool, arguments as JSON)
    counterfactual: dict[str, Any]
    callback_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.contextmanager
def deterministic_ids(seed: int) -> Iterator[None]:
    """uuid4 from a seeded generator: memory, basin and trace ids are the same in every run, so
    the runs differ only in what the policies do (an id's token count varies with its digits)."""
    rng = random.Random(seed)
    original = uuid.uuid4
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)  # type: ignore[assignment]
    try:
        yield
    finally:
        uuid.uuid4 = original  # type: ignore[assignment]


class SteppingClock:
    """A deterministic clock: CLOCK_START, then one second later at every reading. Every run reads
    it in the same order, so basin decay and "latest" orderings are the same in every run (wall
    time would make activations differ in the last digit between runs)."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        return CLOCK_START + timedelta(seconds=self.readings)


def install_clock(runtime: Any) -> None:
    clock = SteppingClock()
    for service in (runtime.basins, runtime.memory, runtime.coherence, runtime.wisdom, runtime.environment):
        service.clock = clock


async def seed(runtime: Any) -> None:
    for name, description, keywords, stability in token_corpus.BASINS:
        await runtime.basins.upsert_basin(name, description, keywords, stability)
    for source, target, weight in token_corpus.LINKS:
        await runtime.basins.link_basins(source, target, weight)
    for content, kind, importance in token_corpus.MEMORIES:
        await runtime.memory.remember(content, kind=kind, importance=importance)
    for text, domain, confidence in token_corpus.WISDOM:
        await runtime.wisdom.add_wisdom(text, domain, confidence)


def registry_for(policy: str, settings: Any, pruning_options: dict[str, Any] | None = None) -> Any:
    """The default registry, with the memory-pruning callback kept, removed, or swapped for the
    placeholder policy — nothing else differs. `pruning_options` switch parts of the pruning
    policy off (--levers)."""
    from callbacks import default_registry
    from callbacks.pruning import MemoryPruningCallback, PlaceholderPruningCallback
    from callbacks.registry import CallbackRegistry, callback_name

    base = default_registry(settings)
    registry = CallbackRegistry()
    placeholder = PlaceholderPruningCallback(window=settings.memory_window)
    variant = MemoryPruningCallback(window=settings.memory_window, **pruning_options) if pruning_options else None
    swapped = 0
    for entry in base.entries():  # in registration order, which honours each declared `after`
        callback, after = entry.callback, entry.after
        if callback_name(callback) == "memory_pruning":
            swapped += 1
            assert isinstance(callback, MemoryPruningCallback)
            if policy == "none":
                continue
            if policy == "placeholder":
                callback = placeholder
            elif variant is not None:
                callback = variant
            registry.set_prompt_view(callback)  # the policy's own prompt view
        elif policy == "none":
            after = tuple(dep for dep in after if dep != "memory_pruning")
        registry.register(entry.step_type, callback, entry.agents, after)
    if not swapped:
        raise RuntimeError("the default registry has no memory_pruning callback")
    return registry


def tool_call_pairing(messages: list[Any], action_steps_before: int) -> list[str]:
    """Problems with tool-call/tool-response pairing in a prompt (empty: all paired)."""
    from callbacks.tokens import message_role, message_text

    roles = [message_role(m) for m in messages]
    problems = []
    for i, role in enumerate(roles):
        if role == "tool-call":
            if i + 1 >= len(roles) or roles[i + 1] != "tool-response":
                problems.append(f"tool call at message {i} has no tool response after it")
            elif not message_text(messages[i + 1]).strip():
                problems.append(f"tool response at message {i + 1} is empty")
        elif role == "tool-response" and (i == 0 or roles[i - 1] != "tool-call"):
            problems.append(f"tool response at message {i} follows no tool call")
    calls = roles.count("tool-call")
    folded = folded_steps(messages)  # steps folded into the digest left with their call and result
    if calls + len(folded) != action_steps_before:
        problems.append(f"{calls} tool calls and {len(folded)} folded steps in the prompt for {action_steps_before} earlier action steps")
    return problems


def folded_steps(messages: list[Any]) -> set[int]:
    """The step numbers the prompt's rolling digest lists (callbacks/rolling_digest.py)."""
    from callbacks.rolling_digest import MARK, parse_digest
    from callbacks.tokens import message_text

    texts = [message_text(m) for m in messages]
    return {n for t in texts if MARK in t for n, *_ in parse_digest(t[t.index(MARK):])}


async def run_policy(policy: str, steps: int, window: int, workdir: Path, pruning_options: dict[str, Any] | None = None) -> PolicyRun:
    from smolagents.memory import ActionStep

    from agents.heartbeat import build_heartbeat, heartbeat_task
    from agents.scripted import ScriptedModel
    from callbacks.context import RunGroup
    from callbacks.pruning import MIN_LENGTH, PruningState
    from callbacks.tokens import TokenState
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    folder = Path(tempfile.mkdtemp(prefix=f"{policy}-", dir=workdir))
    settings = Settings.from_env(
        {
            "DIONYSUS_DB_PATH": str(folder / "store.db"),
            "DIONYSUS_OUTBOX_PATH": str(folder / "outbox.db"),
            "AGENT_MEMORY_WINDOW": str(window),
        }
    )
    with deterministic_ids(ID_SEED):
        async with open_runtime(settings) as runtime:
            install_clock(runtime)
            await seed(runtime)
            group = RunGroup(runtime, "scripted")
            model = ScriptedModel("heartbeat")
            agent = build_heartbeat(runtime, model, group, registry_for(policy, settings, pruning_options), max_steps=steps)
            started = time.perf_counter()
            await anyio.to_thread.run_sync(agent.run, heartbeat_task(steps))
            seconds = time.perf_counter() - started
    ctx = group.root
    actions = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    calls, step = [], 0
    for received in model.calls:
        step += received.kind != "plan"
        calls.append(Call(received.kind, step + (received.kind == "plan"), received.usage.input_tokens))
    last = model.calls[-1]
    final_step = len([c for c in model.calls if c.kind != "plan"])
    candidates = []
    for s in actions:
        if s.step_number > final_step - window - 1:
            continue  # inside the window at the final call: no policy touches it
        original = ctx.state(PruningState).original_observation(s.step_number, s.observations) or ""
        if len(original) > MIN_LENGTH:
            candidates.append((s.step_number, original))
    totals = ctx.state(TokenState).totals()
    return PolicyRun(
        policy=policy,
        status=ctx.status,
        action_steps=ctx.action_steps,
        planning_steps=ctx.planning_steps,
        calls=calls,
        final_prompt=last.prompt,
        final_messages=last.messages,
        candidates=candidates,
        pruned_observations=len(ctx.state(PruningState).pruned),
        pruned_plans=len(ctx.state(PruningState).pruned_plans),
        actions=[(s.step_number, tc.name, json.dumps(tc.arguments, sort_keys=True)) for s in actions for tc in (s.tool_calls or [])],
        counterfactual={
            "prompt_tokens": totals.prompt_tokens,
            "unpruned_prompt_tokens": totals.unpruned_prompt_tokens,
            "reduction_pct": totals.reduction_pct,
        },
        callback_errors=[f"{e.detail.get('callback')}: {e.detail.get('error')}" for e in ctx.events if e.kind == "callback_error"],
        seconds=seconds,
    )


# --- figures --------------------------------------------------------------------------------------


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def figures(run: PolicyRun, baseline: PolicyRun) -> dict[str, Any]:
    cumulative = sum(c.prompt_tokens for c in run.calls)
    base_cumulative = sum(c.prompt_tokens for c in baseline.calls)
    final = run.calls[-1].prompt_tokens
    base_final = baseline.calls[-1].prompt_tokens
    retained = [all(f in run.final_prompt for f in headline_facts(original)) for _, original in run.candidates]
    items = [s for _, original in run.candidates for s in item_sentences(original)]
    pairing = tool_call_pairing(run.final_messages, sum(c.kind == "tool_call" for c in run.calls) - 1)
    return {
        "status": run.status,
        "action_steps": run.action_steps,
        "planning_calls": sum(c.kind == "plan" for c in run.calls),
        "model_calls": len(run.calls),
        "cumulative_prompt_tokens": cumulative,
        "final_prompt_tokens": final,
        "cumulative_reduction_pct": round(100.0 - pct(cumulative, base_cumulative), 2),
        "final_prompt_reduction_pct": round(100.0 - pct(final, base_final), 2),
        "fact_retention_pct": pct(sum(retained), len(retained)) if retained else 100.0,
        "item_retention_pct": pct(sum(s in run.final_prompt for s in items), len(items)) if items else 100.0,
        "old_observations": len(run.candidates),
        "pruned_observations": run.pruned_observations,
        "pruned_plans": run.pruned_plans,
        "pairing_ok": not pairing,
        "pairing_problems": pairing,
        "same_actions_as_none": run.actions == baseline.actions,
        "first_different_action": first_difference(run.actions, baseline.actions),
        "in_run_counterfactual": run.counterfactual,
        "callback_errors": run.callback_errors,
        "seconds": round(run.seconds, 2),
        "prompt_growth_tokens_per_step": prompt_growth(run.calls),
        "calls": [{"kind": c.kind, "step": c.step, "prompt_tokens": c.prompt_tokens} for c in run.calls],
    }


def prompt_growth(calls: list[Call]) -> float:
    """The slope of the curve: how many tokens each action call's prompt grows per step (least
    squares over the second half of the run, where the growth is steady)."""
    points = [(c.step, c.prompt_tokens) for c in calls if c.kind != "plan"]
    points = points[len(points) // 2 :]
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / var, 1) if var else 0.0


def first_difference(actions: list[tuple[int, str, str]], baseline: list[tuple[int, str, str]]) -> dict[str, Any] | None:
    """The first tool call (step, tool) that differs from the baseline run's, if any: the policies
    see different prompts, and a policy that lost a fact may act differently on it."""
    for mine, theirs in zip(actions, baseline):
        if mine != theirs:
            same_tool = mine[1] == theirs[1]
            return {"step": mine[0], "tool": mine[1], "what": "arguments" if same_tool else f"tool (baseline: {theirs[1]})"}
    if len(actions) != len(baseline):
        return {"step": min(len(actions), len(baseline)) + 1, "tool": None, "what": "number of steps"}
    return None


async def measure(steps: int, window: int, with_levers: bool = False) -> dict[str, Any]:
    from callbacks.tokens import ENCODING_NAME

    runs: dict[str, PolicyRun] = {}
    with tempfile.TemporaryDirectory(prefix="dionysus-tokens-") as tmp:
        for policy in POLICIES:
            runs[policy] = await run_policy(policy, steps, window, Path(tmp))
    policies = {name: figures(run, runs["none"]) for name, run in runs.items()}
    levers = await measure_levers(steps, window) if with_levers else None
    main = policies["pruning"]
    # Issue 9: against stock smolagents, and on an OODA cycle too (scripts/token_baselines.py).
    totals = {name: policies[name]["cumulative_prompt_tokens"] for name in ("none", "pruning")}
    baselines = await token_baselines.measure(
        steps, window, totals, run_policy, lever_off, registry_for, _prepare, lambda: deterministic_ids(ID_SEED)
    )
    return {
        "steps": steps,
        "cumulative_reduction_pct": main["cumulative_reduction_pct"],
        "final_prompt_reduction_pct": main["final_prompt_reduction_pct"],
        "fact_retention_pct": main["fact_retention_pct"],
        "reduction_pct": main["cumulative_reduction_pct"],
        "pairing_ok": all(p["pairing_ok"] for p in policies.values()),
        "policies": policies,
        "setup": {
            "agent": "HeartbeatAgent",
            "model": "scripted",
            "encoding": ENCODING_NAME,
            "memory_window": window,
            "planning_interval": 3,
            "corpus": {
                "basins": len(token_corpus.BASINS),
                "memories": len(token_corpus.MEMORIES),
                "principles": len(token_corpus.WISDOM),
            },
        },
        "target_cumulative_reduction_pct": TARGETS.get(steps),
        "target_fact_retention_pct": RETENTION_TARGET,
        **({"levers": levers} if levers is not None else {}),
        "ours_vs_stock_reduction_pct": baselines["heartbeat"]["ours_vs_stock_pct"],
        "templates_alone_reduction_pct": baselines["heartbeat"]["templates_alone_pct"],
        "ooda_pruning_reduction_pct": baselines["ooda_cycle"]["pruning_alone_pct"],
        "ooda_ours_vs_stock_reduction_pct": baselines["ooda_cycle"]["ours_vs_stock_pct"],
        "baselines": baselines,
    }


async def _prepare(runtime: Any) -> None:
    install_clock(runtime)
    await seed(runtime)


@contextlib.contextmanager
def lever_off(name: str) -> Iterator[dict[str, Any] | None]:
    """Switch one lever off for both runs of a comparison; yields pruning options, if any."""
    import agents.scripts.heartbeat as heartbeat_script
    import callbacks.pruning as memory_module
    from agents.base import GroupCodeAgent, GroupToolCallingAgent

    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attr: str, value: Any) -> None:
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    options: dict[str, Any] | None = None
    if name == "default_prompts":
        patch(GroupToolCallingAgent, "default_templates", None)
        patch(GroupCodeAgent, "default_templates", None)
    elif name == "plans_kept":
        options = {"plans": False}
    elif name == "planning_inputs_whole":
        options = {"planning_inputs": False}
    elif name == "item_heads":
        patch(memory_module, "MAX_ITEMS", 3)
    elif name == "recall_k5":
        patch(heartbeat_script, "HEARTBEAT_RECALL_K", 5)
    else:
        raise ValueError(f"unknown lever {name!r}")
    try:
        yield options
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


LEVERS = {
    "default_prompts": "smolagents' default prompt templates instead of ours",
    "plans_kept": "superseded plans kept whole",
    "planning_inputs_whole": "planning calls see observations unsummarised (window only)",
    "item_heads": "summaries also keep the heads of two more items",
    "recall_k5": "heartbeat recalls 5 memories instead of 8",
}


async def measure_levers(steps: int, window: int) -> dict[str, Any]:
    """Cumulative / final-prompt reduction and retention with one lever switched off at a time
    (both runs of each comparison get the same switch)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dionysus-levers-") as tmp:
        for name in LEVERS:
            with lever_off(name) as options:
                none = await run_policy("none", steps, window, Path(tmp))
                pruning = await run_policy("pruning", steps, window, Path(tmp), options)
            f = figures(pruning, none)
            out[name] = {key: f[key] for key in ("cumulative_reduction_pct", "final_prompt_reduction_pct", "fact_retention_pct")}
            out[name]["baseline_cumulative_prompt_tokens"] = sum(c.prompt_tokens for c in none.calls)
    return out


def gate_failures(result: dict[str, Any]) -> list[str]:
    failures = []
    for key, threshold in CI_GATE.items():
        value = result[key]
        if value < threshold:
            failures.append(f"{key} = {value:.2f}% < {threshold:.0f}% (short by {threshold - value:.2f} points)")
    if not result["pairing_ok"]:
        failures.append("tool-call pairing broken: " + "; ".join(p for pol in result["policies"].values() for p in pol["pairing_problems"]))
    errors = [e for pol in result["policies"].values() for e in pol["callback_errors"]]
    if errors:
        failures.append("callback errors: " + "; ".join(errors))
    return failures


def print_table(result: dict[str, Any]) -> None:
    setup = result["setup"]
    print(
        f"HeartbeatAgent, {result['steps']} steps, scripted model, window {setup['memory_window']}, "
        f"{setup['encoding']} tokens; corpus {setup['corpus']['basins']} basins / {setup['corpus']['memories']} memories"
    )
    header = f"{'policy':<12} {'calls':>5} {'cumulative':>11} {'reduction':>9} {'final':>7} {'reduction':>9} {'retention':>9} {'items':>7} {'paired':>6} {'same acts':>9}"
    print(header)
    print("-" * len(header))
    for name, p in result["policies"].items():
        print(
            f"{name:<12} {p['model_calls']:>5} {p['cumulative_prompt_tokens']:>11,} {p['cumulative_reduction_pct']:>8.1f}% "
            f"{p['final_prompt_tokens']:>7,} {p['final_prompt_reduction_pct']:>8.1f}% {p['fact_retention_pct']:>8.1f}% "
            f"{p['item_retention_pct']:>6.1f}% {'yes' if p['pairing_ok'] else 'NO':>6} {'yes' if p['same_actions_as_none'] else 'no':>9}"
        )
    print(
        "(reductions vs none; retention = old observations whose headline facts are in the final prompt; "
        "items = every item's first sentence; same acts = the same tool calls as none)"
    )
    pruning = result["policies"]["pruning"]
    cf = pruning["in_run_counterfactual"]
    print(
        f"pruning run's own counterfactual (its prompts with originals restored): {cf['prompt_tokens']:,} vs "
        f"{cf['unpruned_prompt_tokens']:,} tokens, -{cf['reduction_pct']:.1f}%"
    )
    print(
        "slope of the curve (tokens each action prompt grows per step, second half): "
        + ", ".join(f"{name} {p['prompt_growth_tokens_per_step']:,.1f}" for name, p in result["policies"].items())
    )
    if "levers" in result:
        print("with one lever switched off (pruning vs none, both runs switched):")
        for name, f in result["levers"].items():
            print(
                f"  {LEVERS[name]:<62} cumulative {f['cumulative_reduction_pct']:5.1f}%  final {f['final_prompt_reduction_pct']:5.1f}%  "
                f"retention {f['fact_retention_pct']:5.1f}%  (baseline {f['baseline_cumulative_prompt_tokens']:,} tokens)"
            )
    token_baselines.print_baselines(result["baselines"])
    target = result["target_cumulative_reduction_pct"]
    if target is not None:
        verdict = "met" if result["cumulative_reduction_pct"] >= target else f"missed by {target - result['cumulative_reduction_pct']:.2f} points"
        print(f"target at {result['steps']} steps: cumulative >= {target:.0f}% -> {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help=f"heartbeat step budget (default {DEFAULT_STEPS})")
    parser.add_argument("--window", type=int, default=3, help="AGENT_MEMORY_WINDOW (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--levers", action="store_true", help="also measure with each lever switched off, one at a time")
    parser.add_argument("--ci", action="store_true", help=f"gate at {CI_STEPS} steps: exit 1 unless " + ", ".join(f"{k} >= {v:.0f}%%" for k, v in CI_GATE.items()))
    args = parser.parse_args(argv)
    if args.ci and (args.steps not in (None, CI_STEPS) or args.window != 3):
        parser.error(f"--ci runs at {CI_STEPS} steps with the default window 3; drop --steps and --window")
    steps = args.steps or DEFAULT_STEPS
    if steps < 1:
        parser.error("--steps must be at least 1")
    result = anyio.run(measure, steps, args.window, args.levers)
    failures = gate_failures(result) if args.ci else []
    if args.ci:
        result["ci"] = {"gate": CI_GATE, "passed": not failures, "failures": failures}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
        if args.ci:
            print("CI gate: " + ("passed" if not failures else "FAILED"))
    for failure in failures:
        print(f"CI gate failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
