"""The cognition tools: basins, memory, coherence, environment, MOSAEIC and wisdom.

Each handler validates through its typed signature (pydantic `Field` limits appear in the
tool's inputSchema), calls one service and returns its pydantic result as structured output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from dionysus_mcp.cognition.basins import ActivationResult, BasinList, BasinView, LinkView
from dionysus_mcp.cognition.coherence import CoherenceAssessment
from dionysus_mcp.cognition.environment import EnvironmentSnapshot
from dionysus_mcp.cognition.memory import RecallResult, RememberResult
from dionysus_mcp.cognition.mosaeic import MosaeicResult
from dionysus_mcp.cognition.wisdom import WisdomResult, WisdomView
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import READ_ONLY, UPSERT, WRITES, number, tool, whole

Name = Annotated[str, Field(min_length=1, max_length=200, description="Basin name (or id).")]
Unit = number(ge=0.0, le=1.0)
Window = Annotated[str | None, Field(max_length=4000, description="One MOSAEIC window, in free text.")]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=30)]



def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @tool(server, "Assess coherence", WRITES)
    async def assess_coherence() -> CoherenceAssessment:
        """Score how coherent the active world model is (IWMT-inspired): integration, stability,
        focus, temporal continuity and grounding of the active basins, combined into
        consciousness_level in [0, 1]. Status 'insufficient_data' when no basin is active.
        Each call records a snapshot used for continuity."""
        return await rt().coherence.assess_coherence()

    @tool(server, "Activate a basin", WRITES)
    async def activate_basin(
        basin: Name,
        strength: number(gt=0.0, le=1.0, description="How strongly to activate, in (0, 1].") = 0.5,
        source: Annotated[str | None, Field(max_length=200, description="What caused the activation.")] = None,
    ) -> ActivationResult:
        """Activate a basin: its activation saturates toward 1, spreads one hop to related basins
        in proportion to link weight, and strengthens links to basins already active."""
        return await rt().basins.activate_basin(basin, strength, source)

    @tool(server, "Create or update a basin", UPSERT)
    async def upsert_basin(
        name: Annotated[str, Field(min_length=1, max_length=200, description="Unique basin name.")],
        description: Annotated[str | None, Field(max_length=5000, description="Left as it is when omitted.")] = None,
        keywords: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
            Field(max_length=50, description="Replace the keywords; left as they are when omitted."),
        ] = None,
        stability: number(optional=True, ge=0.0, le=1.0, description="How stable the theme is.") = None,
    ) -> BasinView:
        """Create a basin, or change the fields given of an existing one: description, keywords
        and stability you leave out keep their values (activation and history are always kept).
        Keywords and meaning attach memories to the basin."""
        return await rt().basins.upsert_basin(name, description, keywords, stability)

    @tool(server, "Link two basins", UPSERT)
    async def link_basins(
        source: Name, target: Name, weight: number(ge=0.0, le=1.0) = 0.5
    ) -> LinkView:
        """Set the weight of the RELATED_TO link from source to target (activation spreads along it)."""
        return await rt().basins.link_basins(source, target, weight)

    @tool(server, "List basins", READ_ONLY)
    async def list_basins(
        active_only: bool = False, limit: whole(ge=1, le=1000) = 50
    ) -> BasinList:
        """List basins with their activation now (after decay), most active first."""
        return await rt().basins.list_basins(active_only, limit)

    @tool(server, "Remember", WRITES)
    async def remember(
        content: Annotated[str, Field(min_length=1, max_length=20000)],
        kind: Annotated[str, Field(min_length=1, max_length=50, description="semantic, episodic, procedural, ...")] = "semantic",
        tags: Tags = [],  # noqa: B006
        importance: Unit = 0.5,
        basins: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=200)]] | None,
            Field(max_length=20, description="Basins to attach to; by default those the content is about (keywords or meaning)."),
        ] = None,
    ) -> RememberResult:
        """Store a memory and attach it to the basins it is about."""
        return await rt().memory.remember(content, kind, tags, importance, basins)

    @tool(server, "Recall memories", READ_ONLY)
    async def semantic_recall(
        query: Annotated[str, Field(min_length=1, max_length=2000)],
        k: whole(ge=1, le=100) = 5,
        kinds: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]] | None, Field(max_length=20)] = None,
    ) -> RecallResult:
        """Recall the memories most relevant to the query by words and meaning (BM25 fused with
        embedding similarity, weighted by importance), with the basins they touch."""
        return await rt().memory.semantic_recall(query, k, kinds)

    @tool(server, "Observe the environment", READ_ONLY)
    async def observe_environment() -> EnvironmentSnapshot:
        """A snapshot: time, the most active basins, the latest coherence, memory counts and the
        latest agent runs."""
        return await rt().environment.observe()

    @tool(server, "Capture an experience (MOSAEIC)", WRITES)
    async def mosaeic_capture(
        senses: Window = None,
        actions: Window = None,
        emotions: Window = None,
        impulses: Window = None,
        cognitions: Window = None,
        context: Window = None,
    ) -> MosaeicResult:
        """Capture an experience through the five MOSAEIC windows (give at least one); stored as
        an experiential memory attached to the basins it mentions."""
        return await rt().mosaeic.capture(senses, actions, emotions, impulses, cognitions, context)

    @tool(server, "Add a principle", WRITES)
    async def add_wisdom(
        text: Annotated[str, Field(min_length=1, max_length=5000)],
        domain: Annotated[str, Field(min_length=1, max_length=100)] = "general",
        confidence: Unit = 0.7,
    ) -> WisdomView:
        """Store a strategic principle."""
        return await rt().wisdom.add_wisdom(text, domain, confidence)

    @tool(server, "Query principles", READ_ONLY)
    async def query_wisdom(
        topic: Annotated[str, Field(min_length=1, max_length=2000)], k: whole(ge=1, le=50) = 3
    ) -> WisdomResult:
        """The principles most relevant to a topic."""
        return await rt().wisdom.query_wisdom(topic, k)
