"""MCP tools that run the agent team: run_ooda_cycle and run_heartbeat.

The agents themselves (and their heavy smolagents import, ~1-3 s) load on the first call, not
at server start-up, and in a worker thread: importing on the event loop stalled every other
request for that long (scripts/benchmark_event_loop.py measures the worst stall). Each call builds fresh agents and runs them in a worker thread; progress is
reported per step, and a cancelled request interrupts its run.
"""


import gc
from collections.abc import Callable
from types import ModuleType
from typing import Annotated

import anyio.to_thread

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import WRITES, tool, whole


_agents: ModuleType | None = None


def _import_agents() -> ModuleType:
    """agents.runner, with smolagents and its dependencies; then freeze them out of the cyclic
    collector as Runtime.start does for what was imported before. Runs in a worker thread; a
    second caller meanwhile waits on Python's import lock until the module is complete."""
    import agents.runner

    gc.freeze()
    return agents.runner


async def _runner() -> ModuleType:
    global _agents
    if _agents is None:
        _agents = await anyio.to_thread.run_sync(_import_agents)
    return _agents


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    # The return annotations must be real classes for the outputSchema, so import the small
    # result module (pydantic only) here; the agents load lazily inside the tools.
    from agents.results import HeartbeatResult, OodaResult

    @tool(server, "Run an OODA cycle", WRITES)
    async def run_ooda_cycle(
        context: Annotated[str, Field(min_length=1, max_length=8000, description="The situation to observe, orient on and decide about.")],
        ctx: Context,
        max_steps: whole(optional=True, ge=1, le=50, description="The manager's step budget (default 15).") = None,
    ) -> OodaResult:
        """Run one OODA cycle with the agent team: the ConsciousnessManager delegates Observe to
        perception, Orient to reasoning and Decide to metacognition. Returns the decision, the
        three phases, coherence, the model that ran, token usage and the run's trace_id."""
        return await (await _runner()).run_ooda_cycle(rt(), context, max_steps, progress=ctx.report_progress)

    @tool(server, "Run a heartbeat", WRITES)
    async def run_heartbeat(ctx: Context) -> HeartbeatResult:
        """Run the HeartbeatAgent: it observes, recalls, assesses coherence, reviews basins and
        remembers what matters, planning every third step. Returns a summary, step counts,
        activated basins, coherence, the model, token figures and the run's trace_id."""
        return await (await _runner()).run_heartbeat(rt(), progress=ctx.report_progress)
