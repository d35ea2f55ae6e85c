"""MCP tools that run the agent team: run_ooda_cycle and run_heartbeat.

The agents themselves (and their heavy smolagents import) load on the first call, not at
server start-up. Each call builds fresh agents and runs them in a worker thread; progress is
reported per step, and a cancelled request interrupts its run.
"""


import gc
import sys
from collections.abc import Callable
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import WRITES, tool, whole


def _runner():
    """agents.runner, imported on first use. smolagents and its dependencies arrive then: freeze
    them out of the cyclic collector as Runtime.start does for what was imported before."""
    first = "agents.runner" not in sys.modules
    import agents.runner

    if first:
        gc.freeze()
    return agents.runner


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
        return await _runner().run_ooda_cycle(rt(), context, max_steps, progress=ctx.report_progress)

    @tool(server, "Run a heartbeat", WRITES)
    async def run_heartbeat(ctx: Context) -> HeartbeatResult:
        """Run the HeartbeatAgent: it observes, recalls, assesses coherence, reviews basins and
        remembers what matters, planning every third step. Returns a summary, step counts,
        activated basins, coherence, the model, token figures and the run's trace_id."""
        return await _runner().run_heartbeat(rt(), progress=ctx.report_progress)
