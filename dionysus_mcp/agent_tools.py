"""MCP tools that run the agent team: run_ooda_cycle and run_heartbeat."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from dionysus_mcp.runtime import Runtime


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    """Filled in by the agent-team work (agents/runner.py)."""
