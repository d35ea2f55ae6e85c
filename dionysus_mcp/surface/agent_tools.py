"""MCP tools that run the agent team: run_ooda_cycle, run_heartbeat, and cancel_run.

The agents themselves (and their heavy smolagents import, seconds on a busy machine) load on the
first call, not at server start-up, and in a worker thread: importing on the event loop stalled every other
request for that long (scripts/benchmark_event_loop.py measures the worst stall). Each call builds fresh agents and runs them in a worker thread; progress is
reported per step, and a cancelled request interrupts its run. With `wait=false` a run goes on
in the background (agents/background.py) and the call returns its trace id at once, with the
resource to subscribe to (`trace://{id}`: notified as steps land and when it ends). `cancel_run`
stops a run from any process sharing the store: one of this process's at once, another's
through a cancel request its owner picks up within a second.
"""


import gc
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from agents.inputs import CancelRun, RunHeartbeat, RunOodaCycle
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import WRITES, operation_tool

if TYPE_CHECKING:
    from agents.background import BackgroundRuns

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


def started(trace_id: str, model: str) -> dict[str, Any]:
    return {
        "trace_id": trace_id, "status": "running", "model": model, "resource": f"trace://{trace_id}",
        "follow": (f"subscribe to trace://{trace_id} (resources/subscribe) to be notified as steps land and when it"
                   f" ends, or read get_trace('{trace_id}'); cancel_run('{trace_id}') stops it"),
    }


def cancelled(trace: Any) -> dict[str, Any]:
    """What a waited-for run answers when cancel_run (from any process) stopped it."""
    return {"trace_id": trace.id, "status": trace.status, "model": trace.model, "step_count": trace.step_count,
            "note": "stopped by cancel_run; the steps it completed are stored"}


def register(server: MCPServer, rt: Callable[[], Runtime], meta: dict[str, Any] | None = None) -> "BackgroundRuns":
    """Register the run tools; returns the server's background runs (to stop at shutdown).
    `meta` goes on the run tools (the trace viewer's MCP App)."""
    from agents.background import BackgroundRuns

    background = BackgroundRuns()

    # The results are plain objects (OodaResult / HeartbeatResult as JSON, or the started run):
    # mcp would wrap a union of models in {"result": …}.
    @operation_tool(server, RunOodaCycle, WRITES, meta)
    async def run_ooda_cycle(args: RunOodaCycle, ctx: Context) -> dict[str, Any]:
        runner = await _runner()
        run_id = background.new_run_id()
        if args.wait:
            # Awaited here, and cancellable by cancel_run (from any process) meanwhile.
            result, stopped = await background.run_here(
                rt(), run_id, runner.run_ooda_cycle(rt(), args.context, args.max_steps, progress=ctx.report_progress, run_id=run_id)
            )
            return cancelled(await rt().traces.get_trace(run_id)) if stopped else result.model_dump(mode="json")
        context, max_steps = runner.validate_context(args.context), runner.validate_max_steps(args.max_steps)
        model = runner.parse_model_spec(rt().settings.model).label
        await background.start(rt(), run_id, runner.run_ooda_cycle(rt(), context, max_steps, run_id=run_id))
        return started(run_id, model)

    @operation_tool(server, RunHeartbeat, WRITES, meta)
    async def run_heartbeat(args: RunHeartbeat, ctx: Context) -> dict[str, Any]:
        runner = await _runner()
        run_id = background.new_run_id()
        if args.wait:
            result, stopped = await background.run_here(rt(), run_id, runner.run_heartbeat(rt(), progress=ctx.report_progress, run_id=run_id))
            return cancelled(await rt().traces.get_trace(run_id)) if stopped else result.model_dump(mode="json")
        model = runner.parse_model_spec(rt().settings.model).label
        await background.start(rt(), run_id, runner.run_heartbeat(rt(), run_id=run_id))
        return started(run_id, model)

    @operation_tool(server, CancelRun, WRITES)
    async def cancel_run(args: CancelRun) -> dict[str, Any]:
        trace = await background.cancel_anywhere(rt(), args.trace_id.strip())
        return {"trace_id": trace.id, "status": trace.status, "step_count": trace.step_count}

    return background
