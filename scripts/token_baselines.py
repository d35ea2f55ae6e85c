"""The honest baselines of the token benchmark (issue 9, item 5), for scripts/benchmark_token_usage.py.

The headline `cumulative_reduction_pct` is pruning alone: both arms on OUR compact templates.
A user who switches from stock smolagents saves more, and part of that is the templates, not
pruning. This module measures, on the same deterministic setup (seed data, ids, clock):

    heartbeat   stock      smolagents' default templates, no pruning (what a user starts from)
                ours_none  our templates, no pruning           (= the benchmark's `none` policy)
                ours       our templates + pruning             (= the benchmark's `pruning` policy)
    ooda_cycle  the same three arms on one OODA cycle: the ConsciousnessManager (CodeAgent)
                delegating to perception, reasoning and metacognition; every model call of the
                manager and its sub-agents is counted (the token callback, o200k_base).

and reports for each: pruning alone (ours vs ours_none), templates alone (ours_none vs stock),
ours vs stock (templates + pruning against stock smolagents), and the system prompt of every
agent with our templates and with the defaults.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

OODA_CONTEXT = (
    "The release is in two weeks, two senior engineers are on leave, and the incident queue doubled "
    "since the last deploy. What should the team focus on?"
)


def _reduction(part: int, whole: int) -> float:
    return round(100.0 - 100.0 * part / whole, 2) if whole else 0.0


def comparisons(stock: int, ours_none: int, ours: int) -> dict[str, Any]:
    return {
        "stock_prompt_tokens": stock,
        "ours_unpruned_prompt_tokens": ours_none,
        "ours_prompt_tokens": ours,
        "pruning_alone_pct": _reduction(ours, ours_none),
        "templates_alone_pct": _reduction(ours_none, stock),
        "ours_vs_stock_pct": _reduction(ours, stock),
    }


async def run_ooda(
    policy: str, window: int, workdir: Path, registry_for: Callable[..., Any], prepare: Callable[[Any], Awaitable[None]], ids: Callable[[], Any]
) -> dict[str, Any]:
    """One OODA cycle with the scripted model, built as `run_ooda_cycle` builds it, with the
    benchmark's registry for `policy` (pruning kept or removed)."""
    import anyio.to_thread

    from agents.manager import build_manager
    from agents.runner import ooda_task
    from agents.scripted import ScriptedModel
    from callbacks.context import RunGroup
    from callbacks.tokens import tokens_of
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    folder = Path(tempfile.mkdtemp(prefix=f"ooda-{policy}-", dir=workdir))
    settings = Settings.from_env(
        {"DIONYSUS_DB_PATH": str(folder / "store.db"), "DIONYSUS_OUTBOX_PATH": str(folder / "outbox.db"), "AGENT_MEMORY_WINDOW": str(window)}
    )
    with ids():
        async with open_runtime(settings) as runtime:
            await prepare(runtime)
            group = RunGroup(runtime, "scripted")
            manager = build_manager(runtime, ScriptedModel, group, registry_for(policy, settings))
            await anyio.to_thread.run_sync(manager.run, ooda_task(OODA_CONTEXT))
    totals = tokens_of(group.contexts)
    return {"status": group.root.status if group.root else "not_run", "model_calls": totals.model_calls, "prompt_tokens": totals.prompt_tokens}


async def system_prompts(workdir: Path) -> dict[str, dict[str, int]]:
    """Tokens of each agent's system prompt: ours (with its one worked example) and smolagents' default."""
    from agents.base import GroupCodeAgent, GroupToolCallingAgent
    from agents.heartbeat import build_heartbeat
    from agents.manager import build_manager
    from agents.scripted import ScriptedModel
    from callbacks import default_registry
    from callbacks.context import RunGroup
    from callbacks.tokens import count_tokens
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    def build(runtime: Any, settings: Any) -> list[Any]:
        group = RunGroup(runtime, "scripted")
        manager = build_manager(runtime, ScriptedModel, group, default_registry(settings))
        heartbeat = build_heartbeat(runtime, ScriptedModel("heartbeat"), group, default_registry(settings))
        return [manager, heartbeat, *manager.managed_agents.values()]

    settings = Settings.from_env({"DIONYSUS_DB_PATH": str(Path(tempfile.mkdtemp(dir=workdir)) / "prompts.db")})
    out: dict[str, dict[str, int]] = {}
    async with open_runtime(settings) as runtime:
        for agent in build(runtime, settings):
            out[agent.name] = {"ours": count_tokens(agent.initialize_system_prompt())}
        saved = (GroupToolCallingAgent.default_templates, GroupCodeAgent.default_templates)
        GroupToolCallingAgent.default_templates = GroupCodeAgent.default_templates = None
        try:
            for agent in build(runtime, settings):
                out[agent.name]["stock"] = count_tokens(agent.initialize_system_prompt())
        finally:
            GroupToolCallingAgent.default_templates, GroupCodeAgent.default_templates = saved
    return out


async def measure(
    steps: int,
    window: int,
    heartbeat_totals: dict[str, int],
    run_policy: Callable[..., Awaitable[Any]],
    lever_off: Callable[[str], Any],
    registry_for: Callable[..., Any],
    prepare: Callable[[Any], Awaitable[None]],
    ids: Callable[[], Any],
) -> dict[str, Any]:
    """`heartbeat_totals`: the cumulative prompt tokens of the benchmark's `none` and `pruning`
    runs (our templates); the stock heartbeat and the three OODA cycles are run here."""
    with tempfile.TemporaryDirectory(prefix="dionysus-baselines-") as tmp:
        work = Path(tmp)
        with lever_off("default_prompts"):
            stock_heartbeat = await run_policy("none", steps, window, work)
            stock_ooda = await run_ooda("none", window, work, registry_for, prepare, ids)
        ours_none_ooda = await run_ooda("none", window, work, registry_for, prepare, ids)
        ours_ooda = await run_ooda("pruning", window, work, registry_for, prepare, ids)
        prompts = await system_prompts(work)
    stock_cumulative = sum(c.prompt_tokens for c in stock_heartbeat.calls)
    return {
        "heartbeat": {
            "steps": steps,
            "model_calls": len(stock_heartbeat.calls),
            **comparisons(stock_cumulative, heartbeat_totals["none"], heartbeat_totals["pruning"]),
        },
        "ooda_cycle": {
            "context": OODA_CONTEXT,
            "status": {"stock": stock_ooda["status"], "ours_none": ours_none_ooda["status"], "ours": ours_ooda["status"]},
            "model_calls": {"stock": stock_ooda["model_calls"], "ours_none": ours_none_ooda["model_calls"], "ours": ours_ooda["model_calls"]},
            **comparisons(stock_ooda["prompt_tokens"], ours_none_ooda["prompt_tokens"], ours_ooda["prompt_tokens"]),
        },
        "system_prompt_tokens": prompts,
    }


def print_baselines(baselines: dict[str, Any]) -> None:
    print("baselines (cumulative prompt tokens; stock = smolagents' default templates without pruning):")
    print(f"  {'run':<11} {'stock':>9} {'ours, unpruned':>15} {'ours':>9} {'pruning alone':>14} {'templates alone':>16} {'ours vs stock':>14}")
    for name in ("heartbeat", "ooda_cycle"):
        b = baselines[name]
        print(
            f"  {name:<11} {b['stock_prompt_tokens']:>9,} {b['ours_unpruned_prompt_tokens']:>15,} {b['ours_prompt_tokens']:>9,} "
            f"{b['pruning_alone_pct']:>13.1f}% {b['templates_alone_pct']:>15.1f}% {b['ours_vs_stock_pct']:>13.1f}%"
        )
    prompts = ", ".join(f"{name} {p['ours']} (stock {p['stock']})" for name, p in baselines["system_prompt_tokens"].items())
    print(f"  system prompts, tokens: {prompts}")
