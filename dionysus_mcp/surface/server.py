"""The MCP server: one `MCPServer` assembled from the tool areas (cognition, correcting and
forgetting, agents, traces).

Handlers are thin: validate, call one service, shape the result. Errors meant for the caller
become `ToolError`s with the service's message (surface/common.py): mcp 2.3 shows any other
exception only as "Error executing tool X".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer

from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import Runtime, open_runtime
from dionysus_mcp.surface import agent_tools, cognition_tools, manage_tools, prompts, resources, trace_tools
from dionysus_mcp.surface.subscriptions import Followers
from dionysus_mcp.surface.common import DionysusMCP
from dionysus_mcp.traces.retention import retained
from dionysus_mcp.surface.viewer import VIEWER_META, apps_extension

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
dionysus-mcp is a cognitive layer. Basins are themes with an activation that decays over time;
activate_basin and semantic_recall shape what is active; assess_coherence scores how
integrated the active world model is. remember / mosaeic_capture store memories, add_wisdom
stores principles; update_memory corrects a memory, and forget_memory, delete_basin,
delete_wisdom and delete_traces remove things for good. Agent runs (run_ooda_cycle,
run_heartbeat) are persisted as traces; with wait=false a run goes on in the background:
subscribe to its trace://{trace_id} to be told as steps land and when it ends, and cancel_run
stops it. Resources: basins://, basin://{name}, memory://{memory_id}, trace://{trace_id}."""


def build_server(runtime_factory: Callable[[], Any] | None = None, settings: Settings | None = None) -> MCPServer:
    """Build the server. The runtime is opened by the server's lifespan (so stdio start-up
    stays fast and a test can pass its own store); tools reach it through `state`."""
    state: dict[str, Runtime] = {}
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[dict]:
        factory = runtime_factory or (lambda: open_runtime(settings))
        async with factory() as runtime, retained(runtime.retention, runtime.settings.trace_retention_days), runtime.timers():
            state["runtime"] = runtime
            # Models load once the first request is answered or the server sits idle, never
            # beside a request (dionysus_mcp/warm_up.py).
            server.activity = runtime.warm_up
            runtime.warm_up.arm()
            # Runs started with wait=false live in this task group and end (cancelled) before
            # the runtime closes; subscribers hear of what changes while the server runs.
            async with followers.serving(runtime), background.serving():
                try:
                    yield {"runtime": runtime}
                finally:
                    server.activity = None
                    state.pop("runtime", None)

    log_level = settings.log_level
    server = DionysusMCP(
        "dionysus-mcp", instructions=INSTRUCTIONS, version=_version(), lifespan=lifespan, log_level=log_level,
        extensions=[apps_extension()],  # the trace viewer as an MCP App (ui://), for hosts that render them
    )

    def rt() -> Runtime:
        return state["runtime"]

    cognition_tools.register(server, rt)
    manage_tools.register(server, rt)
    background = agent_tools.register(server, rt, meta=VIEWER_META)
    trace_tools.register(server, rt, meta=VIEWER_META)
    resources.register(server, rt)
    followers = Followers(server)
    prompts.register(server, rt)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dionysus-mcp")
    except PackageNotFoundError:
        return "0.0.0"
