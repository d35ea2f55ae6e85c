"""The inputs of every cognition operation, one model each (the contract: dionysus_mcp/inputs.py).

The basin, memory, MOSAEIC and wisdom services read their limits from these models; the MCP
tools (surface/cognition_tools.py, surface/manage_tools.py) and the agents' tools
(agents/tools.py) take their parameters from them.
"""


from typing import Annotated, Any, ClassVar

from pydantic import Field

from dionysus_mcp.inputs import Operation, number, text, texts, whole

BASIN_NAME = 200
BasinName = Annotated[str, Field(min_length=1, max_length=BASIN_NAME, description="Basin name (or id).", examples=["focus"])]
Unit = number(ge=0.0, le=1.0)
MemoryId = Annotated[
    str, Field(min_length=1, max_length=200, description="A memory id (remember and semantic_recall return them).",
               examples=["mem-3f2a9c0d1e4b5a67"])
]
Kind = Annotated[str, Field(min_length=1, max_length=50, description="semantic, episodic, procedural, ...", examples=["semantic"])]
Tags = texts(100, max_length=30, description="Short labels.", examples=[["planning", "review"]])


def window(what: str) -> Any:
    return Annotated[str | None, Field(max_length=4000, description=f"One MOSAEIC window, in free text: {what}.")]


class AssessCoherence(Operation):
    """Score how coherent the active world model is (IWMT-inspired): integration, stability,
    focus, temporal continuity and grounding of the active basins, combined into
    consciousness_level in [0, 1]. Status 'insufficient_data' when no basin is active.
    Each call records a snapshot used for continuity."""

    tool: ClassVar[str] = "assess_coherence"
    title: ClassVar[str] = "Assess coherence"


class ActivateBasin(Operation):
    """Activate a basin: its activation saturates toward 1, spreads one hop to related basins
    in proportion to link weight, and strengthens links to basins already active."""

    tool: ClassVar[str] = "activate_basin"
    title: ClassVar[str] = "Activate a basin"
    basin: BasinName
    strength: number(gt=0.0, le=1.0, description="How strongly to activate, in (0, 1].", examples=[0.5]) = 0.5
    source: Annotated[str | None, Field(max_length=200, description="What caused the activation.")] = None


class UpsertBasin(Operation):
    """Create a basin, or change the fields given of an existing one: description, keywords
    and stability you leave out keep their values (activation and history are always kept).
    Keywords and meaning attach memories to the basin."""

    tool: ClassVar[str] = "upsert_basin"
    title: ClassVar[str] = "Create or update a basin"
    name: Annotated[str, Field(min_length=1, max_length=BASIN_NAME, description="Unique basin name.", examples=["focus"])]
    description: Annotated[str | None, Field(max_length=5000, description="Left as it is when omitted.")] = None
    keywords: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
        Field(max_length=50, description="Replace the keywords; left as they are when omitted.", examples=[["deep work", "attention"]]),
    ] = None
    stability: number(optional=True, ge=0.0, le=1.0, description="How stable the theme is.") = None


class LinkBasins(Operation):
    """Set the weight of the RELATED_TO link from source to target (activation spreads along it)."""

    tool: ClassVar[str] = "link_basins"
    title: ClassVar[str] = "Link two basins"
    source: BasinName
    target: BasinName
    weight: number(ge=0.0, le=1.0, description="Link weight in [0, 1].") = 0.5


class ListBasins(Operation):
    """List basins with their activation now (after decay), most active first."""

    tool: ClassVar[str] = "list_basins"
    title: ClassVar[str] = "List basins"
    active_only: Annotated[bool, Field(description="Only basins active now.")] = False
    limit: whole(ge=1, le=1000, description="At most this many basins.") = 50


class DeleteBasin(Operation):
    """Delete a basin with its links to other basins and its activations in agent runs. Its
    memories are kept, detached from it. Says how many links, attachments and activations
    went with it."""

    tool: ClassVar[str] = "delete_basin"
    title: ClassVar[str] = "Delete a basin"
    name: BasinName


class Remember(Operation):
    """Store a memory and attach it to the basins it is about."""

    tool: ClassVar[str] = "remember"
    title: ClassVar[str] = "Remember"
    content: text(max_length=20000, description="What to remember.", examples=["Reviews go faster with a checklist."])
    kind: Kind = "semantic"
    tags: Tags = []
    importance: number(ge=0.0, le=1.0, description="How much it matters, in [0, 1].") = 0.5
    basins: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=BASIN_NAME)]] | None,
        Field(max_length=20, description="Basins to attach to; by default those the content is about (keywords or meaning)."),
    ] = None


class UpdateMemory(Operation):
    """Change a memory: only the fields given change, the rest keep their values. Recall
    sees the new content at once."""

    tool: ClassVar[str] = "update_memory"
    title: ClassVar[str] = "Update a memory"
    memory_id: MemoryId
    content: Annotated[str | None, Field(min_length=1, max_length=20000, description="The new content.")] = None
    kind: Annotated[str | None, Field(min_length=1, max_length=50, description="The new kind.")] = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]] | None, Field(max_length=30, description="Replace the tags.")
    ] = None
    importance: number(optional=True, ge=0.0, le=1.0, description="The new importance, in [0, 1].") = None
    basins: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]] | None,
        Field(max_length=20, description="Replace the basins it is attached to ([] detaches it from all)."),
    ] = None


class ForgetMemory(Operation):
    """Delete a memory and its basin attachments for good."""

    tool: ClassVar[str] = "forget_memory"
    title: ClassVar[str] = "Forget a memory"
    memory_id: MemoryId


class SemanticRecall(Operation):
    """Recall the memories most relevant to the query by words and meaning (BM25 fused with
    embedding similarity, weighted by importance), with the basins they touch."""

    tool: ClassVar[str] = "semantic_recall"
    title: ClassVar[str] = "Recall memories"
    query: text(max_length=2000, description="Words or a sentence.", examples=["how do reviews go faster"])
    k: whole(ge=1, le=100, description="How many memories.") = 5
    kinds: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=50)]] | None,
        Field(max_length=20, description="Only memories of these kinds."),
    ] = None


class ObserveEnvironment(Operation):
    """A snapshot: time, the most active basins, the latest coherence, memory counts and the
    latest agent runs."""

    tool: ClassVar[str] = "observe_environment"
    title: ClassVar[str] = "Observe the environment"


class MosaeicCapture(Operation):
    """Capture an experience through the five MOSAEIC windows (give at least one); stored as
    an experiential memory attached to the basins it mentions."""

    tool: ClassVar[str] = "mosaeic_capture"
    title: ClassVar[str] = "Capture an experience (MOSAEIC)"
    senses: window("what is perceived") = None
    actions: window("what is being done") = None
    emotions: window("what is felt") = None
    impulses: window("what one is pulled to do") = None
    cognitions: window("what is thought") = None
    context: window("the situation") = None


class AddWisdom(Operation):
    """Store a strategic principle."""

    tool: ClassVar[str] = "add_wisdom"
    title: ClassVar[str] = "Add a principle"
    text: text(max_length=5000, description="The principle.", examples=["Ship the smallest change that teaches something."])
    domain: text(max_length=100, description="What it is about.") = "general"
    confidence: number(ge=0.0, le=1.0, description="How sure, in [0, 1].") = 0.7


class QueryWisdom(Operation):
    """The principles most relevant to a topic."""

    tool: ClassVar[str] = "query_wisdom"
    title: ClassVar[str] = "Query principles"
    topic: text(max_length=2000, description="The topic or situation.", examples=["planning a release"])
    k: whole(ge=1, le=50, description="How many principles.") = 3


class DeleteWisdom(Operation):
    """Delete a stored principle."""

    tool: ClassVar[str] = "delete_wisdom"
    title: ClassVar[str] = "Delete a principle"
    wisdom_id: Annotated[
        str, Field(min_length=1, max_length=200, description="A principle id (add_wisdom and query_wisdom return them).")
    ]
