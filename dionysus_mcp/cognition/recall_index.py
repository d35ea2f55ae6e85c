"""The recall index: BM25 term statistics over every memory, kept in memory by MemoryService and
changed in place when memories are added, updated or forgotten by this process (a change by
another process shows in the store's revision, and the index is rebuilt)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from dionysus_mcp.cognition.text import tokens
from schema.models import Memory


@dataclass
class RecallIndex:
    """The BM25 index, in columns of plain values (strings, floats, tuples of strings, plain
    dicts): the garbage collector does not track those, whereas ~10 tracked objects per memory
    (a pydantic Memory, its dict, lists, MemoryBasins, a Counter) made every full collection
    of a server holding 10,000 memories take over 100 ms."""

    revision: str
    edits: int = 0
    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    tags: list[tuple[str, ...]] = field(default_factory=list)
    importance: list[float] = field(default_factory=list)
    created_at: list[datetime] = field(default_factory=list)
    basin_ids: list[tuple[str, ...]] = field(default_factory=list)
    term_freqs: list[dict[str, int]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    # A forgotten memory's slot stays (positions are referenced by postings) but is dead.
    alive: list[bool] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, revision: str, memories: list[Memory], edits: int = 0) -> "RecallIndex":
        index = cls(revision, edits)
        index.extend(revision, memories)
        return index

    def extend(self, revision: str, memories: list[Memory]) -> None:
        """Add memories at the end. Ranking never depends on a memory's position (ties are
        broken by created_at and id), so extending gives the same results as a rebuild."""
        for m in memories:
            tf = dict(Counter(tokens(m.content + " " + " ".join(m.tags))))
            i = len(self.ids)
            self.ids.append(m.id)
            self.kinds.append(m.kind)
            self.contents.append(m.content)
            self.tags.append(tuple(m.tags))
            self.importance.append(m.importance)
            self.created_at.append(m.created_at)
            self.basin_ids.append(tuple(b.basin_id for b in m.basins))
            self.term_freqs.append(tf)
            self.lengths.append(sum(tf.values()))
            for term in tf:
                self.postings.setdefault(term, []).append(i)
            self.known.add(m.id)
            self.alive.append(True)
            self.positions[m.id] = i
        self.revision = revision

    @property
    def live(self) -> int:
        return len(self.positions)

    def _unpost(self, i: int) -> None:
        for term in self.term_freqs[i]:
            self.postings[term].remove(i)
            if not self.postings[term]:
                del self.postings[term]

    def replace(self, m: Memory) -> bool:
        """Re-index one memory in place (an update); False when it is not indexed."""
        i = self.positions.get(m.id)
        if i is None:
            return False
        self._unpost(i)
        tf = dict(Counter(tokens(m.content + " " + " ".join(m.tags))))
        self.kinds[i], self.contents[i], self.tags[i] = m.kind, m.content, tuple(m.tags)
        self.importance[i], self.basin_ids[i] = m.importance, tuple(b.basin_id for b in m.basins)
        self.term_freqs[i], self.lengths[i] = tf, sum(tf.values())
        for term in tf:
            self.postings.setdefault(term, []).append(i)
        return True

    def remove(self, memory_id: str) -> bool:
        """Drop one memory (a deletion); False when it is not indexed."""
        i = self.positions.pop(memory_id, None)
        if i is None:
            return False
        self._unpost(i)
        self.alive[i] = False
        self.term_freqs[i], self.lengths[i] = {}, 0
        self.known.discard(memory_id)
        return True
