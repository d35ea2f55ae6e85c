"""MCP tools that run the agent team: run_ooda_cycle and run_heartbeat.

The agents themselves (and their heavy smolagents import) load on the first call, not at
server start-up. Each call builds fresh agents and runs them in a worker thread; progress is
reported per step, and a cancelled request interrupts its run.
"""


import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import WRITES, explained

if TYPE_CHECKING:
    from agents.background import BackgroundRuns

Wait = Annotated[bool, Field(description="false: start the run and return its trace_id at once; follow it with get_trace, stop it with cancel_run.")]


def _runner():
    """agents.runner, imported on first use. smolagents and its dependencies arrive then: freeze
    them out of the cyclic collector as Runtime.start does for what was imported before."""
    first = "agents.runner" not in sys.modules
    import agents.runner

    if first:
        gc.freeze()
    return agents.runner


def started(trace_id: str, model: str) -> dict[str, Any]:
    return {
        "trace_id": trace_id, "status": "running", "model": model,
        "follow": f"get_trace('{trace_id}') shows its progress; cancel_run('{trace_id}') stops it",
    }


def register(server: MCPServer, rt: Callable[[], Runtime], meta: dict[str, Any] | None = None) -> "BackgroundRuns":
    """Register the run tools; returns the server's background runs (to stop at shutdown).
    `meta` goes on the run tools (the trace viewer's MCP App)."""
    from agents.background import BackgroundRuns

    background = BackgroundRuns()

    # The results are plain objects (OodaResult / HeartbeatResult as JSON, or the started run):
    # mcp would wrap a union of models in {"result": …}.
    @server.tool(annotations=WRITES, meta=meta)
    @explained
    async def run_ooda_cycle(
        context: Annotated[str, Field(min_length=1, max_length=8000, description="The situation to observe, orient on and decide about.")],
        ctx: Context,
        max_steps: Annotated[int | None, Field(ge=1, le=50, description="The manager's step budget (default 15).")] = None,
        wait: Wait = True,
    ) -> dict[str, Any]:
        """Run one OODA cycle with the agent team: the ConsciousnessManager delegates Observe to
        perception, Orient to reasoning and Decide to metacognition. Returns the decision, the
        three phases, coherence, the model that ran, token usage and the run's trace_id. With
        wait=false returns {trace_id, status: running} at once and the run goes on."""
        runner = _runner()
        if wait:
            return (await runner.run_ooda_cycle(rt(), context, max_steps, progress=ctx.report_progress)).model_dump(mode="json")
        context, max_steps = runner.validate_context(context), runner.validate_max_steps(max_steps)
        model = runner.parse_model_spec(rt().settings.model).label
        run_id = background.new_run_id()
        await background.start(rt(), run_id, runner.run_ooda_cycle(rt(), context, max_steps, run_id=run_id))
        return started(run_id, model)

    @server.tool(annotations=WRITES, meta=meta)
    @explained
    async def run_heartbeat(ctx: Context, wait: Wait = True) -> dict[str, Any]:
        """Run the HeartbeatAgent: it observes, recalls, assesses coherence, reviews basins and
        remembers what matters, planning every third step. Returns a summary, step counts,
        activated basins, coherence, the model, token figures and the run's trace_id. With
        wait=false returns {trace_id, status: running} at once and the run goes on."""
        runner = _runner()
        if wait:
            return (await runner.run_heartbeat(rt(), progress=ctx.report_progress)).model_dump(mode="json")
        model = runner.parse_model_spec(rt().settings.model).label
        run_id = background.new_run_id()
        await background.start(rt(), run_id, runner.run_heartbeat(rt(), run_id=run_id))
        return started(run_id, model)

    @server.tool(annotations=WRITES)
    @explained
    async def cancel_run(
        trace_id: Annotated[str, Field(min_length=1, max_length=200, description="The trace_id a run tool returned.")],
    ) -> dict[str, Any]:
        """Cancel a run started with wait=false: its agents stop at their next step boundary and
        its trace closes as cancelled, keeping the steps it completed."""
        from agents.background import explain_not_cancellable

        if not await background.cancel(trace_id):
            raise await explain_not_cancellable(rt(), trace_id)
        trace = await rt().traces.get_trace(trace_id)
        return {"trace_id": trace_id, "status": trace.status, "step_count": trace.step_count}

    return background
