"""smolagents `Tool`s over the cognition services, called in process through `Runtime.call`.

Each tool returns a compact text observation: a headline line with the facts that matter most,
then one line per item, most important first, each item's main point in its first sentence.
Memory pruning (callbacks/memory.py) shortens old observations to the headline's first sentence
and the top item's first sentence, so that layout is what lets a pruned observation still say
what mattered.

A service error (bad input, unknown basin, store trouble) is raised as `ToolFailure` with a
message the model can act on; smolagents records it as the step's error and the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smolagents import Tool

from dionysus_mcp.errors import DionysusError
from dionysus_mcp.store.base import StoreError

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

CONTENT_CHARS = 800  # of a recalled memory shown in an observation (a paragraph); the rest stays in the store
TEXT_CHARS = 300


class ToolFailure(Exception):
    """A tool could not do what was asked; the message says why and what to try instead."""


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(level: float) -> str:
    return f"{level * 100:.1f}%"


class ServiceTool(Tool):
    """A tool bound to a runtime. Subclasses implement `observe(**arguments) -> str`."""

    output_type = "string"
    skip_forward_signature_validation = True  # forward takes **kwargs; `inputs` is the contract

    def __init__(self, runtime: "Runtime"):
        super().__init__()
        self.runtime = runtime

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.runtime.call(fn, *args, **kwargs)
        except DionysusError as exc:
            raise ToolFailure(f"{self.name} failed: {exc}") from exc
        except StoreError as exc:
            raise ToolFailure(f"{self.name} failed: the store is unavailable ({exc}); try again later") from exc

    def forward(self, **kwargs: Any) -> str:
        # Optional inputs the model left out arrive missing, not as None.
        arguments = {name: kwargs.get(name) for name in self.inputs}
        return self.observe(**{k: v for k, v in arguments.items() if v is not None})

    def observe(self, **kwargs: Any) -> str:
        raise NotImplementedError


class ObserveEnvironmentTool(ServiceTool):
    name = "observe_environment"
    description = (
        "Snapshot of the cognitive layer: basin and memory counts, the most active basins, the latest "
        "coherence, recent agent runs."
    )
    inputs: dict[str, dict[str, Any]] = {}

    def observe(self) -> str:
        env = self.call(self.runtime.environment.observe)
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(env.memories_by_kind.items())) or "none"
        active = ", ".join(f"{b.name} {b.activation:.2f}" for b in env.active_basins) or "none"
        coherence = (
            f"latest coherence {_pct(env.latest_coherence.consciousness_level)} ({env.latest_coherence.status})"
            if env.latest_coherence
            else "no coherence assessed yet"
        )
        lines = [
            f"Environment ({env.store}): {env.basin_count} basins, {env.memory_count} memories ({kinds}); "
            f"most active: {active}; {coherence}; {len(env.recent_runs)} recent runs."
        ]
        lines += [f"- run {r.agent_name} {r.status} ({r.model}) {r.trace_id}" for r in env.recent_runs]
        return "\n".join(lines)


class SemanticRecallTool(ServiceTool):
    name = "semantic_recall"
    description = (
        "Recall the stored memories most relevant to a query by words and meaning, weighted by importance, best "
        "first, with relevance in (0, 1] and their basins."
    )
    inputs = {
        "query": {"type": "string", "description": "Words or a sentence."},
        "k": {"type": "integer", "description": "How many memories, 1 to 20 (default 5).", "nullable": True},
    }

    def observe(self, query: str, k: int = 5) -> str:
        result = self.call(self.runtime.memory.semantic_recall, query, k)
        if not result.hits:
            return f"Recall {_one_line(query, 80)!r}: no memory matched (searched {result.searched})."
        basins = sorted({b for hit in result.hits for b in hit.basins})
        head = (
            f"Recall {_one_line(query, 80)!r}: {len(result.hits)} of {result.searched} memories; "
            f"basins: {', '.join(basins) or 'none'}"
        )
        items = [
            f"{i}. ({hit.relevance:.2f}) {_one_line(hit.content, CONTENT_CHARS)} "
            f"[{hit.kind}; basins: {', '.join(hit.basins) or 'none'}; {hit.memory_id}]"
            for i, hit in enumerate(result.hits, 1)
        ]
        return "\n".join([head, *items])


class MosaeicCaptureTool(ServiceTool):
    name = "mosaeic_capture"
    description = (
        "Store one experience through the MOSAEIC windows (senses, actions, emotions, impulses, "
        "cognitions) as an experiential memory attached to the basins it mentions. Give at least one window."
    )
    inputs = {
        "senses": {"type": "string", "description": "What is perceived.", "nullable": True},
        "actions": {"type": "string", "description": "What is being done.", "nullable": True},
        "emotions": {"type": "string", "description": "What is felt.", "nullable": True},
        "impulses": {"type": "string", "description": "What one is pulled to do.", "nullable": True},
        "cognitions": {"type": "string", "description": "What is thought.", "nullable": True},
        "context": {"type": "string", "description": "The situation.", "nullable": True},
    }

    def observe(self, **windows: str) -> str:
        result = self.call(self.runtime.mosaeic.capture, **windows)
        return (
            f"Captured MOSAEIC experience {result.memory_id} (windows: {', '.join(result.windows)}; "
            f"basins: {', '.join(result.basins) or 'none'})."
        )


class QueryWisdomTool(ServiceTool):
    name = "query_wisdom"
    description = "Find the strategic principles relevant to a topic, most relevant first."
    inputs = {
        "topic": {"type": "string", "description": "The topic or situation."},
        "k": {"type": "integer", "description": "How many principles, 1 to 10 (default 3).", "nullable": True},
    }

    def observe(self, topic: str, k: int = 3) -> str:
        result = self.call(self.runtime.wisdom.query_wisdom, topic, k)
        if not result.principles:
            return f"Wisdom for {_one_line(topic, 80)!r}: no principle matched."
        head = f"Wisdom for {_one_line(topic, 80)!r}: {len(result.principles)} principles"
        items = [
            f"{i}. ({p.relevance:.2f}) {_one_line(p.text, TEXT_CHARS)} [{p.domain}; confidence {p.confidence:.2f}]"
            for i, p in enumerate(result.principles, 1)
        ]
        return "\n".join([head, *items])


class ListBasinsTool(ServiceTool):
    name = "list_basins"
    description = "List attractor basins with their activation now, most active first."
    inputs = {
        "active_only": {"type": "boolean", "description": "Only basins active now (default false).", "nullable": True},
        "limit": {"type": "integer", "description": "At most this many, 1 to 50 (default 10).", "nullable": True},
    }

    def observe(self, active_only: bool = False, limit: int = 10) -> str:
        result = self.call(self.runtime.basins.list_basins, active_only, limit)
        which = "active basins" if active_only else "basins"
        if not result.basins:
            return f"Basins: no {which}."
        summary = ", ".join(f"{b.name} {b.activation:.2f}" for b in result.basins)
        head = f"Basins: {len(result.basins)} of {result.total} {which} (most active first): {summary}"
        items = [
            f"- {b.name}: activation {b.activation:.2f}, stability {b.stability:.2f}, depth {b.depth:.2f}; "
            f"keywords {', '.join(b.keywords) or 'none'}; {_one_line(b.description, 120) or 'no description'}"
            for b in result.basins
        ]
        return "\n".join([head, *items])


class AssessCoherenceTool(ServiceTool):
    name = "assess_coherence"
    description = (
        "Score how coherent the active world model is (IWMT-inspired), in [0, 1], from the "
        "integration, stability, focus, continuity and grounding of the active basins."
    )
    inputs: dict[str, dict[str, Any]] = {}

    def observe(self) -> str:
        a = self.call(self.runtime.coherence.assess_coherence)
        components = ", ".join(f"{k} {v:.2f}" for k, v in a.components.items())
        active = ", ".join(f"{b.name} {b.activation:.2f}" for b in a.active_basins) or "none"
        return f"Coherence {_pct(a.consciousness_level)} ({a.status}): {a.interpretation}\n- components: {components}\n- active: {active}"


class ActivateBasinTool(ServiceTool):
    name = "activate_basin"
    description = (
        "Activate a basin by name: its activation saturates toward 1, spreads to linked basins and "
        "strengthens links to basins already active."
    )
    inputs = {
        "basin": {"type": "string", "description": "Basin name (or id)."},
        "strength": {"type": "number", "description": "How strongly, in (0, 1] (default 0.5).", "nullable": True},
        "source": {"type": "string", "description": "What caused the activation.", "nullable": True},
    }

    def observe(self, basin: str, strength: float = 0.5, source: str | None = None) -> str:
        r = self.call(self.runtime.basins.activate_basin, basin, strength, source)
        spread = ", ".join(f"{s.name} {s.activation:.2f} (+{s.delta:.2f})" for s in r.spread) or "none"
        return (
            f"Activated {r.basin.name}: {r.previous_activation:.2f} -> {r.basin.activation:.2f}; "
            f"spread: {spread}; strengthened {len(r.strengthened_links)} links."
        )


class RememberTool(ServiceTool):
    name = "remember"
    description = "Store a memory; it attaches to the basins its words mention unless basins are named."
    inputs = {
        "content": {"type": "string", "description": "What to remember."},
        "kind": {"type": "string", "description": "semantic, episodic, procedural, ... (default semantic).", "nullable": True},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Short labels.", "nullable": True},
        "importance": {"type": "number", "description": "In [0, 1] (default 0.5).", "nullable": True},
    }

    def observe(self, content: str, kind: str = "semantic", tags: list[str] | None = None, importance: float = 0.5) -> str:
        r = self.call(self.runtime.memory.remember, content, kind, tags, importance)
        return f"Remembered {r.memory_id} ({r.kind}) in basins: {', '.join(r.basins) or 'none'}."


TOOLS: dict[str, type[ServiceTool]] = {
    cls.name: cls
    for cls in (
        ObserveEnvironmentTool,
        SemanticRecallTool,
        MosaeicCaptureTool,
        QueryWisdomTool,
        ListBasinsTool,
        AssessCoherenceTool,
        ActivateBasinTool,
        RememberTool,
    )
}


def make_tools(runtime: "Runtime", names: list[str]) -> list[Tool]:
    """Fresh tool instances for one agent (tools are per agent, agents are per run)."""
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tools {unknown}; known: {', '.join(TOOLS)}")
    return [TOOLS[name](runtime) for name in names]
