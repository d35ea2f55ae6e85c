"""MCP prompts a person picks from a client's menu, and completion of their arguments and of
the resource templates' (basin names, memory ids, trace ids, agent names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import Completion, PromptReference, ResourceTemplateReference
from pydantic import Field

from dionysus_mcp.runtime import Runtime
from schema.models import TraceFilter

MAX_COMPLETIONS = 100  # the protocol's limit per answer


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @server.prompt(title="Reflect on a situation (OODA)")
    async def ooda_reflection(
        situation: Annotated[str, Field(description="What is going on, in your own words.")],
        focus_basin: Annotated[str | None, Field(description="A basin to center on (optional).")] = None,
    ) -> str:
        """Think a situation through Observe, Orient, Decide and Act with the memory server's tools."""
        active = [v.name for v in (await rt().basins.active())[:5]]
        focus = f" Start by activating the basin '{focus_basin}'." if focus_basin else ""
        now = f" Active basins right now: {', '.join(active)}." if active else " No basin is active right now."
        return (
            f"Here is a situation: {situation}\n\n"
            "Reflect on it in four steps, using the dionysus-mcp tools."
            f"{focus}{now}\n"
            "1. Observe: call observe_environment and semantic_recall with the key words of the situation.\n"
            "2. Orient: call query_wisdom on the theme and activate_basin for the basins it touches; then "
            "assess_coherence and say how integrated the picture is.\n"
            "3. Decide: propose one concrete next action and why, citing the memories and principles you used.\n"
            "4. Act: remember what you concluded (remember, kind 'episodic'), so the next reflection builds on it."
        )

    @server.prompt(title="Review recent agent runs")
    async def review_recent_runs(
        agent_name: Annotated[str | None, Field(description="Only this agent's runs (optional).")] = None,
    ) -> str:
        """Review the latest agent runs: outcomes, errors and token use, with what to change."""
        page = await rt().traces.list_traces(agent_name=agent_name, limit=10, roots_only=agent_name is None)
        if not page.traces:
            runs = "There are no stored runs yet" + (f" of agent '{agent_name}'" if agent_name else "") + "."
        else:
            runs = "\n".join(
                f"- {t.id}: {t.agent_name}, {t.status}, {t.step_count} steps, "
                f"{t.tokens.input_tokens + t.tokens.output_tokens} tokens, started {t.started_at:%Y-%m-%d %H:%M} UTC"
                for t in page.traces
            )
        return (
            f"These are the latest agent runs:\n{runs}\n\n"
            "Open the ones worth a closer look with get_trace or replay_trace, and get_token_usage for the totals. "
            "Then write a short review: what went well, what failed or ran out of steps and why, where tokens "
            "went, and one change to try next."
        )

    @server.prompt(title="Tidy a basin's memories")
    async def tidy_memories(basin: Annotated[str, Field(description="The basin whose memories to review.")]) -> str:
        """Review a basin's memories: merge duplicates, correct what is wrong, forget what is stale."""
        return (
            f"Read the resource basin://{basin} to see the basin '{basin}' and its memories. "
            "Find duplicates, outdated or wrong memories. Propose the changes first; once agreed, apply them "
            "with update_memory (correct content, tags or importance) and forget_memory (remove). "
            "Never forget a memory without saying which and why."
        )

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        candidates = await _candidates(rt(), ref, argument.name)
        if candidates is None:
            return None
        typed = (argument.value or "").lower()
        matches = [c for c in candidates if c.lower().startswith(typed)]
        return Completion(values=matches[:MAX_COMPLETIONS], total=len(matches), has_more=len(matches) > MAX_COMPLETIONS)


async def _candidates(runtime: Runtime, ref: Any, name: str) -> list[str] | None:
    kind: str | None = None
    if isinstance(ref, ResourceTemplateReference):
        kind = {
            ("basin://{name}", "name"): "basin",
            ("memory://{memory_id}", "memory_id"): "memory",
            ("trace://{trace_id}", "trace_id"): "trace",
            ("trace://{trace_id}/replay", "trace_id"): "trace",
        }.get((ref.uri, name))
    elif isinstance(ref, PromptReference):
        kind = {
            ("ooda_reflection", "focus_basin"): "basin",
            ("tidy_memories", "basin"): "basin",
            ("review_recent_runs", "agent_name"): "agent",
        }.get((ref.name, name))
    if kind == "basin":
        return [v.name for v in await runtime.basins.current()]  # most active first
    if kind == "memory":
        return [m.id for m in reversed(await runtime.store.memories.list())]  # newest first
    if kind == "trace":
        return [t.id for t in await runtime.store.traces.list(TraceFilter(), 500)]  # newest first
    if kind == "agent":
        return sorted({row["agent_name"] for row in await runtime.store.traces.token_totals(TraceFilter())})
    return None
