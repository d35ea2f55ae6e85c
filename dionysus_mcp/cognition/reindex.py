"""Re-embedding memories whose vectors came from another model (or from none).

Vectors carry the model name that produced them, and recall compares only vectors of the
configured model: after DIONYSUS_EMBEDDER changes (or on a file written before vectors existed),
the memories without a current vector are found by words only until `dionysus-mcp reindex`
embeds them. It works in batches, each stored in one transaction, so an interrupted reindex
keeps what it did and a rerun continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from dionysus_mcp.cognition.embedding import Embedder
from dionysus_mcp.cognition.memory import embedding_text
from dionysus_mcp.store.base import Embedding, Memories

BATCH = 1_000


class ReindexResult(BaseModel):
    model: str
    dim: int
    embedded: int
    total: int


async def reindex(
    memories: Memories, embedder: Embedder, progress: Callable[[int, int], None] | None = None, batch: int = BATCH
) -> ReindexResult:
    counts = await memories.embedding_counts()
    total = sum(counts.values())
    todo = total - counts.get(embedder.name, 0)
    done = 0
    if embedder.dim:
        while True:
            batch_of = await memories.to_embed(embedder.name, batch)
            if not batch_of:
                break
            vectors = await embedder.embed_async([embedding_text(m.content, m.tags) for m in batch_of])
            # Only where the text is still the one embedded: an edit made meanwhile (by another
            # process too) has its own vector already, and a rerun finds what was skipped.
            written = await memories.set_embeddings(
                {m.id: Embedding(embedder.name, v) for m, v in zip(batch_of, vectors)},
                texts={m.id: (m.content, list(m.tags)) for m in batch_of},
            )
            done += written
            if not written:  # every one edited meanwhile, by writers of another model: a rerun
                break
            if progress:
                progress(done, max(todo, done))
    return ReindexResult(model=embedder.name, dim=embedder.dim, embedded=done, total=total)
