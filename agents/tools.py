"""smolagents `Tool`s over the cognition services, called in process through `Runtime.call`.

Each tool's `inputs` are derived from its operation's input model (cognition/inputs.py, the
one contract the MCP tool takes its parameters from too), and its arguments are validated
against that model: a refused argument is one line per field, phrased as MCP phrases it. A
tool may only lower a default where a shorter observation serves an agent better (`defaults`).

Each tool returns a compact text observation: a headline line with the facts that matter most,
then one line per item, most important first, each item's main point in its first sentence.
Memory pruning (callbacks/pruning.py) shortens old observations to the headline's first sentence
and the top item's first sentence, so that layout is what lets a pruned observation still say
what mattered.

A service error (bad input, unknown basin, store trouble) is raised as `ToolFailure` with a
message the model can act on; smolagents records it as the step's error and the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError
from smolagents import Tool

from dionysus_mcp.cognition import inputs as op
from dionysus_mcp.errors import DionysusError
from dionysus_mcp.inputs import Operation, argument_problems
from dionysus_mcp.store.base import StoreError

if TYPE_CHECKING:
    from dionysus_mcp.runtime import CancelFlag, Runtime

CONTENT_CHARS = 800  # of a recalled memory shown in an observation (a paragraph); the rest stays in the store
TEXT_CHARS = 300


class ToolFailure(Exception):
    """A tool could not do what was asked; the message says why and what to try instead."""


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(level: float) -> str:
    return f"{level * 100:.1f}%"


def _limits(prop: dict[str, Any]) -> str:
    """A number's range in words ("1 to 100", "in (0, 1]"). Lengths are left to the refusal
    message: every prompt of every agent carries these descriptions."""
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    if low is None or high is None:
        return f"{low:g} or more" if low is not None else ""
    if "exclusiveMinimum" in prop:
        return f"in ({low:g}, {high:g}]"
    return f"{low:g} to {high:g}" if prop.get("type") == "integer" else f"in [{low:g}, {high:g}]"


def smolagents_inputs(operation: type[Operation], defaults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """smolagents' `inputs` for an operation: each field's type, its description with its limits
    and default, and `nullable` when it may be left out."""
    properties = operation.model_json_schema()["properties"]
    out: dict[str, dict[str, Any]] = {}
    for name, info in operation.model_fields.items():
        prop = properties[name]
        kind = next(p for p in prop.get("anyOf", [prop]) if p.get("type") != "null")
        default = defaults.get(name, None if info.is_required() else info.get_default(call_default_factory=True))
        text = info.description or name
        text = text if text.endswith("...") else text.rstrip(".")
        notes = [_limits(kind)] if _limits(kind) and _limits(kind) not in text else []
        if default not in (None, []):
            notes.append(f"default {str(default).lower() if isinstance(default, bool) else default}")
        entry: dict[str, Any] = {"type": kind["type"], "description": f"{text} ({'; '.join(notes)})." if notes else f"{text}."}
        if kind["type"] == "array":
            entry["items"] = {"type": kind["items"]["type"]}
        if not info.is_required():
            entry["nullable"] = True
        out[name] = entry
    return out


class ServiceTool(Tool):
    """A tool bound to a runtime, over one operation. Subclasses set `operation` (and
    `description`: what the observation says) and implement `observe(args) -> str`."""

    operation: ClassVar[type[Operation]]
    defaults: ClassVar[dict[str, Any]] = {}  # an agent's default where it differs from the operation's
    output_type = "string"
    skip_forward_signature_validation = True  # forward takes **kwargs; `inputs` is the contract

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "operation" in cls.__dict__:
            cls.name = cls.operation.tool
            cls.inputs = smolagents_inputs(cls.operation, cls.defaults)
        super().__init_subclass__(**kwargs)

    def __init__(self, runtime: "Runtime", cancelled: "CancelFlag | None" = None):
        super().__init__()
        self.runtime = runtime
        self.cancelled = cancelled  # the run group's flag: a call waiting on the store ends with it

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self.cancelled is None:
                return self.runtime.call(fn, *args, **kwargs)
            return self.runtime.call_unless(self.cancelled, fn, *args, **kwargs)
        except DionysusError as exc:
            raise ToolFailure(f"{self.name} failed: {exc}") from exc
        except StoreError as exc:
            raise ToolFailure(f"{self.name} failed: the store is unavailable ({exc}); try again later") from exc

    def forward(self, **kwargs: Any) -> str:
        # Optional inputs the model left out arrive missing, not as None; arguments the
        # operation does not have are ignored (as smolagents' own tools do).
        given = {name: kwargs[name] for name in self.inputs if kwargs.get(name) is not None}
        try:
            args = self.operation.model_validate({**self.defaults, **given})
        except ValidationError as exc:
            raise ToolFailure(f"{self.name} failed: {argument_problems(exc)}") from None
        return self.observe(args)

    def observe(self, args: Any) -> str:
        raise NotImplementedError


class ObserveEnvironmentTool(ServiceTool):
    operation = op.ObserveEnvironment
    description = (
        "Snapshot of the cognitive layer: basin and memory counts, the most active basins, the latest "
        "coherence, recent agent runs."
    )

    def observe(self, args: op.ObserveEnvironment) -> str:
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
    operation = op.SemanticRecall
    description = (
        "Recall the stored memories most relevant to a query by words and meaning, weighted by importance, best "
        "first, with relevance in (0, 1] and their basins."
    )

    def observe(self, args: op.SemanticRecall) -> str:
        query = args.query
        result = self.call(self.runtime.memory.semantic_recall, query, args.k, args.kinds)
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
    operation = op.MosaeicCapture
    description = (
        "Store one experience through the MOSAEIC windows (senses, actions, emotions, impulses, "
        "cognitions) as an experiential memory attached to the basins it mentions. Give at least one window."
    )

    def observe(self, args: op.MosaeicCapture) -> str:
        result = self.call(self.runtime.mosaeic.capture, **args.model_dump(exclude_none=True))
        return (
            f"Captured MOSAEIC experience {result.memory_id} (windows: {', '.join(result.windows)}; "
            f"basins: {', '.join(result.basins) or 'none'})."
        )


class QueryWisdomTool(ServiceTool):
    operation = op.QueryWisdom
    description = "Find the strategic principles relevant to a topic, most relevant first."

    def observe(self, args: op.QueryWisdom) -> str:
        topic = args.topic
        result = self.call(self.runtime.wisdom.query_wisdom, topic, args.k)
        if not result.principles:
            return f"Wisdom for {_one_line(topic, 80)!r}: no principle matched."
        head = f"Wisdom for {_one_line(topic, 80)!r}: {len(result.principles)} principles"
        items = [
            f"{i}. ({p.relevance:.2f}) {_one_line(p.text, TEXT_CHARS)} [{p.domain}; confidence {p.confidence:.2f}]"
            for i, p in enumerate(result.principles, 1)
        ]
        return "\n".join([head, *items])


class ListBasinsTool(ServiceTool):
    operation = op.ListBasins
    description = "List attractor basins with their activation now, most active first."
    defaults: ClassVar[dict[str, Any]] = {"limit": 10}  # a shorter observation than MCP's 50

    def observe(self, args: op.ListBasins) -> str:
        active_only = args.active_only
        result = self.call(self.runtime.basins.list_basins, active_only, args.limit)
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
    operation = op.AssessCoherence
    description = (
        "Score how coherent the active world model is (IWMT-inspired), in [0, 1], from the "
        "integration, stability, focus, continuity and grounding of the active basins."
    )

    def observe(self, args: op.AssessCoherence) -> str:
        a = self.call(self.runtime.coherence.assess_coherence)
        components = ", ".join(f"{k} {v:.2f}" for k, v in a.components.items())
        active = ", ".join(f"{b.name} {b.activation:.2f}" for b in a.active_basins) or "none"
        return f"Coherence {_pct(a.consciousness_level)} ({a.status}): {a.interpretation}\n- components: {components}\n- active: {active}"


class ActivateBasinTool(ServiceTool):
    operation = op.ActivateBasin
    description = (
        "Activate a basin by name: its activation saturates toward 1, spreads to linked basins and "
        "strengthens links to basins already active."
    )

    def observe(self, args: op.ActivateBasin) -> str:
        r = self.call(self.runtime.basins.activate_basin, args.basin, args.strength, args.source)
        spread = ", ".join(f"{s.name} {s.activation:.2f} (+{s.delta:.2f})" for s in r.spread) or "none"
        return (
            f"Activated {r.basin.name}: {r.previous_activation:.2f} -> {r.basin.activation:.2f}; "
            f"spread: {spread}; strengthened {len(r.strengthened_links)} links."
        )


class RememberTool(ServiceTool):
    operation = op.Remember
    description = "Store a memory; it attaches to the basins its words mention unless basins are named."

    def observe(self, args: op.Remember) -> str:
        r = self.call(self.runtime.memory.remember, args.content, args.kind, args.tags, args.importance, args.basins)
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


def make_tools(runtime: "Runtime", names: list[str], cancelled: "CancelFlag | None" = None) -> list[Tool]:
    """Fresh tool instances for one agent (tools are per agent, agents are per run); `cancelled`:
    the run's flag, which ends a call still waiting on the store."""
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tools {unknown}; known: {', '.join(TOOLS)}")
    return [TOOLS[name](runtime, cancelled) for name in names]
