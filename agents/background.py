"""Runs started now and read later: `run_ooda_cycle` / `run_heartbeat` with `wait=false`.

With a real model an OODA cycle takes minutes, longer than clients wait for one tool call. A
background run is an asyncio task on the server's event loop (the agents themselves run in a
worker thread, as always); the caller gets the run's trace id at once and follows it with
`get_trace`, whose step count grows as steps are stored. `cancel` cancels the task: the runner
stops the agents at their next step boundary and the trace closes as `cancelled`. `stop` (the
server shutting down) cancels every run still going, so none is left `running`; a run that
does not stop in time is marked `interrupted` when the runtime closes
(dionysus_mcp/traces/lifecycle.py).

The MCP Tasks extension (`io.modelcontextprotocol/tasks`) would be the protocol's own way to
do this; the mcp 2.3 SDK does not ship it (only `mcp.server.apps`), so `wait=false` it is.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from dionysus_mcp.errors import DionysusError, InvalidInput, NotFound

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)

STARTED_WAIT_S = 30.0  # how long `start` waits for the run's trace to be stored
STOP_WAIT_S = 45.0  # a cancelled run gets this long to reach a step boundary (runner: 30 s)


class BackgroundRuns:
    """The background runs of one server, by root trace id."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}

    @staticmethod
    def new_run_id() -> str:
        # The format of callbacks.context.new_id, not imported from there: this module loads
        # with the server, and callbacks pull in smolagents (kept off start-up).
        return f"run-{uuid.uuid4().hex[:16]}"

    async def start(self, runtime: "Runtime", run_id: str, run: Coroutine[Any, Any, Any]) -> str:
        """Start `run` (a runner call made with `run_id`) and return once its trace is stored,
        so the id can be read at once; an error before that is raised here."""
        task = asyncio.get_running_loop().create_task(self._guard(run_id, run), name=f"dionysus-run-{run_id}")
        self._tasks[run_id] = task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTED_WAIT_S
        while await runtime.store.traces.get(run_id) is None:
            if task.done():
                task.result()  # re-raises what stopped the run before its trace was written
                break
            if loop.time() > deadline:
                log.warning("background run %s: its trace is not stored yet; returning its id anyway", run_id)
                break
            await asyncio.sleep(0.01)
        return run_id

    async def _guard(self, run_id: str, run: Coroutine[Any, Any, Any]) -> None:
        try:
            await run
        except asyncio.CancelledError:
            log.info("background run %s cancelled", run_id)
        except DionysusError as exc:  # the trace holds the error; nobody awaits this task
            log.warning("background run %s failed: %s", run_id, exc)
        except Exception:
            log.exception("background run %s failed", run_id)
        finally:
            self._tasks.pop(run_id, None)

    def is_running(self, run_id: str) -> bool:
        return run_id in self._tasks

    async def cancel(self, run_id: str) -> bool:
        """Cancel a background run and wait for it to stop; False when it is not one of ours."""
        task = self._tasks.get(run_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_WAIT_S)
        return True

    async def stop(self) -> None:
        """The server is stopping: cancel every background run, wait for them to close."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            log.info("stopping %d background run(s)", len(tasks))
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)


async def explain_not_cancellable(runtime: "Runtime", trace_id: str) -> DionysusError:
    """Why `cancel_run(trace_id)` cannot cancel: the error to give the caller."""
    trace = await runtime.store.traces.get(trace_id)
    if trace is None:
        return NotFound(f"Unknown run {trace_id!r}: list_traces shows the stored runs")
    if trace.status != "running":
        return InvalidInput(f"run {trace_id!r} has already ended ({trace.status}): nothing to cancel")
    if trace.parent_id:
        return InvalidInput(f"{trace_id!r} is a delegated sub-run: cancel its root run {trace.parent_id!r}")
    return InvalidInput(
        f"run {trace_id!r} was not started here with wait=false: cancel the tools/call request that started "
        "it, or the server process that runs it"
    )
