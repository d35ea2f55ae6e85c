"""The cognition tools: basins, memory, coherence, environment, MOSAEIC and wisdom.

Each tool's parameters, title and description are its operation's input model
(dionysus_mcp/cognition/inputs.py); the handler calls one service and returns its pydantic
result as structured output.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from dionysus_mcp.cognition import inputs as op
from dionysus_mcp.cognition.basins import ActivationResult, BasinList, BasinView, LinkView
from dionysus_mcp.cognition.coherence import CoherenceAssessment
from dionysus_mcp.cognition.environment import EnvironmentSnapshot
from dionysus_mcp.cognition.memory import RecallResult, RememberResult
from dionysus_mcp.cognition.mosaeic import MosaeicResult
from dionysus_mcp.cognition.wisdom import WisdomResult, WisdomView
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import READ_ONLY, UPSERT, WRITES, operation_tool


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @operation_tool(server, op.AssessCoherence, WRITES)
    async def assess_coherence(args: op.AssessCoherence) -> CoherenceAssessment:
        return await rt().coherence.assess_coherence()

    @operation_tool(server, op.ActivateBasin, WRITES)
    async def activate_basin(args: op.ActivateBasin) -> ActivationResult:
        return await rt().basins.activate_basin(args.basin, args.strength, args.source)

    @operation_tool(server, op.UpsertBasin, UPSERT)
    async def upsert_basin(args: op.UpsertBasin) -> BasinView:
        return await rt().basins.upsert_basin(args.name, args.description, args.keywords, args.stability)

    @operation_tool(server, op.LinkBasins, UPSERT)
    async def link_basins(args: op.LinkBasins) -> LinkView:
        return await rt().basins.link_basins(args.source, args.target, args.weight)

    @operation_tool(server, op.ListBasins, READ_ONLY)
    async def list_basins(args: op.ListBasins) -> BasinList:
        return await rt().basins.list_basins(args.active_only, args.limit)

    @operation_tool(server, op.Remember, WRITES)
    async def remember(args: op.Remember) -> RememberResult:
        return await rt().memory.remember(args.content, args.kind, args.tags, args.importance, args.basins)

    @operation_tool(server, op.SemanticRecall, READ_ONLY)
    async def semantic_recall(args: op.SemanticRecall) -> RecallResult:
        return await rt().memory.semantic_recall(args.query, args.k, args.kinds)

    @operation_tool(server, op.ObserveEnvironment, READ_ONLY)
    async def observe_environment(args: op.ObserveEnvironment) -> EnvironmentSnapshot:
        return await rt().environment.observe()

    @operation_tool(server, op.MosaeicCapture, WRITES)
    async def mosaeic_capture(args: op.MosaeicCapture) -> MosaeicResult:
        return await rt().mosaeic.capture(args.senses, args.actions, args.emotions, args.impulses, args.cognitions, args.context)

    @operation_tool(server, op.AddWisdom, WRITES)
    async def add_wisdom(args: op.AddWisdom) -> WisdomView:
        return await rt().wisdom.add_wisdom(args.text, args.domain, args.confidence)

    @operation_tool(server, op.QueryWisdom, READ_ONLY)
    async def query_wisdom(args: op.QueryWisdom) -> WisdomResult:
        return await rt().wisdom.query_wisdom(args.topic, args.k)
