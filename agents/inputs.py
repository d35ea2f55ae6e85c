"""The inputs of the run operations, one model each (the contract: dionysus_mcp/inputs.py).

agents/runner.py reads its limits from them; the MCP run tools (surface/agent_tools.py) take
their parameters from them. Light on purpose: the MCP server imports it at start, smolagents
loads only with the first run.
"""

from typing import Annotated, ClassVar

from pydantic import Field

from dionysus_mcp.inputs import Operation, whole

Wait = Annotated[
    bool,
    Field(description="false: start the run and return its trace_id at once; follow it by subscribing to trace://{trace_id} (or with get_trace), stop it with cancel_run."),
]


class RunOodaCycle(Operation):
    """Run one OODA cycle with the agent team: the ConsciousnessManager delegates Observe to
    perception, Orient to reasoning and Decide to metacognition. Returns the decision, the
    three phases, coherence, the model that ran, token usage and the run's trace_id. With
    wait=false returns {trace_id, status: running} at once and the run goes on."""

    tool: ClassVar[str] = "run_ooda_cycle"
    title: ClassVar[str] = "Run an OODA cycle"
    context: Annotated[
        str, Field(min_length=1, max_length=8000, description="The situation to observe, orient on and decide about.",
                   examples=["The release is Friday and two reviews are still open."])
    ]
    max_steps: whole(optional=True, ge=1, le=50, description="The manager's step budget (default 15).") = None
    wait: Wait = True


class RunHeartbeat(Operation):
    """Run the HeartbeatAgent: it observes, recalls, assesses coherence, reviews basins and
    remembers what matters, planning every third step. Returns a summary, step counts,
    activated basins, coherence, the model, token figures and the run's trace_id. With
    wait=false returns {trace_id, status: running} at once and the run goes on."""

    tool: ClassVar[str] = "run_heartbeat"
    title: ClassVar[str] = "Run a heartbeat"
    wait: Wait = True


class CancelRun(Operation):
    """Cancel a running agent run (one started with wait=false, or one another client is
    waiting for), whichever server process sharing this store runs it: its agents stop at
    their next step boundary and its trace closes as cancelled, keeping the steps it
    completed. Returns the run's status once it has stopped."""

    tool: ClassVar[str] = "cancel_run"
    title: ClassVar[str] = "Cancel a run"
    trace_id: Annotated[str, Field(min_length=1, max_length=200, description="The trace_id a run tool returned.")]
